"""Metric registry and the arithmetic of each metric, with cheap stand-in judges."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from reliableswap.evaluation.fid import FIDInception, frechet_distance, kernel_inception_distance
from reliableswap.evaluation.metrics import METRICS, SkippedMetric, SwapBatch, build_metric, build_metrics


class MeanColour(nn.Module):
    """Toy identity encoder: the mean RGB colour (faces of one 'person' share a colour)."""

    name = "mean_colour"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3)) + 2.0  # keep away from 0 so cosine is defined


COLOURS = torch.tensor([[1, -1, -1], [-1, 1, -1], [-1, -1, 1], [1, 1, -1]], dtype=torch.float32)


def _images(colour_idx: list[int]) -> torch.Tensor:
    return COLOURS[colour_idx][:, :, None, None].expand(-1, 3, 8, 8).clone()


def _batch(src: list[int], tgt: list[int], swap: torch.Tensor) -> SwapBatch:
    return SwapBatch(_images(src), _images(tgt), swap, [f"id{i}" for i in src], [f"id{i}" for i in tgt],
                     [f"s{i}" for i in src], [f"t{i}" for i in tgt])


def test_registry_lists_every_metric() -> None:
    assert {"id_retrieval", "pose_error", "expression_error", "fixer_similarity", "fid", "kid"} <= set(METRICS)
    with pytest.raises(KeyError, match="known"):
        build_metric("nope")
    with pytest.raises(ValueError, match="no backend"):
        build_metric("pose_error", backend="nope")


def test_id_retrieval_ranks_source_identities() -> None:
    src, tgt = [0, 1, 2, 3], [1, 2, 3, 0]
    good = build_metric("id_retrieval", backend="encoder", encoder=MeanColour())
    good.update(_batch(src, tgt, _images(src)))
    r = good.compute()
    assert r.status == "ok" and r.values["top1"] == 1.0 and r.values["cosine_to_source"] == pytest.approx(1.0)
    assert r.values["num_identities"] == 4 and r.values["chance_top1"] == 0.25
    bad = build_metric("id_retrieval", backend="encoder", encoder=MeanColour())
    bad.update(_batch(src, tgt, _images(tgt)))  # copy target: always another identity
    r = bad.compute()
    assert r.values["top1"] == 0.0 and r.values["top5"] == 1.0 and r.values["cosine_to_source"] < 0.99
    assert r.num_samples == 4


def test_id_retrieval_gallery_counts_each_source_once() -> None:
    m = build_metric("id_retrieval", backend="encoder", encoder=MeanColour())
    m.update(_batch([0, 0, 1], [1, 2, 0], _images([0, 0, 1])))
    m.update(_batch([0, 1], [2, 2], _images([0, 1])))
    assert len(m._gallery) == 2 and m.compute().values["num_identities"] == 2


def test_unavailable_backends_are_reported_not_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELIABLESWAP_WEIGHT_INCEPTION_FID", str(tmp_path / "inception.pth"))
    metrics = build_metrics([{"name": "fid"}, "kid", {"name": "fixer_similarity", "encoder": None},
                             {"name": "id_retrieval", "backend": "encoder"}])
    assert all(isinstance(m, SkippedMetric) for m in metrics)
    for m in metrics:
        m.update(_batch([0], [1], _images([0])))
    results = [m.compute() for m in metrics]
    assert [r.status for r in results] == ["skipped"] * 4
    assert results[0].note.startswith(f"missing {tmp_path / 'inception.pth'}")
    assert "not configured" in results[2].note and results[2].num_samples == 1


def test_fixer_similarity_with_a_configured_encoder() -> None:
    m = build_metric("fixer_similarity", encoder=MeanColour())
    m.update(_batch([0, 1], [1, 0], _images([0, 1])))
    assert m.compute().values["cosine_to_source"] == pytest.approx(1.0)


def test_frechet_distance_and_kid() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 4))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    # equal covariances: FID = |mu1 - mu2|^2
    assert frechet_distance(a, a + 2.0) == pytest.approx(16.0, rel=1e-6)
    b = rng.normal(size=(400, 4))
    kid_same, _ = kernel_inception_distance(a, b, num_subsets=10, subset_size=200)
    kid_far, _ = kernel_inception_distance(a, b + 1.0, num_subsets=10, subset_size=200)
    assert abs(kid_same) < 0.05 < kid_far


def test_fid_inception_layout_gives_pool3_features() -> None:
    net = FIDInception(pretrained=False)
    assert net.net.fc.out_features == 1008 and net.net.AuxLogits is None
    assert net(torch.zeros(1, 3, 64, 64)).shape == (1, 2048)
