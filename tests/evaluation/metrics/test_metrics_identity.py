"""Identity retrieval: the arithmetic of ranking and similarity, with a cheap stand-in judge."""

from __future__ import annotations

import pytest

from reliableswap.evaluation.metrics import EncoderIdRetrieval, build_metric, id_retrieval_node, node_of
from reliableswap.evaluation.metrics.identity import CosFaceIdRetrieval, DlibIdRetrieval
from tests.evaluation.metrics.conftest import MeanColour, images, swap_batch


def test_id_retrieval_ranks_source_identities() -> None:
    src, tgt = [0, 1, 2, 3], [1, 2, 3, 0]
    good = build_metric(node_of(EncoderIdRetrieval, encoder=MeanColour()))
    good.update(swap_batch(src, tgt, images(src)))
    r = good.compute()
    assert r.status == "ok" and r.values["top1"] == 1.0 and r.values["cosine_to_source"] == pytest.approx(1.0)
    assert r.values["num_identities"] == 4 and r.values["chance_top1"] == 0.25
    assert r.metric == "id_retrieval" and r.backend == "encoder"
    assert r.backend_info == {"backend": "encoder", "encoder": "mean_colour", "distance": "cosine"}
    bad = build_metric(node_of(EncoderIdRetrieval, encoder=MeanColour()))
    bad.update(swap_batch(src, tgt, images(tgt)))  # copy target: always another identity
    r = bad.compute()
    assert r.values["top1"] == 0.0 and r.values["top5"] == 1.0 and r.values["cosine_to_source"] < 0.99
    assert r.num_samples == 4
    assert list(r.values)[:3] == ["top1", "top5", "cosine_to_source"]  # report order unchanged


def test_id_retrieval_gallery_counts_each_source_once() -> None:
    m = EncoderIdRetrieval(encoder=MeanColour())
    m.update(swap_batch([0, 0, 1], [1, 2, 0], images([0, 0, 1])))
    m.update(swap_batch([0, 1], [2, 2], images([0, 1])))
    assert len(m._gallery) == 2 and m.compute().values["num_identities"] == 2


def test_distance_to_references_reuses_the_swap_descriptors() -> None:
    m = EncoderIdRetrieval(encoder=MeanColour())
    m.update(swap_batch([0, 1], [1, 0], images([0, 1])))
    assert m.distance_to(images([0, 1])) == pytest.approx(0.0, abs=1e-6)
    assert m.distance_to(images([1, 0])) > 0.01
    with pytest.raises(ValueError, match="references"):
        m.distance_to(images([0]))


def test_no_samples_is_skipped_not_zero() -> None:
    r = EncoderIdRetrieval(encoder=MeanColour()).compute()
    assert r.status == "skipped" and r.note == "no samples" and not r.values


def test_short_judge_names_map_to_retrieval_classes() -> None:
    """The health monitor's ``judge`` option: a name, a {backend, **options} mapping, or a node."""
    assert id_retrieval_node("dlib", topk=[1]) == node_of(DlibIdRetrieval, topk=[1])
    assert id_retrieval_node("cosface") == node_of(CosFaceIdRetrieval)
    enc = MeanColour()
    assert id_retrieval_node({"backend": "encoder", "encoder": enc}) == node_of(EncoderIdRetrieval, encoder=enc)
    assert id_retrieval_node(node_of(DlibIdRetrieval), topk=[1]) == node_of(DlibIdRetrieval, topk=[1])
    with pytest.raises(ValueError, match="known: dlib, cosface, encoder"):
        id_retrieval_node("nope")
