"""LIA generator: state dict equals the official checkpoint manifest, loads from a saved
{'gen': state_dict} file, runs a forward pass, and names the path when the file is missing."""

from __future__ import annotations

import pytest
import torch

from reliableswap.manifests import diff_state_dict
from reliableswap.weights import MissingWeightsError
from supervision.protocols import Reenactor
from supervision.reenact.lia import LIAGenerator, LIAReenactor, load_lia_generator
from supervision.stylegan_ops import upfirdn2d

MANIFEST = "lia_generator_vox256"


@pytest.fixture(scope="module")
def generator() -> LIAGenerator:
    torch.manual_seed(0)
    return LIAGenerator().eval()


def test_lia_state_dict_equals_manifest(generator: LIAGenerator, manifest) -> None:
    diff = diff_state_dict(generator.state_dict(), manifest(MANIFEST))
    assert diff.ok, str(diff)


def test_lia_param_count_matches_manifest(generator: LIAGenerator, manifest) -> None:
    n = sum(p.numel() for p in generator.parameters())
    assert n == manifest(MANIFEST)["num_params"] == 45_116_317


def test_lia_manifest_round_trip_load(generator: LIAGenerator, tmp_path) -> None:
    path = tmp_path / "vox.pt"
    torch.save({"gen": generator.state_dict(), "disc": {}}, path)
    loaded = load_lia_generator(path)
    for k, v in generator.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k


def test_lia_manifest_missing_file_names_path(tmp_path) -> None:
    missing = tmp_path / "nowhere" / "vox.pt"
    with pytest.raises(MissingWeightsError, match="nowhere"):
        LIAReenactor(weights_path=missing)


def test_lia_manifest_forward_shapes(generator: LIAGenerator) -> None:
    g = torch.Generator().manual_seed(0)
    src = torch.rand(1, 3, 128, 128, generator=g) * 2 - 1  # pipeline at 128: resized to 256 and back
    drv = torch.rand(1, 3, 128, 128, generator=g) * 2 - 1
    reenactor = LIAReenactor(generator=generator)
    assert isinstance(reenactor, Reenactor)
    out = reenactor.reenact(src, drv, torch.zeros(1, 68, 2), torch.zeros(1, 68, 2))
    assert out.image.shape == (1, 3, 128, 128) and torch.isfinite(out.image).all()
    assert torch.isnan(out.landmarks).all() and out.valid.shape == (1, 1, 128, 128)
    # Deterministic without noise injection; the driving image matters.
    again = reenactor.reenact(src, drv, None, None).image
    other = reenactor.reenact(src, src, None, None).image
    assert torch.equal(out.image, again) and not torch.allclose(out.image, other)


def test_lia_manifest_forward_native_256(generator: LIAGenerator) -> None:
    x = torch.rand(1, 3, 256, 256) * 2 - 1
    with torch.no_grad():
        y = generator(x, x.flip(-1), noise=False)
    assert y.shape == (1, 3, 256, 256)


def test_upfirdn2d_upsample_preserves_constant() -> None:
    k = torch.tensor([1.0, 3, 3, 1])
    k = (k[None] * k[:, None]) / 64 * 4
    out = upfirdn2d(torch.ones(1, 2, 8, 8), k, up=2, pad=(2, 1))
    assert out.shape == (1, 2, 16, 16)
    assert torch.allclose(out[..., 2:-2, 2:-2], torch.ones(1, 2, 12, 12))
