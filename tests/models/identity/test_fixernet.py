"""FixerNet: manifest equality with the release, loading, the encoder protocol; combined identity."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from reliableswap import paths
from reliableswap.faces.alignment import ffhq_to_arcface, lower_face_crop
from reliableswap.manifests import count_manifest_params, diff_state_dict
from reliableswap.models.identity import IdentityEncoder
from reliableswap.models.identity.combined import CombinedIdentityEncoder
from reliableswap.models.identity.fixernet import (
    FixerNet,
    FixerNetEncoder,
    build_fixernet,
    build_fixernet_encoder,
)
from reliableswap.models.identity.iresnet import iresnet
from reliableswap.weights import MissingWeightsError

CONFIG_DIR = paths.REPO_ROOT / "configs" / "identity"
TINY = {"layers": (1, 1, 1, 1), "widths": (8, 8, 16, 32)}


def _randomise(model: nn.Module) -> dict[str, torch.Tensor]:
    with torch.no_grad():  # non-default BN statistics, so a skipped buffer would be noticed
        for name, t in model.state_dict().items():
            if t.is_floating_point() and not name.startswith("vgg_"):
                t.copy_(torch.rand_like(t) + 0.5 if "running_var" in name else torch.randn_like(t) * 0.05)
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_fixernet_state_dict_equals_manifest(manifest: Callable[[str], dict]) -> None:
    with torch.device("meta"):
        model = FixerNet()
    expected = manifest("fixernet_mouthnet_128")
    diff = diff_state_dict(model.state_dict(), expected)
    assert diff.ok, f"FixerNet vs manifest fixernet_mouthnet_128: {diff}"
    assert len(model.state_dict()) == expected["num_tensors"] == 477
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == expected["num_params"] == 31_793_216
    assert count_manifest_params(expected) == n_params  # vgg_mean/vgg_std are buffers, not parameters
    assert model.backbone.fc.in_features == 512 * 4 * 4


def test_arcface_iresnet_unchanged_by_the_fixernet_parameters(manifest: Callable[[str], dict]) -> None:
    with torch.device("meta"):
        model = iresnet("r50")
    assert diff_state_dict(model.state_dict(), manifest("arcface_iresnet50")).ok
    assert model.fc.in_features == 512 * 7 * 7


def test_fixernet_manifest_round_trip_load_from_file(tmp_path: Path) -> None:
    """The release layout (backbone.* + vgg_*) and a bare backbone file both load strictly."""
    torch.manual_seed(0)
    state = _randomise(FixerNet())
    release, bare = tmp_path / "mouth_net.pth", tmp_path / "backbone.pth"
    torch.save(state, release)
    torch.save({k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")}, bare)
    for path in (release, bare):
        loaded = build_fixernet(weights_path=path)
        assert not loaded.training
        for key, value in loaded.state_dict().items():
            assert torch.equal(value, state[key]), key
    encoder = build_fixernet_encoder(weights_path=str(release), input_layout="arcface112")
    x = torch.rand(2, 3, 112, 112) * 2 - 1
    with torch.no_grad():
        raw = loaded(x[:, :, 56:112, 28:84])
    torch.testing.assert_close(encoder(x), F.normalize(raw, dim=1))
    assert encoder.embedding_dim == 128


def test_fixernet_load_rejects_other_networks(tmp_path: Path) -> None:
    path = tmp_path / "arcface.pth"
    torch.save(iresnet("r18").state_dict(), path)  # 112-input ArcFace: fc shape differs
    with pytest.raises(ValueError, match="missing|mismatch"):
        build_fixernet(weights_path=path)
    bad = FixerNet(**TINY).state_dict()
    bad["vgg_mean"] = torch.zeros(3, 1, 1)
    torch.save(bad, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="vgg_mean"):
        build_fixernet(weights_path=tmp_path / "bad.pth", **TINY)


def test_missing_fixernet_weights_error_names_the_manifest_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELIABLESWAP_PRETRAINED", str(tmp_path))
    monkeypatch.delenv("RELIABLESWAP_WEIGHT_FIXERNET_MOUTHNET", raising=False)
    with pytest.raises(MissingWeightsError) as err:
        build_fixernet_encoder()
    text = str(err.value)
    assert str(tmp_path / "fixernet" / "mouth_net_28_56_84_112.pth") in text
    assert "ReliableSwap" in text and "RELIABLESWAP_WEIGHT_FIXERNET_MOUTHNET" in text
    explicit = tmp_path / "mine.pth"
    with pytest.raises(MissingWeightsError, match=str(explicit)):
        build_fixernet(weights_path=explicit)


@pytest.fixture
def tiny_fixer() -> FixerNetEncoder:
    torch.manual_seed(0)
    return build_fixernet_encoder(pretrained=False, **TINY)


def test_fixernet_encoder_sees_only_the_lower_face(tiny_fixer: FixerNetEncoder) -> None:
    x = torch.rand(2, 3, 128, 128) * 2 - 1
    z = tiny_fixer(x)
    assert z.shape == (2, 128)
    torch.testing.assert_close(z.norm(dim=1), torch.ones(2))
    with torch.no_grad():
        expected = F.normalize(tiny_fixer.backbone(lower_face_crop(ffhq_to_arcface(x))), dim=1)
    torch.testing.assert_close(z, expected)
    # Changing the upper half of the 112 crop (eyes, forehead) does not change the embedding.
    crops = ffhq_to_arcface(x)
    upper_changed = crops.clone()
    upper_changed[:, :, :56] = 0.0
    torch.testing.assert_close(tiny_fixer.embed_aligned(upper_changed), tiny_fixer.embed_aligned(crops))


def test_fixernet_encoder_is_frozen_eval_and_differentiable(tiny_fixer: FixerNetEncoder) -> None:
    assert isinstance(tiny_fixer, IdentityEncoder)
    assert not any(p.requires_grad for p in tiny_fixer.parameters())
    nn.ModuleDict({"fixer": tiny_fixer}).train()
    assert not any(m.training for m in tiny_fixer.modules())
    x = (torch.rand(2, 3, 128, 128) * 2 - 1).requires_grad_(True)
    (1 - tiny_fixer(x)[:, 0]).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in tiny_fixer.parameters())


def _tiny_arcface() -> IdentityEncoder:
    from reliableswap.models.identity import build_arcface_encoder

    return build_arcface_encoder("r18", pretrained=False)


def test_combined_encoder_concatenates_unit_parts(tiny_fixer: FixerNetEncoder) -> None:
    torch.manual_seed(1)
    arcface = _tiny_arcface()
    combined = CombinedIdentityEncoder({"identity": arcface, "fixer": tiny_fixer})
    assert combined.embedding_dim == 640
    assert combined.parts == {"identity": slice(0, 512), "fixer": slice(512, 640)}
    x = torch.rand(2, 3, 256, 256) * 2 - 1
    z = combined(x)
    assert z.shape == (2, 640)
    parts = combined.split(z)
    torch.testing.assert_close(parts["identity"], arcface(x))
    torch.testing.assert_close(parts["fixer"], tiny_fixer(x))
    torch.testing.assert_close(z.norm(dim=1), torch.full((2,), 2.0**0.5))
    nn.ModuleDict({"c": combined}).train()
    assert not any(m.training for m in combined.modules())
    with pytest.raises(ValueError, match="640"):
        combined.split(z[:, :512])


def test_combined_encoder_without_shared_warp_matches(tiny_fixer: FixerNetEncoder) -> None:
    """A part that is not an FFHQ IdentityEncoder is called on the images as they are."""

    class Probe(nn.Module):
        embedding_dim = 3

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.normalize(x.mean(dim=(2, 3)), dim=1)

    combined = CombinedIdentityEncoder({"fixer": tiny_fixer, "probe": Probe()})
    x = torch.rand(1, 3, 128, 128) * 2 - 1
    z = combined(x)
    assert combined.parts["probe"] == slice(128, 131)
    torch.testing.assert_close(z[:, 128:], Probe()(x))
    with pytest.raises(ValueError, match="embedding_dim"):
        CombinedIdentityEncoder({"bad": nn.Identity()})


@pytest.mark.parametrize("name", ["arcface_r100_fixernet", "mobilefacenet_fixernet"])
def test_combined_configs_reach_the_registry(name: str, tmp_path: Path) -> None:
    omegaconf = pytest.importorskip("omegaconf")
    hydra_utils = pytest.importorskip("hydra.utils")
    cfg = omegaconf.OmegaConf.load(CONFIG_DIR / f"{name}.yaml")
    assert cfg.fixer.pretrained is True and cfg.fixer.weights_path is None
    cfg.fixer.weights_path = str(tmp_path / "absent_fixer.pth")
    cfg.identity.weights_path = str(tmp_path / "absent_id.pth")
    with pytest.raises(Exception) as err:
        hydra_utils.instantiate(cfg)
    cause: BaseException | None = err.value
    while cause is not None and not isinstance(cause, MissingWeightsError):
        cause = cause.__cause__
    assert cause is not None and "absent" in str(cause)


def test_mobilefacenet_fixernet_smoke_config_builds(shared_weight, tmp_path: Path) -> None:
    omegaconf = pytest.importorskip("omegaconf")
    hydra_utils = pytest.importorskip("hydra.utils")
    shared_weight("recognition/mobilefacenet_arcface.pt")
    cfg = omegaconf.OmegaConf.load(CONFIG_DIR / "mobilefacenet_fixernet.yaml")
    cfg.fixer.pretrained = False  # random FixerNet: smoke tests only
    encoder = hydra_utils.instantiate(cfg)
    assert encoder.embedding_dim == 256
    assert encoder.parts == {"identity": slice(0, 128), "fixer": slice(128, 256)}
    assert encoder(torch.rand(1, 3, 128, 128) * 2 - 1).shape == (1, 256)
