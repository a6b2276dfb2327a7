"""Per-pair artifact maps of a build (``<pair_id>/maps.npz``, written with ``save_maps=true``).

What the artifact metrics of :mod:`supervision.evaluate` need beyond the images, for both
directions (index 0 = AB, 1 = BA), at the output size S:

- ``mask``: (2, S, S) uint8 blend mask (0-255) in the frame of the swap (= the target's frame);
- ``drop``: (2, S, S) uint8 reshape drop mask;
- ``grid``: (2, S, S, 2), for each pixel of the swap the pixel (x, y) of its *source* image it
  was warped from (present only for pixel-warp reenactors). Stored as ``flow`` = grid minus the
  pixel's own coordinates in float16 (displacements are small, so float16 keeps ~0.01 px; the
  absolute coordinates in float16 would be quantised to 0.125 px and fake folds in compressed
  regions), returned as the absolute float32 ``grid``.

Stored with :func:`numpy.savez_compressed` and read with ``allow_pickle=False`` (no pickle).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from reliableswap.io.atomic import atomic_open

MAPS_NAME = "maps.npz"


def save_maps(path: Path, maps: dict[str, Tensor]) -> None:
    """Write ``mask``/``drop`` ((2, 1, S, S) in [0, 1]) and optional ``grid`` ((2, S, S, 2)) atomically."""
    arrays = {}
    for key, value in maps.items():
        v = value.detach().float().cpu()
        if key == "grid":
            arrays["flow"] = (v - _pixel_coordinates(v.shape[1], v.shape[2])).numpy().astype(np.float16)
        else:
            arrays[key] = (v[:, 0].clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    with atomic_open(path, "wb") as handle:
        handle.write(buffer.getvalue())


def load_maps(path: Path) -> dict[str, np.ndarray]:
    """The arrays of :func:`save_maps` (masks as float in [0, 1], grid as float32)."""
    with np.load(path, allow_pickle=False) as data:
        out = {k: data[k] for k in data.files}
    for key in ("mask", "drop"):
        if key in out:
            out[key] = out[key].astype(np.float32) / 255.0
    if "flow" in out:
        flow = out.pop("flow").astype(np.float32)
        out["grid"] = flow + _pixel_coordinates(flow.shape[1], flow.shape[2]).numpy()
    return out


def _pixel_coordinates(height: int, width: int) -> Tensor:
    """(H, W, 2) float32 (x, y) of every pixel centre."""
    yy, xx = torch.meshgrid(torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32),
                            indexing="ij")
    return torch.stack([xx, yy], dim=-1)
