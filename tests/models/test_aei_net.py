"""AEI-Net: official layout (manifests), shapes at every supported size, and identity injection."""

from __future__ import annotations

import pytest
import torch

from reliableswap.manifests import count_manifest_params, diff_state_dict
from reliableswap.models.aei_net import AEINet


@pytest.mark.parametrize(
    ("id_dim", "manifest_name", "expected_params"),
    [(512, "faceshifter_aei_net_cid512", 184_343_381), (640, "faceshifter_aei_net_cid640", 187_964_245)],
)
def test_aei_net_matches_manifest(manifest, id_dim, manifest_name, expected_params):
    entry = manifest(manifest_name)
    with torch.device("meta"):  # full width: 184M parameters, no need to allocate them
        model = AEINet(id_dim=id_dim, size=256, width=1.0)
    diff = diff_state_dict(model.state_dict(), entry)
    assert diff.ok, str(diff)
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == expected_params == entry["num_params"] == count_manifest_params(entry)


@pytest.mark.parametrize(("size", "levels"), [(64, 5), (128, 6), (256, 7), (512, 8)])
def test_attribute_pyramid_and_output_shapes(size, levels):
    model = AEINet(id_dim=32, size=size, width=1 / 32)
    target = torch.randn(2, 3, size, size)
    result, attrs = model(target, torch.randn(2, 32))
    assert result.shape == target.shape
    assert result.abs().max() <= 1.0  # tanh output in the image range
    assert len(attrs) == levels + 1
    assert [a.shape[-1] for a in attrs] == [2 * 2**i for i in range(levels)] + [size]
    assert [a.shape[1] for a in attrs] == model.encoder.channels


def test_identity_vector_changes_the_result():
    torch.manual_seed(0)
    model = AEINet(id_dim=16, size=64, width=1 / 16).eval()
    target = torch.randn(1, 3, 64, 64)
    a, _ = model(target, torch.randn(1, 16))
    b, _ = model(target, torch.randn(1, 16))
    assert (a - b).abs().mean() > 1e-4


def test_bad_inputs_are_rejected_with_clear_errors():
    model = AEINet(id_dim=16, size=64, width=1 / 16)
    with pytest.raises(ValueError, match="64x64"):
        model(torch.randn(1, 3, 128, 128), torch.randn(1, 16))
    with pytest.raises(ValueError, match="16-d"):
        model(torch.randn(1, 3, 64, 64), torch.randn(1, 8))
    with pytest.raises(ValueError, match="power-of-two"):
        AEINet(size=100)


def test_official_state_dict_round_trip(tmp_path):
    """A state dict saved under the released wrapper's 'G.' prefix loads strictly into our module."""
    from reliableswap.weights import load_into, load_state_dict

    source = AEINet(id_dim=8, size=32, width=1 / 32)
    torch.save({f"G.{k}": v for k, v in source.state_dict().items()} | {"trans_matrix": torch.eye(2, 3)}, tmp_path / "G.pth")
    target = AEINet(id_dim=8, size=32, width=1 / 32)
    load_into(target, load_state_dict(tmp_path / "G.pth", prefix="G."))
    for k, v in source.state_dict().items():
        assert torch.equal(v, target.state_dict()[k]), k
