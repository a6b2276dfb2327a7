"""The identity-encoder protocol: frozen, eval-only, differentiable, unit outputs; Hydra configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from reliableswap import paths
from reliableswap.models.identity import IdentityEncoder, build_identity_encoder
from reliableswap.models.identity.mobilefacenet import MobileFaceNet
from reliableswap.weights import MissingWeightsError

CONFIG_DIR = paths.REPO_ROOT / "configs" / "identity"


@pytest.fixture
def encoder() -> IdentityEncoder:
    torch.manual_seed(0)
    return build_identity_encoder("mobilefacenet", pretrained=False)


def test_outputs_unit_vectors_for_any_crop_size(encoder: IdentityEncoder) -> None:
    for size in (128, 256):
        z = encoder(torch.rand(2, 3, size, size) * 2 - 1)
        assert z.shape == (2, encoder.embedding_dim) == (2, 128)
        torch.testing.assert_close(z.norm(dim=1), torch.ones(2))


def test_frozen_and_stays_in_eval_mode(encoder: IdentityEncoder) -> None:
    assert not any(p.requires_grad for p in encoder.parameters())
    parent = nn.ModuleDict({"identity": encoder, "other": nn.BatchNorm2d(3)})
    parent.train()  # what Lightning does every epoch
    assert parent["other"].training
    assert not encoder.training and not any(m.training for m in encoder.modules())
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    encoder(torch.rand(4, 3, 128, 128) * 2 - 1)
    for key, value in encoder.state_dict().items():  # BN running stats untouched
        assert torch.equal(value, before[key]), key


def test_gradient_flows_to_the_input_not_the_weights(encoder: IdentityEncoder) -> None:
    x = (torch.rand(2, 3, 256, 256) * 2 - 1).requires_grad_(True)
    target = encoder(torch.rand(2, 3, 256, 256) * 2 - 1)
    loss = (1 - (encoder(x) * target).sum(1)).mean()
    loss.backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in encoder.parameters())


def test_input_normalisation_is_applied() -> None:
    """[-1, 1] input is mapped to the backbone's (mean, std) convention."""
    seen: list[torch.Tensor] = []

    class Probe(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(x)
            return x.mean(dim=(2, 3))

    enc = IdentityEncoder(Probe(), 3, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), input_layout="arcface112")
    enc(torch.full((1, 3, 112, 112), 1.0))  # white
    expected = (1 - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225])
    torch.testing.assert_close(seen[0][0, :, 0, 0], expected)
    assert not any(k.startswith("_") for k in enc.state_dict())  # normalisation is not checkpointed


def test_arcface112_layout_checks_the_size(encoder: IdentityEncoder) -> None:
    enc = IdentityEncoder(MobileFaceNet(), 128, input_layout="arcface112")
    assert enc(torch.zeros(1, 3, 112, 112)).shape == (1, 128)
    with pytest.raises(ValueError, match="112"):
        enc(torch.zeros(1, 3, 256, 256))
    with pytest.raises(ValueError, match="input_layout"):
        IdentityEncoder(MobileFaceNet(), 128, input_layout="ffhq256")  # type: ignore[arg-type]


def test_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="mobilefacenet"):
        build_identity_encoder("facenet")


@pytest.mark.parametrize("name", ["mobilefacenet", "arcface_r18", "arcface_r50", "arcface_r100", "onnx"])
def test_identity_config_targets_a_builder_with_a_weights_override(name: str, tmp_path: Path) -> None:
    omegaconf = pytest.importorskip("omegaconf")
    hydra_utils = pytest.importorskip("hydra.utils")
    cfg = omegaconf.OmegaConf.load(CONFIG_DIR / f"{name}.yaml")
    assert "weights_path" in cfg and cfg.weights_path is None
    assert callable(hydra_utils.get_method(cfg._target_))
    # Every config reaches the registry: an override to a missing file names that file.
    # Hydra wraps the builder's exception; the MissingWeightsError must be its cause.
    cfg.weights_path = str(tmp_path / "absent.bin")
    with pytest.raises(Exception) as err:
        hydra_utils.instantiate(cfg)
    cause: BaseException | None = err.value
    while cause is not None and not isinstance(cause, MissingWeightsError):
        cause = cause.__cause__
    assert cause is not None, f"no MissingWeightsError in {err.value!r}"
    assert "absent.bin" in str(cause)


def test_default_config_builds_the_shipped_encoder(shared_weight) -> None:
    omegaconf = pytest.importorskip("omegaconf")
    hydra_utils = pytest.importorskip("hydra.utils")
    shared_weight("recognition/mobilefacenet_arcface.pt")
    encoder = hydra_utils.instantiate(omegaconf.OmegaConf.load(CONFIG_DIR / "mobilefacenet.yaml"))
    assert isinstance(encoder, IdentityEncoder) and encoder.embedding_dim == 128
