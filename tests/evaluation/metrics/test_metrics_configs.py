"""Every ``_target_`` node of ``configs/eval/*.yaml`` builds: its class, or ``skipped`` with a reason.

Composed through ``configs/test.yaml`` as ``python test.py eval=<protocol>`` does, so the
interpolations (``${eval.input}``, ``${paths...}``) resolve as in a real run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import get_class

from reliableswap.config import register_resolvers
from reliableswap.evaluation.metrics import Metric, SkippedMetric, build_metric
from reliableswap.evaluation.protocols import FaceForensicsProtocol, FolderProtocol, Protocol, build_protocol

CONFIGS = Path(__file__).resolve().parents[3] / "configs"
PROTOCOLS = sorted(p.stem for p in (CONFIGS / "eval").glob("*.yaml"))


def _compose(overrides: list[str]):
    register_resolvers()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose(config_name="test", overrides=overrides)


def _metric_nodes() -> list[tuple[str, int]]:
    return [(name, i) for name in PROTOCOLS for i in range(len(_compose([f"eval={name}"]).eval.metrics))]


def test_every_protocol_config_is_covered() -> None:
    assert {"folder", "faceforensics"} <= set(PROTOCOLS)


@pytest.mark.parametrize("protocol,index", _metric_nodes())
def test_metric_node_instantiates_or_is_skipped_with_a_reason(protocol: str, index: int) -> None:
    node = _compose([f"eval={protocol}"]).eval.metrics[index]
    cls = get_class(node._target_)
    assert issubclass(cls, Metric) and cls.name and cls.backend
    metric = build_metric(node)
    if isinstance(metric, SkippedMetric):  # weights / optional package / encoder not configured here
        assert metric.reason and (metric.name, metric.backend) == (cls.name, cls.backend)
    else:
        assert isinstance(metric, cls)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_protocol_node_names_a_protocol_class(protocol: str) -> None:
    node = _compose([f"eval={protocol}"]).eval.protocol
    assert issubclass(get_class(node._target_), Protocol)


def test_folder_protocol_node_reads_the_command_line_keys(celeba_images: Path) -> None:
    cfg = _compose(["eval=folder", f"eval.input={celeba_images}", "eval.num_pairs=4", "eval.seed=3"])
    proto = build_protocol(cfg.eval)
    assert isinstance(proto, FolderProtocol) and proto.root == celeba_images
    assert len(proto.pairs) == 4 and proto.describe()["seed"] == 3


def test_faceforensics_protocol_node_says_where_the_videos_go(tmp_path: Path) -> None:
    cfg = _compose(["eval=faceforensics", f"eval.videos_dir={tmp_path / 'absent'}", "eval.max_videos=2"])
    with pytest.raises(FileNotFoundError, match="original_sequences/youtube/c23/videos"):
        build_protocol(cfg.eval)
    assert get_class(cfg.eval.protocol._target_) is FaceForensicsProtocol
    with pytest.raises(ValueError, match="eval.protocol has no _target_"):
        build_protocol({"protocol": {"input": "x"}})
