"""The sanity baselines are exact copies and honour the Swapper protocol."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from reliableswap.evaluation.baselines import CopySourceAligned, CopyTarget
from reliableswap.swapping import Swapper

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "baseline"


def test_copy_baselines_return_the_right_input() -> None:
    s, t = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    out_t = CopyTarget(size=32).swap(s, t)
    out_s = CopySourceAligned(size=32).swap(s, t)
    assert torch.equal(out_t, t) and torch.equal(out_s, s)
    assert out_t.data_ptr() != t.data_ptr()  # a copy: metrics may not alias the inputs


def test_baselines_are_swappers_and_reject_wrong_sizes() -> None:
    for cls in (CopyTarget, CopySourceAligned):
        sw = cls()
        assert isinstance(sw, Swapper) and sw.size == 256
        with pytest.raises(ValueError, match="256x256"):
            sw.swap(torch.zeros(1, 3, 64, 64), torch.zeros(1, 3, 64, 64))
        with pytest.raises(ValueError, match="equal shape"):
            sw.swap(torch.zeros(1, 3, 256, 256), torch.zeros(2, 3, 256, 256))


@pytest.mark.parametrize("name,cls", [("copy_target", CopyTarget), ("copy_source_aligned", CopySourceAligned)])
def test_baseline_configs_instantiate(name: str, cls: type) -> None:
    sw = instantiate(OmegaConf.load(CONFIGS / f"{name}.yaml"))
    assert isinstance(sw, cls) and sw.name == name and sw.size == 256
