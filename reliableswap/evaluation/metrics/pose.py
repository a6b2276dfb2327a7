"""Head-pose error of the swap to the *target*, degrees, on aligned crops.

Scored only on swaps that hold a face when the batch says so (``SwapBatch.swap_face``); the
result then counts scored / seen samples (``num_samples`` / ``num_total``) and says so in its note.

Values: ``l2`` (mean L2 norm of the yaw/pitch/roll difference) and the mean absolute ``yaw``,
``pitch``, ``roll`` errors. One class per judge (the ``_target_`` of a config node):

- :class:`TDDFAPoseError` (``3ddfa``, offline): 3DDFA-V2 MobileNet(0.5), ONNX;
- :class:`HopeNetPoseError` (``hopenet``, the paper's judge): HopeNet (weights ``hopenet``).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np
import torch

from reliableswap.evaluation.metrics.base import Metric, MetricResult, SwapBatch, package_version
from reliableswap.evaluation.metrics.judges import tddfa

__all__ = ["HopeNetPoseError", "PoseError", "TDDFAPoseError"]


class PoseError(Metric):
    """Pose error of swap vs target; subclasses give :meth:`_angles` (RGB crops -> (N, 3) degrees)."""

    name = "pose_error"

    def __init__(self, device: str | torch.device = "cpu") -> None:
        super().__init__(device)
        self._diff: list[np.ndarray] = []

    @abstractmethod
    def _angles(self, rgb: list[np.ndarray]) -> np.ndarray: ...

    def update(self, batch: SwapBatch) -> None:
        rows = self._face_rows(batch)
        if rows:
            d = self._angles([batch.swap_rgb[i] for i in rows]) - self._angles([batch.target_rgb[i] for i in rows])
            self._diff.append(d)

    def compute(self) -> MetricResult:
        d = np.concatenate(self._diff) if self._diff else np.zeros((0, 3))
        if not len(d):
            return self._skipped("no samples")
        a = np.abs(d)
        return self._result({"l2": np.linalg.norm(d, axis=1).mean(), "yaw": a[:, 0].mean(),
                             "pitch": a[:, 1].mean(), "roll": a[:, 2].mean()}, self._scored_note())


class TDDFAPoseError(PoseError):
    """Pose judged by 3DDFA-V2 (offline; the shared estimator of :mod:`.judges`)."""

    backend = "3ddfa"

    def __init__(self, device: str | torch.device = "cpu") -> None:
        super().__init__(device)
        tddfa()

    def _angles(self, rgb: list[np.ndarray]) -> np.ndarray:
        return tddfa().angles_batch(rgb)

    def backend_info(self) -> dict[str, Any]:
        return {"backend": "3ddfa", "model": "3DDFA-V2 mb05 (ONNX)", "onnxruntime": package_version("onnxruntime"),
                "roi": "ALIGNED_ROI"}


class HopeNetPoseError(PoseError):
    """Pose judged by HopeNet (the paper's judge).

    Raises:
        MissingWeightsError: the weights file is absent (the metric is reported as skipped).
    """

    backend = "hopenet"

    def __init__(self, device: str | torch.device = "cpu", weights_path: str | None = None) -> None:
        super().__init__(device)
        from reliableswap.evaluation.hopenet import HopeNetPoseEstimator

        self._hopenet = HopeNetPoseEstimator(weights_path, device=self.device)

    def _angles(self, rgb: list[np.ndarray]) -> np.ndarray:
        return self._hopenet.angles_batch(rgb)

    def backend_info(self) -> dict[str, Any]:
        return {"backend": "hopenet", "weights": "hopenet_robust_alpha1", "crop": "dlib ALIGNED_BOX, deep-head-pose margins"}
