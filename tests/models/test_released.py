"""Released generator files: layouts equal the manifests, and they load into working swappers."""

from __future__ import annotations

import pytest
import torch

from reliableswap.faces.alignment import arcface_matrix
from reliableswap.manifests import diff_state_dict
from reliableswap.models.released import ReleasedFaceShifter


@pytest.mark.parametrize(
    ("with_fixer", "name"),
    [(True, "reliableswap_faceshifter_released_G"), (False, "faceshifter_vanilla_released_G")],
)
def test_released_faceshifter_layout_matches_manifest(manifest, with_fixer, name):
    entry = manifest(name)
    with torch.device("meta"):
        model = ReleasedFaceShifter(with_fixer=with_fixer)
    diff = diff_state_dict(model.state_dict(), entry)
    assert diff.ok, str(diff)
    assert sum(p.numel() for p in model.parameters()) == entry["num_params"]


def _fake_file(manifest_entry: dict, path, trans_matrix: torch.Tensor | None = None) -> None:
    """A file with the released layout and plausible tensors (finite BN statistics)."""
    torch.manual_seed(0)
    state = {}
    for key, shape in manifest_entry["keys"].items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.zeros(shape, dtype=torch.long)
        elif key.endswith("running_var"):
            state[key] = torch.ones(shape)
        else:
            state[key] = torch.randn(shape) * 0.02
    if trans_matrix is not None:
        state["trans_matrix"] = trans_matrix
    torch.save(state, path)


@pytest.mark.slow
def test_released_reliableswap_file_loads_as_swapper_and_converts(manifest, tmp_path):
    """The whole released file (285M tensors) -> a swapper; the converter -> a checkpoint of ours."""
    from reliableswap.inference.loading import load_swapper

    entry = manifest("reliableswap_faceshifter_released_G")
    src = tmp_path / "G_mouth1_t38_post.pth"
    _fake_file(entry, src, torch.from_numpy(arcface_matrix(256)).float().reshape(1, 2, 3))
    swapper = load_swapper(src, device="cpu")
    assert swapper.size == 256 and swapper.identity.embedding_dim == 640
    faces = torch.rand(2, 3, 256, 256) * 2 - 1
    out = swapper.swap(faces[:1], faces[1:])
    assert out.shape == (1, 3, 256, 256) and torch.isfinite(out).all()

    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "convert_released.py"
    spec = importlib.util.spec_from_file_location("convert_released", script)
    convert = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(convert)
    dst = convert.main([str(src), str(tmp_path / "converted.ckpt")])
    converted = load_swapper(dst, device="cpu")  # rebuilt from our config, weights from the file
    assert converted.identity.embedding_dim == 640
    released_state = torch.load(src, weights_only=True)
    for key in ("encoder.conv1.0.weight", "generator.AADBlk8.conv3.weight"):
        assert torch.equal(converted.generator.state_dict()[key], released_state[f"G.{key}"])


def test_released_file_with_wrong_layout_is_a_clear_error():
    state = {"G.encoder.conv1.0.weight": torch.zeros(1), "iresnet.conv1.weight": torch.zeros(1), "trans_matrix": torch.zeros(1, 2, 3)}
    with pytest.raises(ValueError, match="not a released FaceShifter generator"):
        ReleasedFaceShifter.from_state_dict(state)


def test_released_simswap_without_arcface_weights_names_the_file(manifest, tmp_path, monkeypatch):
    from reliableswap.inference.loading import load_swapper
    from reliableswap.weights import MissingWeightsError

    monkeypatch.setenv("RELIABLESWAP_WEIGHT_ARCFACE_IRESNET100", str(tmp_path / "no_arcface.pth"))
    with torch.device("meta"):
        from reliableswap.models.simswap import SimSwapGenerator

        keys = SimSwapGenerator(id_dim=512, size=224).state_dict()
    state = {k: torch.zeros(v.shape, dtype=v.dtype) for k, v in keys.items()}
    torch.save(state, tmp_path / "latest_net_G.pth")
    with pytest.raises(MissingWeightsError, match="no_arcface.pth"):
        load_swapper(tmp_path / "latest_net_G.pth", device="cpu")
