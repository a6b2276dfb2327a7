"""What inference and evaluation share: the :class:`Swapper` protocol and device resolution.

This package sits below both :mod:`reliableswap.inference` (swapping files) and
:mod:`reliableswap.evaluation` (benchmarking swappers), so neither has to import the other:

- :mod:`.swapper`: :class:`Swapper`, aligned crops (B, 3, S, S) in [-1, 1] in, swapped crops out;
- :mod:`.device`: :func:`resolve_device` (``auto`` -> CUDA when available, else CPU).
"""

from reliableswap.swapping.device import resolve_device
from reliableswap.swapping.swapper import Swapper

__all__ = ["Swapper", "resolve_device"]
