"""Expression error: L2 between 3DDFA-V2's 10 expression coefficients of swap and target.

Not comparable to the paper's number (Deep3DFaceRecon coefficients, not ported); the result's
note says so. Scored only on swaps that hold a face when the batch says so (``SwapBatch.swap_face``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from reliableswap.evaluation.metrics.base import Metric, MetricResult, SwapBatch, package_version
from reliableswap.evaluation.metrics.judges import tddfa

__all__ = ["ExpressionError"]


class ExpressionError(Metric):
    """L2 between 3DDFA-V2 expression coefficients (10 BFM exp. bases) of swap and target."""

    name = "expression_error"
    backend = "3ddfa"

    def __init__(self, device: str | torch.device = "cpu") -> None:
        super().__init__(device)
        tddfa()
        self._dist: list[float] = []

    def update(self, batch: SwapBatch) -> None:
        rows = self._face_rows(batch)
        if not rows:
            return
        est = tddfa()
        s = est.estimate_batch([batch.swap_rgb[i] for i in rows])
        t = est.estimate_batch([batch.target_rgb[i] for i in rows])
        self._dist += [float(np.linalg.norm(a.expression - b.expression)) for a, b in zip(s, t)]

    def compute(self) -> MetricResult:
        if not self._dist:
            return self._skipped("no samples")
        note = "3DDFA-V2 expression coefficients; the paper uses Deep3DFaceRecon (not comparable)"
        scored = self._scored_note()
        return self._result({"l2": float(np.mean(self._dist))}, f"{scored}; {note}" if scored else note)

    def backend_info(self) -> dict[str, Any]:
        return {"backend": "3ddfa", "model": "3DDFA-V2 mb05 (ONNX)", "onnxruntime": package_version("onnxruntime")}
