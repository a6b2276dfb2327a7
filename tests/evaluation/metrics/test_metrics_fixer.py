"""FixerNet similarity with a configured (stand-in) encoder."""

from __future__ import annotations

import pytest

from reliableswap.evaluation.metrics import FixerSimilarity, build_metric, node_of
from tests.evaluation.metrics.conftest import MeanColour, images, swap_batch


def test_fixer_similarity_with_a_configured_encoder() -> None:
    m = build_metric(node_of(FixerSimilarity, encoder=MeanColour()))
    m.update(swap_batch([0, 1], [1, 0], images([0, 1])))
    r = m.compute()
    assert r.values["cosine_to_source"] == pytest.approx(1.0)
    assert (r.metric, r.backend, r.backend_info) == ("fixer_similarity", "fixernet", {"backend": "fixernet", "encoder": "mean_colour"})
