"""Building metrics from ``_target_`` nodes: config errors raise, unavailable backends are skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliableswap.evaluation.metrics import (
    FID,
    KID,
    EncoderIdRetrieval,
    FixerSimilarity,
    PoseError,
    SkippedMetric,
    build_metric,
    build_metrics,
    node_of,
)
from tests.evaluation.metrics.conftest import images, swap_batch


def test_config_errors_raise_with_the_entry_named() -> None:
    with pytest.raises(ValueError, match="unknown _target_"):
        build_metric({"_target_": "reliableswap.evaluation.metrics.pose.NopePoseError"})
    with pytest.raises(ValueError, match="no _target_"):
        build_metric({"name": "pose_error", "backend": "3ddfa"})  # the old string switch is gone
    with pytest.raises(ValueError, match="is not a Metric"):
        build_metric({"_target_": "torch.nn.Flatten"})
    with pytest.raises(TypeError):  # an option the class does not take (no backend switch left)
        build_metric(node_of(FixerSimilarity, encoder=None, backend="nope"))
    with pytest.raises(TypeError):  # a family base class is not a backend
        build_metric(node_of(PoseError))


def test_unavailable_backends_are_reported_not_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELIABLESWAP_WEIGHT_INCEPTION_FID", str(tmp_path / "inception.pth"))
    metrics = build_metrics([node_of(FID), "reliableswap.evaluation.metrics.distribution.KID",
                             node_of(FixerSimilarity, encoder=None), node_of(EncoderIdRetrieval)])
    assert all(isinstance(m, SkippedMetric) for m in metrics)
    for m in metrics:
        m.update(swap_batch([0], [1], images([0])))
    results = [m.compute() for m in metrics]
    assert [r.status for r in results] == ["skipped"] * 4
    assert [(r.metric, r.backend) for r in results] == [("fid", "inception"), (KID.name, "inception"),
                                                        ("fixer_similarity", "fixernet"), ("id_retrieval", "encoder")]
    assert results[0].note.startswith(f"missing {tmp_path / 'inception.pth'}")
    assert "not configured" in results[2].note and results[2].num_samples == 1
