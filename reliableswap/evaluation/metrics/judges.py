"""The judges metrics share: built once per process, imported only when a metric needs them.

dlib's descriptor and 3DDFA-V2 load files and are stateless, so every metric (and every record
of the training health monitor) reuses one instance; an identity encoder becomes a judge through
:class:`EncoderJudge` (unit vectors, cosine similarity).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["EncoderJudge", "dlib_descriptor", "tddfa"]


@lru_cache(maxsize=None)
def dlib_descriptor() -> Any:
    """The shared :class:`~reliableswap.evaluation.identity_dlib.DlibFaceDescriptor` (aligned crops)."""
    from reliableswap.evaluation.identity_dlib import DlibFaceDescriptor

    return DlibFaceDescriptor(box_mode="aligned")


@lru_cache(maxsize=None)
def tddfa() -> Any:
    """The shared :class:`~reliableswap.evaluation.pose_3ddfa.TDDFAPoseEstimator`."""
    from reliableswap.evaluation.pose_3ddfa import TDDFAPoseEstimator

    # One ONNX Runtime thread: the model is tiny (~1.3 ms per face) and often runs beside training.
    return TDDFAPoseEstimator(threads=1)


class EncoderJudge:
    """An :class:`IdentityEncoder` used as a judge: unit vectors, cosine similarity, on ``device``."""

    def __init__(self, encoder: torch.nn.Module, device: torch.device) -> None:
        self.encoder = encoder.to(device).eval()
        self.device = device

    @torch.no_grad()
    def embed(self, images: Tensor) -> np.ndarray:
        """(B, 3, S, S) in [-1, 1] -> (B, D) float64 unit vectors (NumPy, CPU)."""
        e = self.encoder(images.to(self.device).float())
        return torch.nn.functional.normalize(e.float(), dim=-1).cpu().double().numpy()
