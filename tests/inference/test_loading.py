"""Loading checkpoints as Swappers: our Lightning format, strictness, unknown formats."""

from __future__ import annotations

import pytest
import torch

from reliableswap.inference.loading import CheckpointFormatError, load_swapper
from reliableswap.swapping import Swapper


def test_lightning_checkpoint_loads_as_a_batched_swapper(tiny_ckpt):
    swapper = load_swapper(tiny_ckpt, "cpu")
    assert isinstance(swapper, Swapper) and swapper.size == 64
    x = torch.rand(3, 3, 64, 64) * 2 - 1
    out = swapper.swap(x, x.flip(0))
    assert out.shape == x.shape and out.abs().max() <= 1
    # same weights as training: the generator output equals the module's own swap
    ckpt = torch.load(tiny_ckpt, map_location="cpu", weights_only=True)
    key = "generator.encoder.conv1.0.weight"
    assert torch.equal(swapper.generator.state_dict()[key[len("generator."):]], ckpt["state_dict"][key])
    assert not swapper.training and all(not p.requires_grad for p in swapper.parameters())


def test_missing_generator_key_is_an_error_naming_it(tiny_ckpt, tmp_path):
    ckpt = torch.load(tiny_ckpt, map_location="cpu", weights_only=True)
    del ckpt["state_dict"]["generator.encoder.conv1.0.weight"]
    bad = tmp_path / "bad.ckpt"
    torch.save(ckpt, bad)
    with pytest.raises(ValueError, match="encoder.conv1.0.weight"):
        load_swapper(bad, "cpu")


def test_unknown_format_lists_what_was_found(tmp_path):
    path = tmp_path / "netG.pth"
    torch.save({"G.up.weight": torch.zeros(2), "iresnet.fc.weight": torch.zeros(2)}, path)
    with pytest.raises(CheckpointFormatError) as err:
        load_swapper(path, "cpu")
    msg = str(err.value)
    assert "G.*" in msg and "iresnet.*" in msg and "reliableswap_lightning" in msg
