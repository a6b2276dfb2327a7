"""ONNX recogniser -> differentiable torch (onnx2torch): parity, batching, gradients, normalisation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from reliableswap.models.identity import IdentityEncoder, build_mobilefacenet_encoder, build_onnx_encoder
from reliableswap.models.identity.mobilefacenet import MOBILEFACENET_MEAN, MOBILEFACENET_STD

pytest.importorskip("onnx2torch")


@pytest.fixture(scope="module")
def onnx_file(shared_weight: Callable[[str], Path]) -> Path:
    return shared_weight("recognition/mobilefacenet_arcface.onnx")


@pytest.fixture(scope="module")
def encoder(onnx_file: Path) -> IdentityEncoder:
    return build_onnx_encoder(weights_path=onnx_file, mean=MOBILEFACENET_MEAN, std=MOBILEFACENET_STD)


def test_converted_graph_equals_onnxruntime_per_sample(
    encoder: IdentityEncoder, celeba_batch: torch.Tensor, mobilefacenet_onnx
) -> None:
    x = encoder.align(celeba_batch) * encoder._scale + encoder._shift  # the backbone's exact input
    with torch.no_grad():
        ours = encoder.backbone(x)  # a batch of 4 through a batch-1 graph: looped per sample
    reference = mobilefacenet_onnx(x)
    assert ours.shape == reference.shape == (4, 128)
    per_sample = (ours - reference).abs().amax(dim=1)
    assert (per_sample < 1e-4).all(), per_sample


def test_batch_one_graph_is_looped_not_silently_reshaped(encoder: IdentityEncoder) -> None:
    assert encoder.backbone.fixed_batch == 1
    x = torch.rand(3, 3, 112, 112)
    with torch.no_grad():
        batched = encoder.backbone(x)
        single = torch.cat([encoder.backbone(x[i : i + 1]) for i in range(3)])
        raw = encoder.backbone.net(x)  # the converted graph itself: Reshape(1, -1) merges the batch
    assert batched.shape == (3, 128)
    torch.testing.assert_close(batched, single)
    assert raw.shape == (1, 3 * 128)


def test_gradients_flow_to_the_input(encoder: IdentityEncoder) -> None:
    x = (torch.rand(2, 3, 256, 256) * 2 - 1).requires_grad_(True)
    encoder(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in encoder.parameters())


def test_matches_the_native_port(encoder: IdentityEncoder, celeba_batch: torch.Tensor, shared_weight) -> None:
    native = build_mobilefacenet_encoder(weights_path=shared_weight("recognition/mobilefacenet_arcface.pt"))
    with torch.no_grad():
        torch.testing.assert_close(encoder(celeba_batch), native(celeba_batch), atol=1e-5, rtol=0)


def test_insightface_normalisation_rule(onnx_file: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from reliableswap.models.identity.onnx_encoder import insightface_normalization

    # The MobileFaceNet export starts with a Conv: InsightFace would feed (x - 127.5) / 127.5.
    assert insightface_normalization(onnx.load(str(onnx_file))) == ((0.5,) * 3, (0.5,) * 3)
    graph = helper.make_graph(
        [helper.make_node("Sub", ["x", "m"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 112, 112])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 112, 112])],
        [helper.make_tensor("m", TensorProto.FLOAT, [1], [127.5])],
    )
    mean, std = insightface_normalization(helper.make_model(graph))
    assert mean == (0.0, 0.0, 0.0) and std[0] == pytest.approx(1 / 255)
