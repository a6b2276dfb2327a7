"""ArcFace IResNet: key-for-key equality with the official checkpoints' manifests, and loading."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from reliableswap.manifests import count_manifest_params, diff_state_dict
from reliableswap.models.identity import build_arcface, build_arcface_encoder
from reliableswap.models.identity.iresnet import iresnet
from reliableswap.weights import MissingWeightsError

ARCHS = {"r18": "arcface_iresnet18", "r50": "arcface_iresnet50", "r100": "arcface_iresnet100"}


@pytest.mark.parametrize("arch", list(ARCHS))
def test_iresnet_state_dict_equals_manifest(arch: str, manifest: Callable[[str], dict]) -> None:
    with torch.device("meta"):  # shapes only: r100 is 65M parameters
        model = iresnet(arch)
    state = model.state_dict()
    expected = manifest(ARCHS[arch])
    diff = diff_state_dict(state, expected)
    assert diff.ok, f"{arch} vs manifest {ARCHS[arch]}: {diff}"
    assert sum(p.numel() for p in model.parameters()) == count_manifest_params(expected)


def _randomised_r18() -> dict[str, torch.Tensor]:
    model = iresnet("r18")
    with torch.no_grad():  # non-default BN statistics, so a skipped buffer would be noticed
        for name, t in model.state_dict().items():
            if t.is_floating_point():
                t.copy_(torch.rand_like(t) + 0.5 if "running_var" in name else torch.randn_like(t) * 0.05)
    return model.state_dict()


def test_iresnet18_manifest_round_trip_load_from_file(tmp_path: Path) -> None:
    """A saved state dict loads strictly through the same builder users call."""
    state = _randomised_r18()
    path = tmp_path / "backbone.pth"
    torch.save(state, path)
    loaded = build_arcface("r18", weights_path=path)
    assert not loaded.training
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, state[key]), key
    encoder = build_arcface_encoder("r18", weights_path=str(path), input_layout="arcface112")
    x = torch.rand(2, 3, 112, 112) * 2 - 1
    with torch.no_grad():
        raw = loaded(x)
    torch.testing.assert_close(encoder(x), torch.nn.functional.normalize(raw, dim=1))
    assert encoder.embedding_dim == 512


def test_iresnet_load_rejects_a_checkpoint_of_another_depth_manifest(tmp_path: Path) -> None:
    path = tmp_path / "r18.pth"
    torch.save(iresnet("r18").state_dict(), path)
    with pytest.raises(ValueError, match="missing"):
        build_arcface("r50", weights_path=path)


def test_missing_arcface_weights_error_names_the_expected_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELIABLESWAP_PRETRAINED", str(tmp_path))
    monkeypatch.delenv("RELIABLESWAP_WEIGHT_ARCFACE_IRESNET100", raising=False)
    expected = tmp_path / "arcface" / "iresnet100_backbone.pth"
    with pytest.raises(MissingWeightsError) as err:
        build_arcface_encoder("r100")
    text = str(err.value)
    assert str(expected) in text
    assert "arcface_torch" in text and "RELIABLESWAP_WEIGHT_ARCFACE_IRESNET100" in text
    # An explicit path from config wins and is the one named.
    explicit = tmp_path / "mine.pth"
    with pytest.raises(MissingWeightsError, match=str(explicit)):
        build_arcface("r50", weights_path=explicit)


def test_unknown_arch_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="r100"):
        iresnet("r152")
