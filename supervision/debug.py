"""Debug snapshots: every stage's intermediate image of a pair, tiled into one labelled PNG."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from torch import Tensor

from reliableswap.io.images import write_image_atomic
from supervision.pipeline import resize, to_uint8


def stage_tile(stages: dict[str, Tensor], rows: list[tuple[str, int]], cell: int = 192) -> np.ndarray:
    """One row per ``(label, sample index)``, one column per stage, captions on top. uint8 RGB."""
    names = list(stages)
    caption_h = 22
    tile = np.full((len(rows) * (cell + caption_h), len(names) * cell, 3), 255, np.uint8)
    for r, (row_label, index) in enumerate(rows):
        y = r * (cell + caption_h)
        for c, name in enumerate(names):
            image = to_uint8(resize(stages[name][index : index + 1].float(), cell))[0]
            tile[y + caption_h : y + caption_h + cell, c * cell : (c + 1) * cell] = image
            text = f"{row_label}: {name}" if c == 0 else name
            cv2.putText(tile, text[:28], (c * cell + 3, y + 15), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    return tile


def write_debug_tile(path: Path, stages: dict[str, Tensor], rows: list[tuple[str, int]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image_atomic(path, stage_tile(stages, rows))
    return path
