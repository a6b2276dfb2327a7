"""Any ONNX face recogniser (InsightFace model zoo format) as a differentiable torch backbone.

Why: many strong recognisers are distributed only as ONNX (InsightFace ``w600k_r50.onnx``,
``glintr100.onnx``, ...). onnxruntime cannot back-propagate, but the identity loss needs gradients
w.r.t. the input, so the graph is converted to a ``torch.fx`` module with ``onnx2torch``.

Batching: exporters often fix the batch to 1 and end with ``Reshape(x, [1, -1])``; fed a batch of B
such a graph does *not* fail, it silently returns one (1, B*D) row. When the graph's input batch
dimension is a fixed number, :class:`OnnxBackbone` therefore runs the converted module **once per
sample (a Python loop)** and concatenates; it only runs whole batches when the batch dimension is
symbolic (dynamic). Rewriting the graph's batch dimension was not done: patching reshape constants
is model-specific and easy to get silently wrong, while the loop is exact for every model and the
recognisers are small next to the generator.

Input normalisation follows InsightFace's ``ArcFaceONNX`` rule unless given explicitly: a graph
that starts with ``Sub``/``Mul`` normalises itself (feed 0..255 RGB), otherwise it expects
``(pixel - 127.5) / 127.5`` RGB, i.e. [-1, 1]. Models from other sources (the shipped
MobileFaceNet export wants the ImageNet mean/std) need explicit ``mean``/``std``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger(__name__)


def _import_onnx():  # optional dependencies: a clear message instead of a bare ImportError
    try:
        import onnx
        from onnx2torch import convert
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the ONNX identity backend needs `pip install reliableswap[onnx]` "
                          "(onnx, onnx2torch)") from exc
    return onnx, convert


def insightface_normalization(model) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """(mean, std) in [0, 1] units for an InsightFace-style recognition graph (see module doc)."""
    first_ops = [node.op_type for node in model.graph.node[:8]]
    if "Sub" in first_ops or "Mul" in first_ops:
        # The graph takes raw 0..255 pixels: x01 * 255 == (x01 - 0) / (1 / 255).
        return (0.0, 0.0, 0.0), (1 / 255, 1 / 255, 1 / 255)
    return (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)


class OnnxBackbone(nn.Module):
    """A converted ONNX recogniser; loops over the batch when the graph fixes it (module doc)."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        onnx, convert = _import_onnx()
        model = onnx.load(str(path))
        if len(model.graph.input) < 1 or len(model.graph.output) != 1:
            raise ValueError(f"{path}: expected one image input and one embedding output")
        dims = model.graph.input[0].type.tensor_type.shape.dim
        self.fixed_batch: int | None = dims[0].dim_value if dims and dims[0].HasField("dim_value") else None
        out_dims = model.graph.output[0].type.tensor_type.shape.dim
        self.embedding_dim = int(out_dims[-1].dim_value) if out_dims and out_dims[-1].dim_value else None
        self.default_mean, self.default_std = insightface_normalization(model)
        self.net = convert(model)
        self.source = str(path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fixed_batch is None:
            return self.net(x)
        if self.fixed_batch != 1:
            raise ValueError(f"{self.source}: graph fixes the batch to {self.fixed_batch}; only 1 is supported")
        return torch.cat([self.net(x[i : i + 1]) for i in range(x.shape[0])], dim=0)


def resolve_normalization(
    backbone: OnnxBackbone, mean: Sequence[float] | None, std: Sequence[float] | None
) -> tuple[Sequence[float], Sequence[float]]:
    """Explicit (mean, std) when both are given, else the InsightFace rule for this graph."""
    if (mean is None) != (std is None):
        raise ValueError("give both mean and std, or neither (InsightFace default)")
    if mean is None:
        log.info("ONNX recogniser %s: InsightFace normalisation mean=%s std=%s",
                 backbone.source, backbone.default_mean, backbone.default_std)
        return backbone.default_mean, backbone.default_std
    return mean, std
