"""Debug snapshots: every stage's intermediate image of a pair, tiled into one labelled PNG.

Each row is one synthesized image (AB, BA): its stages (inputs, A', the parser's labels of A' and
B, the blend mask, the colour-matched A', the blend, the reshape drop, the result) left to right,
and under them the verdict of the quality filter: ``accepted`` or every failing check with its
measured value (red).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import cv2
import numpy as np
from torch import Tensor

from reliableswap.io.images import write_image_atomic
from supervision.pipeline import Failure, resize, to_uint8

_CAPTION_H = 22
_NOTE_LINE_H = 16


def verdict_note(failures: list[Failure]) -> str:
    """``"accepted"``, or ``"REJECTED "`` and every failing check with its measured value and threshold."""
    return "accepted" if not failures else "REJECTED " + "; ".join(f"{f.check}: {f.reason}" for f in failures)


def _note_lines(note: str, width_px: int) -> list[str]:
    chars = max(20, width_px // 7)
    return [line for part in note.split("; ") for line in textwrap.wrap(part, chars)] if note else []


def stage_tile(stages: dict[str, Tensor], rows: list[tuple[str, int]], cell: int = 192,
               notes: list[str] | None = None) -> np.ndarray:
    """One row per ``(label, sample index)``, one column per stage, captions on top. uint8 RGB.

    ``notes``: optional text per row, drawn under it (red unless it starts with ``accepted``).
    """
    names = list(stages)
    width = len(names) * cell
    notes = notes or [""] * len(rows)
    if len(notes) != len(rows):
        raise ValueError(f"{len(notes)} notes for {len(rows)} rows")
    wrapped = [_note_lines(n, width) for n in notes]
    heights = [_CAPTION_H + cell + _NOTE_LINE_H * len(w) + (4 if w else 0) for w in wrapped]
    tile = np.full((sum(heights), width, 3), 255, np.uint8)
    y = 0
    for (row_label, index), lines, note, h in zip(rows, wrapped, notes, heights):
        for c, name in enumerate(names):
            image = to_uint8(resize(stages[name][index : index + 1].float(), cell))[0]
            tile[y + _CAPTION_H : y + _CAPTION_H + cell, c * cell : (c + 1) * cell] = image
            text = f"{row_label}: {name}" if c == 0 else name
            cv2.putText(tile, text[:28], (c * cell + 3, y + 15), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
        colour = (0, 110, 0) if note.startswith("accepted") else (200, 0, 0)
        for k, line in enumerate(lines):
            base = y + _CAPTION_H + cell + _NOTE_LINE_H * (k + 1)
            cv2.putText(tile, line, (4, base), cv2.FONT_HERSHEY_SIMPLEX, 0.42, colour, 1, cv2.LINE_AA)
        y += h
    return tile


def write_debug_tile(path: Path, stages: dict[str, Tensor], rows: list[tuple[str, int]],
                     notes: list[str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image_atomic(path, stage_tile(stages, rows, notes=notes))
    return path
