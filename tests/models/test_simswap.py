"""SimSwap generator: official layout (manifests), shapes at every supported size, identity injection."""

from __future__ import annotations

import pytest
import torch

from reliableswap.manifests import count_manifest_params, diff_state_dict
from reliableswap.models.simswap import SimSwapGenerator


@pytest.mark.parametrize(
    ("id_dim", "manifest_name", "expected_params"),
    [(512, "simswap_generator_latent512", 55_051_779), (640, "simswap_generator_latent640", 57_411_075)],
)
@pytest.mark.parametrize("size", [224, 256])
def test_simswap_generator_matches_manifest(manifest, id_dim, manifest_name, expected_params, size):
    entry = manifest(manifest_name)
    with torch.device("meta"):  # 55M parameters, no need to allocate them
        model = SimSwapGenerator(id_dim=id_dim, size=size, width=1.0)
    diff = diff_state_dict(model.state_dict(), entry)
    assert diff.ok, str(diff)
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == expected_params == entry["num_params"]
    assert count_manifest_params(entry) == n_params  # trans_matrix is a buffer, not a parameter
    assert "trans_matrix" not in dict(model.named_parameters())


def test_512_layout_has_a_fourth_stage_and_does_not_match_the_released_one(manifest):
    entry = manifest("simswap_generator_latent512")
    with torch.device("meta"):
        model = SimSwapGenerator(id_dim=512, size=512)
    diff = diff_state_dict(model.state_dict(), entry)
    assert not diff.ok
    assert {k.split(".")[0] for k in diff.unexpected} == {"down4", "up4"}


@pytest.mark.parametrize(("size", "width", "stages"), [(64, 1 / 16, 3), (224, 1 / 32, 3), (512, 1 / 64, 4)])
def test_output_shape_range_and_encoder_features(size, width, stages):
    model = SimSwapGenerator(id_dim=32, size=size, width=width)
    target = torch.randn(2, 3, size, size)
    result, feats = model(target, torch.randn(2, 32))
    assert result.shape == target.shape
    assert result.abs().max() <= 1.0  # tanh output in the image range
    assert [f.shape[-1] for f in feats] == [size // 2**i for i in range(stages + 1)]
    assert [f.shape[-1] for f in model.attributes(target)] == [f.shape[-1] for f in feats]


def test_identity_vector_changes_the_result_and_receives_gradient():
    torch.manual_seed(0)
    model = SimSwapGenerator(id_dim=16, size=64, width=1 / 16).eval()
    target = torch.randn(1, 3, 64, 64)
    z = torch.randn(1, 16, requires_grad=True)
    a, _ = model(target, z)
    b, _ = model(target, torch.randn(1, 16))
    assert (a - b).abs().mean() > 1e-4
    a.sum().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0


def test_bad_inputs_are_rejected_with_clear_errors():
    model = SimSwapGenerator(id_dim=16, size=64, width=1 / 16)
    with pytest.raises(ValueError, match="64x64"):
        model(torch.randn(1, 3, 128, 128), torch.randn(1, 16))
    with pytest.raises(ValueError, match=r"\(B, 16\)"):
        model(torch.randn(1, 3, 64, 64), torch.randn(1, 8))
    with pytest.raises(ValueError, match="divisible by 8"):
        SimSwapGenerator(size=100)
    with pytest.raises(ValueError, match="divisible by 16"):
        SimSwapGenerator(size=520)


@pytest.mark.parametrize("prefix", ["", "netG."])
def test_official_state_dict_round_trip(tmp_path, prefix):
    """A flat state dict (SimSwap's latest_net_G.pth) or one under a wrapper prefix in a Lightning
    'state_dict' container loads strictly, trans_matrix and BatchNorm statistics included."""
    from reliableswap.weights import load_into, load_state_dict

    torch.manual_seed(0)
    source = SimSwapGenerator(id_dim=8, size=32, width=1 / 16)
    source.trans_matrix.normal_()  # the official value differs from ours: it must be loaded, not kept
    source.first_layer[2].running_mean.normal_()
    state = {f"{prefix}{k}": v for k, v in source.state_dict().items()}
    torch.save({"state_dict": state | {"D.other": torch.zeros(1)}} if prefix else state, tmp_path / "G.pth")
    target = SimSwapGenerator(id_dim=8, size=32, width=1 / 16)
    load_into(target, load_state_dict(tmp_path / "G.pth", prefix=prefix or None))
    for k, v in source.state_dict().items():
        assert torch.equal(v, target.state_dict()[k]), k
    x, z = torch.randn(1, 3, 32, 32), torch.randn(1, 8)
    assert torch.equal(source.eval()(x, z)[0], target.eval()(x, z)[0])
