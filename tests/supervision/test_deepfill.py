"""DeepFill v2 port: manifest layout, TF-compatible primitives, contextual attention, inpainter, converter."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from reliableswap.manifests import diff_state_dict
from reliableswap.weights import MissingWeightsError
from supervision.deepfill import (
    DeepFillV2Generator,
    contextual_attention,
    tf_name_to_torch,
    tf_resize_nearest,
    tf_same_padding,
    tf_to_torch_state_dict,
    torch_to_tf_name,
)
from supervision.inpaint import DeepFillV2Inpainter, build_deepfill_v2
from supervision.protocols import Inpainter

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "tests" / "manifests" / "deepfill_v2_celeba_hq_256.json"


def _manifest() -> dict:
    return json.loads(MANIFEST.read_text())


def _random_state(seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {k: torch.randn(v.shape, generator=gen) * 0.05 for k, v in DeepFillV2Generator().state_dict().items()}


def _load_converter():
    spec = importlib.util.spec_from_file_location("convert_deepfill_tf", ROOT / "scripts" / "convert_deepfill_tf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------- manifest

def test_state_dict_matches_manifest():
    manifest = _manifest()
    state = DeepFillV2Generator().state_dict()
    diff = diff_state_dict(state, manifest)
    assert diff.ok, str(diff)
    assert manifest["num_tensors"] == len(state) == 84
    assert manifest["num_params"] == sum(v.numel() for v in state.values()) == 4_052_478
    assert "generative_inpainting" in manifest["source"] and "cfc1d41a882dbbe7c2c35446c8e49b81b7ed51ff" in manifest["source"]


def test_manifest_spot_shapes_follow_gated_conv_halving():
    keys = _manifest()["keys"]
    assert keys["conv1.weight"] == [48, 5, 5, 5]  # rgb + ones + mask in, 48 wide (24 out after gating)
    assert keys["conv2_downsample.weight"] == [96, 24, 3, 3]
    assert keys["conv13_upsample.conv13_upsample_conv.weight"] == [96, 96, 3, 3]
    assert keys["conv17.weight"] == [3, 12, 3, 3]  # ungated output conv after conv16 (24 wide -> 12)
    assert keys["xconv1.weight"] == [48, 3, 5, 5]  # refinement sees rgb only
    assert keys["allconv11.weight"] == [192, 192, 3, 3]  # concat of two 96-channel branches


# ---------------------------------------------------------------------------------- primitives

def test_tf_same_padding_is_asymmetric_for_stride_two():
    assert tf_same_padding(256, 3, 2) == (0, 1)
    assert tf_same_padding(64, 4, 2) == (1, 1)
    assert tf_same_padding(64, 3, 1, dilation=16) == (16, 16)
    assert tf_same_padding(64, 5, 1) == (2, 2)


def test_tf_nearest_uses_align_corners_rounding():
    x = torch.arange(4.0).view(1, 1, 1, 4)
    # TF1 align_corners: src = round(i * 3/7) -> 0 0 1 1 2 2 3 3 for 4 -> 8, and 0 1 3 for 4 -> 3
    assert tf_resize_nearest(x, (1, 8))[0, 0, 0].tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert tf_resize_nearest(x, (1, 3))[0, 0, 0].tolist() == [0, 2, 3]
    y = torch.arange(64.0).view(1, 1, 1, 64)
    down = tf_resize_nearest(y, (1, 32))[0, 0, 0]
    assert down[0] == 0 and down[-1] == 63 and down[16] == 33  # round(16 * 63/31) = 33, not 32


def test_contextual_attention_copies_itself_without_hole():
    torch.manual_seed(0)
    feats = torch.rand(2, 8, 32, 32) + 0.1
    out = contextual_attention(feats, feats, None, rate=2, softmax_scale=1e4, fuse=False)
    assert out.shape == feats.shape
    # each interior pixel is covered by 2x2 pasted 4x4 patches of itself (sum / 4)
    assert torch.allclose(out[..., 2:-2, 2:-2], feats[..., 2:-2, 2:-2], atol=1e-4)


def test_contextual_attention_ignores_patches_in_hole():
    torch.manual_seed(1)
    feats = torch.rand(1, 4, 32, 32) + 0.1
    marker = feats.clone()
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    marker[..., 8:24, 8:24] = 1e3  # would dominate the paste if a hole patch got any weight
    out = contextual_attention(marker, marker, mask, rate=2)
    assert torch.isfinite(out).all() and out.abs().max() < 50


# ---------------------------------------------------------------------------------- inpainter

def _inpainter(seed: int = 0) -> DeepFillV2Inpainter:
    net = DeepFillV2Generator()
    net.load_state_dict(_random_state(seed), strict=True)
    return DeepFillV2Inpainter(net, size=256)


def test_random_weights_load_strictly_and_inpaint_keeps_known_pixels(tmp_path, monkeypatch):
    path = tmp_path / "deepfill_v2.pth"
    torch.save(_random_state(), path)
    monkeypatch.setenv("RELIABLESWAP_WEIGHT_DEEPFILL_V2", str(path))
    inpainter = build_deepfill_v2()
    assert isinstance(inpainter, Inpainter)
    torch.manual_seed(0)
    images = torch.rand(1, 3, 64, 64) * 2 - 1
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., 20:40, 16:48] = 1
    out = inpainter.inpaint(images, mask)
    assert out.shape == images.shape and out.dtype == images.dtype
    assert torch.isfinite(out).all()
    assert torch.equal(out[mask.expand_as(out) < 0.5], images[mask.expand_as(images) < 0.5])
    assert not torch.equal(out[..., 20:40, 16:48], images[..., 20:40, 16:48])
    assert out.min() >= -1 and out.max() <= 1


def test_batched_matches_single_and_empty_mask_is_identity():
    inpainter = _inpainter()
    inpainter.batch_size = 2
    torch.manual_seed(2)
    images = torch.rand(3, 3, 64, 64) * 2 - 1
    mask = torch.zeros(3, 1, 64, 64)
    mask[0, :, 10:30, 10:30] = 1
    mask[2, :, 30:50, 5:60] = 1
    out = inpainter.inpaint(images, mask)
    single = torch.cat([inpainter.inpaint(images[i:i + 1], mask[i:i + 1]) for i in range(3)])
    assert torch.allclose(out, single, atol=1e-5)
    assert torch.equal(out[1], images[1])
    assert torch.equal(inpainter.inpaint(images, torch.zeros_like(mask)), images)


def test_generator_rejects_sizes_not_divisible_by_eight():
    with pytest.raises(ValueError, match="divisible by 8"):
        DeepFillV2Generator(cnum=8)(torch.zeros(1, 3, 60, 60), torch.zeros(1, 1, 60, 60))


def test_missing_and_wrong_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("RELIABLESWAP_WEIGHT_DEEPFILL_V2", str(tmp_path / "absent.pth"))
    with pytest.raises(MissingWeightsError, match="(?s)deepfill_v2.*generative_inpainting"):
        build_deepfill_v2()
    bad = tmp_path / "bad.pth"
    state = _random_state()
    state.pop("conv1.bias")
    torch.save(state, bad)
    with pytest.raises(ValueError, match="missing"):
        build_deepfill_v2(bad)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"x")
    with pytest.raises(ValueError, match="not a readable"):
        build_deepfill_v2(garbage)


def test_config_instantiates_with_weights(tmp_path, monkeypatch):
    path = tmp_path / "w.pth"
    torch.save(_random_state(), path)
    monkeypatch.setenv("RELIABLESWAP_WEIGHT_DEEPFILL_V2", str(path))
    inpainter = instantiate(OmegaConf.load(ROOT / "configs" / "builder" / "inpainter" / "deepfill_v2.yaml"))
    assert isinstance(inpainter, DeepFillV2Inpainter) and inpainter.size == 256


# ---------------------------------------------------------------------------------- converter

def test_tf_name_mapping_and_kernel_transposition_without_tf():
    rng = np.random.default_rng(0)
    kernel = rng.standard_normal((3, 3, 24, 96)).astype(np.float32)
    variables = {
        "inpaint_net/conv2_downsample/kernel": kernel,
        "inpaint_net/conv2_downsample/bias": np.arange(96, dtype=np.float32),
        "inpaint_net/allconv13_upsample/allconv13_upsample_conv/kernel": np.zeros((3, 3, 96, 96), np.float32),
        "inpaint_net/conv2_downsample/kernel/Adam": kernel,
        "discriminator/sn_patch_gan/conv1/kernel": np.zeros((5, 5, 4, 64), np.float32),
        "global_step": np.array(5),
    }
    state = tf_to_torch_state_dict(variables)
    assert sorted(state) == ["allconv13_upsample.allconv13_upsample_conv.weight", "conv2_downsample.bias",
                             "conv2_downsample.weight"]
    weight = state["conv2_downsample.weight"]
    assert tuple(weight.shape) == (96, 24, 3, 3)
    assert weight[7, 5, 1, 2].item() == kernel[1, 2, 5, 7]
    assert torch.equal(state["conv2_downsample.bias"], torch.arange(96.0))
    assert tf_name_to_torch("inpaint_net/xconv1/kernel") == "xconv1.weight"
    with pytest.raises(ValueError, match="4-D"):
        tf_to_torch_state_dict({"inpaint_net/conv1/kernel": np.zeros((5, 5), np.float32)})


def test_manifest_keys_round_trip_through_tf_names():
    """Every manifest key, written as its TF variable with the TF kernel layout, converts back."""
    variables = {}
    for key, shape in _manifest()["keys"].items():
        tf_shape = [shape[2], shape[3], shape[1], shape[0]] if len(shape) == 4 else shape
        variables[torch_to_tf_name(key)] = np.zeros(tf_shape, np.float32)
    state = tf_to_torch_state_dict(variables)
    assert diff_state_dict(state, _manifest()).ok
    DeepFillV2Generator().load_state_dict(state, strict=True)


def test_converter_reports_missing_tensorflow(monkeypatch, tmp_path, capsys):
    if importlib.util.find_spec("tensorflow") is not None:
        pytest.skip("tensorflow is installed; the missing-TF message cannot be exercised")
    converter = _load_converter()
    assert converter.main([str(tmp_path), str(tmp_path / "out.pth")]) == 2
    err = capsys.readouterr().err.strip()
    assert "TensorFlow is required" in err and "\n" not in err


def test_converter_on_tiny_tf_checkpoint(tmp_path):
    tf = pytest.importorskip("tensorflow", reason="tensorflow not installed; the TF checkpoint round trip needs it")
    manifest = _manifest()
    rng = np.random.default_rng(0)
    arrays = {}
    for key, shape in manifest["keys"].items():
        tf_shape = [shape[2], shape[3], shape[1], shape[0]] if len(shape) == 4 else shape
        arrays[torch_to_tf_name(key)] = rng.standard_normal(tf_shape).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        tf_vars = [tf.compat.v1.get_variable(name, initializer=value) for name, value in arrays.items()]
        tf.compat.v1.get_variable("discriminator/sn_patch_gan/conv1/kernel", initializer=np.zeros((5, 5, 4, 64), np.float32))
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saver.save(sess, str(tmp_path / "ckpt" / "snap-0"))
    assert len(tf_vars) == len(arrays)
    out = tmp_path / "deepfill_v2.pth"
    assert _load_converter().main([str(tmp_path / "ckpt"), str(out)]) == 0
    state = torch.load(out, weights_only=True)
    assert diff_state_dict(state, manifest).ok
    name = "inpaint_net/conv4_downsample/kernel"
    assert np.array_equal(state["conv4_downsample.weight"].numpy(), arrays[name].transpose(3, 2, 0, 1))
    build_deepfill_v2(out)


def test_pytorch_port_layout_converts(tmp_path):
    ours = _random_state(3)
    port = {}
    for key, value in ours.items():
        parts = key.split(".")
        port[f"{parts[0]}.conv.conv.{parts[-1]}" if len(parts) == 3 else f"{parts[0]}.conv.{parts[-1]}"] = value
    src = tmp_path / "states_port.pth"
    torch.save({"G": port}, src)
    out = tmp_path / "deepfill_v2.pth"
    assert _load_converter().main([str(src), str(out)]) == 0
    converted = torch.load(out, weights_only=True)
    assert converted.keys() == ours.keys() and all(torch.equal(converted[k], ours[k]) for k in ours)
    torch.save({"G": {**port, "D.conv1.weight": torch.zeros(1)}}, src)
    assert _load_converter().main([str(src), str(out)]) == 2
