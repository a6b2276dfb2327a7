"""Inpainters: smooth fills reconstruct gradients, known pixels are untouched, configs build."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from reliableswap.weights import MissingWeightsError
from supervision.enhance import NoEnhancer
from supervision.inpaint import DiffusionInpainter, OpenCVInpainter, build_deepfill_v2
from supervision.protocols import Enhancer, Inpainter

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _gradient_with_hole(size: int = 96, radius: float = 0.25):
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    image = torch.stack([0.6 * xx, 0.5 * yy, 0.3 * xx - 0.4 * yy + 0.1]).unsqueeze(0).repeat(2, 1, 1, 1)
    mask = torch.zeros(2, 1, size, size)
    mask[0, 0] = (((xx - 0.1) ** 2 + (yy + 0.2) ** 2) < radius**2).float()
    mask[1, 0, 30:42, 10:80] = 1.0  # a long thin band, like a jaw strip
    return image, mask


@pytest.mark.parametrize(
    "inpainter, max_err, mean_err",
    [
        (DiffusionInpainter(), 0.01, 0.002),
        (OpenCVInpainter("telea", radius=5), 0.15, 0.04),
        (OpenCVInpainter("ns", radius=5), 0.15, 0.04),
    ],
)
def test_fills_a_hole_in_a_smooth_gradient(inpainter, max_err, mean_err):
    image, mask = _gradient_with_hole()
    corrupted = torch.where(mask > 0.5, torch.tensor(0.9), image)
    out = inpainter.inpaint(corrupted, mask)
    assert isinstance(inpainter, Inpainter)
    err = (out - image).abs()
    assert err.max() < max_err
    assert (err * mask).sum() / (3 * mask.sum()) < mean_err
    keep = (mask <= 0.5).expand_as(image)
    assert torch.equal(out[keep], corrupted[keep])  # unmasked pixels bit-identical
    assert out.dtype == image.dtype and out.device == image.device


@pytest.mark.parametrize("inpainter", [DiffusionInpainter(), OpenCVInpainter()])
def test_empty_mask_is_identity_and_fully_masked_does_not_crash(inpainter):
    image, _ = _gradient_with_hole(32)
    assert torch.equal(inpainter.inpaint(image, torch.zeros(2, 1, 32, 32)), image)
    out = inpainter.inpaint(image, torch.ones(2, 1, 32, 32))
    assert out.shape == image.shape and torch.isfinite(out).all()


def test_deepfill_v2_reports_missing_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("RELIABLESWAP_WEIGHT_DEEPFILL_V2", str(tmp_path / "absent.pth"))
    with pytest.raises(MissingWeightsError, match="(?s)deepfill_v2.*generative_inpainting"):
        build_deepfill_v2()
    present = tmp_path / "present.pth"
    present.write_bytes(b"x")
    with pytest.raises(ValueError, match="not a readable PyTorch state dict"):
        build_deepfill_v2(present)


def test_configs_instantiate():
    assert isinstance(instantiate(OmegaConf.load(CONFIGS / "builder" / "inpainter" / "opencv.yaml")), OpenCVInpainter)
    assert isinstance(instantiate(OmegaConf.load(CONFIGS / "builder" / "inpainter" / "diffusion.yaml")), DiffusionInpainter)
    enhancer = instantiate(OmegaConf.load(CONFIGS / "builder" / "enhancer" / "none.yaml"))
    assert isinstance(enhancer, NoEnhancer) and isinstance(enhancer, Enhancer)
    image = torch.rand(1, 3, 8, 8)
    assert enhancer.enhance(image) is image
