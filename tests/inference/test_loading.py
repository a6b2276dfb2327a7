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


# -- issue 10, kind 13: unreadable checkpoints fail with one line, never torch's weights_only advice


def _tiny_checkpoint(path, width: float, stored_width: float) -> None:
    """A Lightning-format checkpoint whose tensors have ``width`` but whose config says ``stored_width``."""
    from reliableswap.models.aei_net import AEINet
    from reliableswap.models.identity.factory import build_mobilefacenet_encoder

    identity = build_mobilefacenet_encoder(pretrained=False)
    generator = AEINet(id_dim=identity.embedding_dim, size=64, width=width)
    state = {**{f"generator.{k}": v for k, v in generator.state_dict().items()},
             **{f"identity.{k}": v for k, v in identity.state_dict().items()}}
    config = {"model": {"generator": {"_target_": "reliableswap.models.aei_net.AEINet", "_partial_": True,
                                      "size": 64, "width": stored_width}},
              "identity": {"_target_": "reliableswap.models.identity.build_mobilefacenet_encoder"},
              "data": {"size": 64}}
    torch.save({"state_dict": state, "reliableswap_config": config}, path)


def _bad_checkpoint(tmp_path, kind: str):
    import os
    import pickle

    path = tmp_path / "bad.ckpt"
    if kind == "zero_bytes":
        path.write_bytes(b"")
    elif kind == "random_bytes":
        path.write_bytes(os.urandom(4096))
    elif kind == "truncated_zip":
        torch.save({"state_dict": {"w": torch.zeros(1000)}}, path)
        path.write_bytes(path.read_bytes()[:300])
    elif kind == "pickled_object":
        path.write_bytes(pickle.dumps({"state_dict": os.getcwd}))
    elif kind == "directory":
        path.mkdir()
    elif kind == "other_width":
        _tiny_checkpoint(path, width=0.125, stored_width=0.25)
    return path


BAD_CHECKPOINTS = {  # kind -> what the one-line message must say
    "zero_bytes": "empty (0 bytes)",
    "random_bytes": "cannot be read",
    "truncated_zip": "cannot be read",
    "pickled_object": "cannot be read",
    "directory": "is a folder",
    "other_width": "shape mismatches",
}


@pytest.mark.parametrize("kind", list(BAD_CHECKPOINTS))
def test_unreadable_checkpoint_is_one_line_without_torch_advice(tmp_path, kind):
    path = _bad_checkpoint(tmp_path, kind)
    with pytest.raises(ValueError) as err:
        load_swapper(path, "cpu")
    msg = str(err.value)
    assert BAD_CHECKPOINTS[kind] in msg and str(path) in msg
    assert "\n" not in msg and "weights_only=False" not in msg and "weights_only` set to `False" not in msg
    if kind == "other_width":  # one summary, with an example of the mismatch, not one line per tensor
        assert "e.g. " in msg and "file (" in msg and len(msg) < 1200


def test_the_shipped_reference_swaps_as_it_is(shared_weight):
    """assets/demo_reference.pt carries its config but not the frozen identity encoder: the encoder
    comes from its own registered file, and the file works as ckpt= before any training."""
    import torch

    from reliableswap import weights
    from reliableswap.inference.loading import load_swapper

    shared_weight("recognition/mobilefacenet_arcface.pt")
    swapper = load_swapper(weights.verify("demo_reference"), "cpu")
    assert swapper.size == 128
    faces = torch.rand(2, 3, 128, 128) * 2 - 1
    out = swapper.swap(faces[:1].expand(2, -1, -1, -1), faces)
    assert out.shape == (2, 3, 128, 128) and torch.isfinite(out).all()
    assert (out[0] - faces[0]).abs().mean() > 0.01  # a generator ran: not the target back
