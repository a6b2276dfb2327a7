"""GPEN-BFR enhancer: the module's layout equals the release's (derived manifests), a file in that
layout loads strictly through the weight registry, and enhance() keeps shape and range."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from reliableswap.manifests import diff_state_dict
from reliableswap.weights import MissingWeightsError, get
from supervision.gpen import GPENEnhancer, build_gpen, fir_kernel
from supervision.protocols import Enhancer
from supervision.stylegan_ops import upfirdn2d

MANIFESTS = Path(__file__).resolve().parents[1] / "manifests"
CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _manifest(size: int) -> dict:
    return json.loads((MANIFESTS / f"gpen_bfr_{size}.json").read_text())


@pytest.mark.parametrize("size", [512, 256])
def test_gpen_state_dict_equals_release_manifest(size: int) -> None:
    manifest = _manifest(size)
    model = build_gpen(size)
    diff = diff_state_dict(model.state_dict(), manifest)
    assert diff.ok, str(diff)
    assert len(model.state_dict()) == manifest["num_tensors"] == len(manifest["keys"])
    assert sum(p.numel() for p in model.parameters()) == manifest["num_params"]
    # the blur kernels are persistent buffers in the release, so they must be in the state dict
    buffers = {k for k, _ in model.named_buffers()}
    assert buffers == {k for k in manifest["keys"] if k.endswith(".kernel")} and buffers
    assert manifest["source"]["repo"] == "yangxy/GPEN" and len(manifest["source"]["commit"]) == 40


def test_gpen_registry_entries_name_the_manifests() -> None:
    for size in (512, 256):
        entry = get(f"gpen_bfr_{size}")
        assert entry.manifest == f"gpen_bfr_{size}" and entry.relative_path == f"enhance/GPEN-BFR-{size}.pth"


def test_fir_resampling_preserves_constants_and_sizes() -> None:
    x = torch.full((1, 2, 8, 8), 0.7)
    up = upfirdn2d(x, fir_kernel(4.0), up=2, pad=(2, 1))
    down = upfirdn2d(x, fir_kernel(), down=2, pad=(1, 1))
    assert up.shape[-2:] == (16, 16) and down.shape[-2:] == (4, 4)
    torch.testing.assert_close(up[..., 2:-2, 2:-2], torch.full_like(up[..., 2:-2, 2:-2], 0.7))
    torch.testing.assert_close(down[..., 1:-1, 1:-1], torch.full_like(down[..., 1:-1, 1:-1], 0.7))


def _official_layout_file(path: Path, size: int, seed: int = 0) -> None:
    """A random-weights checkpoint built from the manifest alone (names/shapes of the release)."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in _manifest(size)["keys"].items():
        if key.endswith(".kernel"):
            scale = 1.0 if key.startswith("ecd") else 4.0  # encoder downsampling vs x2 upsampling
            state[key] = fir_kernel(scale)
        elif key.endswith("modulation.bias"):
            state[key] = torch.ones(shape)
        else:
            state[key] = torch.randn(shape, generator=gen) * (0.1 if key.endswith("bias") else 1.0)
    torch.save(state, path)


def test_gpen_enhancer_loads_official_layout_and_enhances(tmp_path: Path) -> None:
    path = tmp_path / "GPEN-BFR-256.pth"
    _official_layout_file(path, 256)
    enhancer = GPENEnhancer(weights_path=path, size=256, device="cpu", batch_size=1)
    assert isinstance(enhancer, Enhancer)
    images = torch.rand(1, 3, 64, 64) * 2 - 1
    start = time.perf_counter()
    out = enhancer.enhance(images)
    elapsed = time.perf_counter() - start
    assert out.shape == images.shape and out.dtype == images.dtype
    assert torch.isfinite(out).all() and out.min() >= -1 and out.max() <= 1
    assert not torch.allclose(out, images) and out.std() > 1e-3
    assert elapsed < 60, f"GPEN-256 took {elapsed:.1f}s on one 64 px face"


def test_gpen_enhancer_rejects_a_foreign_layout(tmp_path: Path) -> None:
    path = tmp_path / "bad.pth"
    _official_layout_file(path, 256)
    state = torch.load(path, weights_only=True)
    state.pop("final_linear.0.bias")
    torch.save(state, path)
    with pytest.raises(ValueError, match="final_linear.0.bias"):
        GPENEnhancer(weights_path=path, size=256, device="cpu")
    with pytest.raises(ValueError, match="size"):
        GPENEnhancer(weights_path=path, size=128, device="cpu")


def test_gpen_missing_weights_names_file_and_origin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELIABLESWAP_WEIGHT_GPEN_BFR_512", str(tmp_path / "absent.pth"))
    cfg = OmegaConf.to_container(OmegaConf.load(CONFIGS / "builder" / "enhancer" / "gpen.yaml"))
    assert cfg == {"_target_": "supervision.gpen.GPENEnhancer", "weights_path": None, "size": 512,
                   "device": None, "batch_size": 4}
    with pytest.raises(MissingWeightsError, match="(?s)absent.pth.*yangxy/GPEN.*GPEN-BFR-512.pth"):
        GPENEnhancer(**{k: v for k, v in cfg.items() if k != "_target_"})
