"""The one interface inference and evaluation use: swap aligned faces.

Everything that can produce a swap — a trained checkpoint, a released generator file, or an
evaluation sanity baseline (``baseline=copy_target``, ``baseline=copy_source_aligned``) —
implements :class:`Swapper`, so the image/video pipeline and the benchmark protocols never care
which.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from torch import Tensor


@runtime_checkable
class Swapper(Protocol):
    """``swap(source, target)``: FFHQ-aligned crops (B, 3, size, size) in [-1, 1] -> same shape.

    The result carries the source's identity and the target's pose, expression, light and
    background. ``size`` is the crop size the model works at (callers resize to it).
    """

    size: int
    name: str

    def swap(self, source: Tensor, target: Tensor) -> Tensor: ...
