"""The JSON report written next to every inference output.

Why a report instead of just logs: a folder or video run must never stop on one bad input, so
everything that went wrong (corrupt file, no face, unreadable video, missing ffmpeg) has to be
visible afterwards in one machine-readable place, together with what was done (faces found and
swapped per image and per video frame) and how long it took.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from reliableswap.io.atomic import atomic_open

Status = Literal["swapped", "passthrough", "error", "skipped"]


@dataclass
class FrameReport:
    """One video frame: faces detected and faces swapped (0/0 = passed through unchanged)."""

    index: int
    found: int
    swapped: int


@dataclass
class InputReport:
    """One input file.

    ``status``: ``swapped`` (at least one face replaced), ``passthrough`` (no face to swap: the
    input was written unchanged), ``error`` (nothing written; ``error`` says why) or ``skipped``
    (not an image or video, found while scanning a folder).

    Images also say how they were stored and written: ``format_in`` / ``format_out`` (e.g.
    ``"PNG 16-bit RGBA"``) and ``format_note``: ``"copied byte for byte"`` for a pass-through,
    else what the output encoding changed (re-encoded JPEG, bit depth, alpha, format).

    Video counts: ``frames_declared`` (the container's frame count; an estimate in some
    containers), ``frames_in`` (decoded), ``frames_total`` (swapped and handed to the writer),
    ``frames_out`` (written: variable frame rates are resampled to ``output_fps``, so a frame can
    be written more than once, ``frames_duplicated``, or -- only above 120 fps -- not at all,
    ``frames_dropped``). ``truncated``: fewer frames decoded than declared (the run's ``ok`` is
    then false). ``output_width``/``output_height`` are read back from the written file; ``codec``
    is the encoder used; ``warnings`` lists every change a user would not expect.
    """

    path: str
    kind: Literal["image", "video", "other"]
    status: Status = "error"
    output: str | None = None
    faces_found: int = 0
    faces_swapped: int = 0
    error: str | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    # image only
    format_in: str | None = None
    format_out: str | None = None
    format_note: str | None = None
    # video only
    frames: list[FrameReport] | None = None
    frames_total: int | None = None
    frames_with_faces: int | None = None
    frames_passthrough: int | None = None
    fps: float | None = None
    width: int | None = None
    height: int | None = None
    audio: str | None = None
    frames_declared: int | None = None
    frames_in: int | None = None
    frames_out: int | None = None
    frames_duplicated: int | None = None
    frames_dropped: int | None = None
    truncated: bool | None = None
    codec: str | None = None
    output_fps: float | None = None
    output_width: int | None = None
    output_height: int | None = None
    warnings: list[str] = field(default_factory=list)

    def add_time(self, key: str, seconds: float) -> None:
        self.timings_s[key] = round(self.timings_s.get(key, 0.0) + seconds, 6)


@dataclass
class RunReport:
    """The whole run: settings, source, and one :class:`InputReport` per target input."""

    swapper: str
    device: str
    analyzer: str
    source: str
    target: str
    output: str
    settings: dict[str, Any] = field(default_factory=dict)
    source_faces: int | None = None
    error: str | None = None
    inputs: list[InputReport] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    elapsed_s: float = 0.0

    def summary(self) -> dict[str, int]:
        counts = {s: 0 for s in ("swapped", "passthrough", "error", "skipped")}
        for item in self.inputs:
            counts[item.status] += 1
        counts["faces_swapped"] = sum(i.faces_swapped for i in self.inputs)
        counts["truncated"] = sum(bool(i.truncated) for i in self.inputs)
        return counts

    @property
    def ok(self) -> bool:
        """False when the run failed as a whole, when every target input failed, or when a video was
        truncated (its decoded frames are written, but it must not look like a full success)."""
        if self.error is not None or any(i.truncated for i in self.inputs):
            return False
        considered = [i for i in self.inputs if i.status != "skipped"]
        return not considered or any(i.status != "error" for i in considered)

    def stop_clock(self) -> float:
        """Set and return ``elapsed_s``: seconds since the report was made."""
        self.elapsed_s = round(time.time() - self.started, 3)
        return self.elapsed_s

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["summary"] = self.summary()
        data["ok"] = self.ok
        return data

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the report atomically (a killed run never leaves half a JSON file)."""
        self.stop_clock()
        path = Path(path)
        with atomic_open(path, "w") as handle:
            json.dump(self.to_dict(), handle, indent=1)
        return path
