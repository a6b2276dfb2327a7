"""Evaluation sanity baselines: swappers whose scores are known in advance.

Why: a benchmark number means little unless the metrics are shown to separate the two trivial
failure modes of face swapping. :class:`CopyTarget` returns the target unchanged (perfect pose and
expression, no identity transfer at all), :class:`CopySourceAligned` returns the source crop
(perfect identity, the source's pose and expression instead of the target's). A correct metric
suite scores ``copy_target`` at ~0 pose/expression error with chance-level identity retrieval and
``copy_source_aligned`` at ~100% retrieval with a large pose error; the sanity tests assert this.
They are not trainable models; use them as ``test.py baseline=copy_target`` (``configs/baseline/``).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["CopySourceAligned", "CopyTarget"]


def _check(source: Tensor, target: Tensor, size: int) -> None:
    if source.shape != target.shape or source.ndim != 4 or source.shape[1] != 3:
        raise ValueError(f"expected source/target (B, 3, S, S) of equal shape, got {tuple(source.shape)} and {tuple(target.shape)}")
    if source.shape[-1] != size or source.shape[-2] != size:
        raise ValueError(f"{size}x{size} crops expected (the swapper's size), got {tuple(source.shape[-2:])}")


class CopyTarget:
    """``swap(source, target) = target``: the no-op swap (identity never transferred)."""

    def __init__(self, size: int = 256, name: str = "copy_target") -> None:
        self.size = int(size)
        self.name = name

    @torch.no_grad()
    def swap(self, source: Tensor, target: Tensor) -> Tensor:
        _check(source, target, self.size)
        return target.clone()


class CopySourceAligned:
    """``swap(source, target) = source``: the aligned source crop pasted as is (pose never transferred)."""

    def __init__(self, size: int = 256, name: str = "copy_source_aligned") -> None:
        self.size = int(size)
        self.name = name

    @torch.no_grad()
    def swap(self, source: Tensor, target: Tensor) -> Tensor:
        _check(source, target, self.size)
        return source.clone()
