"""What the web demo does, without the web: swap one upload into another, build one triplet.

Both services take file paths (the uploads), check them before any work (size limit, a readable
image or a video by its suffix) and raise :class:`DemoInputError` with one line a user can act on
for anything that is the upload's fault (not an image, no face, too large). The page shows that
line; nothing else reaches the page but a one-line message (the traceback goes to the log).

- :class:`SwapService` runs the same pipeline as ``python test.py`` (:func:`run_inference`) into a
  fresh folder per request and returns the result file with the run report (faces found/swapped,
  timings; per video frame for a video).
- :class:`TripletService` aligns the largest face of two photos and runs the triplet builder's
  synthesizer on the pair (:func:`supervision.single_pair.synthesize_pair`): A, B, AB, BA, the
  stage sheet and the quality filter's verdict of each direction.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from reliableswap.inference.images import VIDEO_SUFFIXES, SwapPipeline, kind_of, run_inference, settings_dict
from reliableswap.inference.report import RunReport
from reliableswap.io.images import IMAGE_SUFFIXES, ImageReadError, read_rgb

log = logging.getLogger(__name__)

FACES_CHOICES = ("largest", "all")
#: request folders older than this are removed when a new request comes (results are in the page by then)
KEEP_RESULTS_S = 3600.0


class DemoInputError(ValueError):
    """An upload the demo cannot use (not an image, no face, too large): shown as one line in the page."""


@dataclass(frozen=True)
class UploadLimits:
    """``max_bytes``: largest accepted upload; ``max_video_frames``: frames of a target video swapped
    (the rest is cut: a demo previews, ``python test.py`` does whole videos)."""

    max_bytes: int = 25 * 1024 * 1024
    max_video_frames: int = 150


def check_upload(path: str | Path | None, what: str, limits: UploadLimits, kinds: tuple[str, ...] = ("image",)) -> Path:
    """The upload's path if it exists, is within ``limits.max_bytes`` and has one of ``kinds``.

    An image is also decoded here, so a non-image with an image suffix is refused before any work.
    Raises :class:`DemoInputError` (one line) otherwise.
    """
    if path is None or str(path) == "":
        raise DemoInputError(f"no {what} given: upload {'an image' if kinds == ('image',) else 'an image or a video'}")
    file = Path(path)
    if not file.is_file():
        raise DemoInputError(f"{what}: the upload is gone ({file.name}); upload it again")
    size = file.stat().st_size
    if size > limits.max_bytes:
        raise DemoInputError(f"{what}: {size / 2**20:.1f} MB is over the demo's limit of {limits.max_bytes / 2**20:.0f} MB")
    if size == 0:
        raise DemoInputError(f"{what}: the file is empty")
    kind = kind_of(file)
    if kind == "video" and "video" in kinds:
        return file
    try:
        read_rgb(file)  # sniffs the content whatever the suffix; refuses decompression bombs
    except ImageReadError as exc:
        unknown_suffix = file.suffix.lower() not in IMAGE_SUFFIXES
        videos = f"; a video must be one of {' '.join(sorted(VIDEO_SUFFIXES))}" if "video" in kinds and unknown_suffix else ""
        raise DemoInputError(f"{what}: {exc.reason}{videos}") from None
    return file


@dataclass
class SwapOutcome:
    """``output``: the swapped image or video (None when nothing was written); ``kind``: image | video;
    ``report``: the run report as a dict; ``message``: a note for the user (no face in the target,
    a cut video) or None."""

    output: Path | None
    kind: str
    report: dict[str, Any]
    message: str | None = None


@dataclass
class SwapService:
    """Swap the largest face of a source photo into a target photo or short video.

    ``pipeline``: a :class:`SwapPipeline` built once (swapper, face analyzer, paste-mask parser);
    each request uses it with its own ``faces`` choice. ``workdir``: where each request's folder
    is made (the page serves files from there).
    """

    pipeline: SwapPipeline
    workdir: Path
    limits: UploadLimits = field(default_factory=UploadLimits)
    video_options: dict[str, Any] = field(default_factory=dict)
    swapper_name: str | None = None  # what the report calls the swapper (default: the swapper's own name)

    def swap(self, source: str | Path | None, target: str | Path | None, faces: str = "largest") -> SwapOutcome:
        """One request; :class:`DemoInputError` for a bad upload or a source without a face."""
        if faces not in FACES_CHOICES:
            raise DemoInputError(f"faces must be one of {', '.join(FACES_CHOICES)}, got {faces!r}")
        source_path = check_upload(source, "source", self.limits)
        target_path = check_upload(target, "target", self.limits, kinds=("image", "video"))
        kind = "video" if kind_of(target_path) == "video" else "image"
        self.workdir.mkdir(parents=True, exist_ok=True)
        prune_requests(self.workdir, KEEP_RESULTS_S)
        out_dir = Path(tempfile.mkdtemp(prefix="swap_", dir=self.workdir))
        output = out_dir / ("result.mp4" if kind == "video" else f"result{_image_suffix(target_path)}")
        pipeline = self.pipeline
        pipeline.settings = replace(pipeline.settings, faces=faces)
        report = RunReport(swapper=self.swapper_name or str(getattr(pipeline.swapper, "name", type(pipeline.swapper).__name__)),
                           device=str(pipeline.device), analyzer=pipeline.analyzer.name, source=source_path.name,
                           target=target_path.name, output=output.name, settings=settings_dict(pipeline.settings))
        options = {**self.video_options, "max_frames": self.limits.max_video_frames}
        run_inference(pipeline, source_path, target_path, output, report, video_options=options)
        if report.error:  # no face in the source, an unreadable source
            raise DemoInputError(_first_line(report.error))
        item = report.inputs[0] if report.inputs else None
        if item is None or item.status == "error":
            raise DemoInputError(f"target: {_first_line(item.error if item else 'nothing was processed')}")
        report.stop_clock()
        message = None
        if item.status == "passthrough":
            message = "no face found in the target: it is shown unchanged"
        if kind == "video" and item.frames_declared and item.frames_declared > self.limits.max_video_frames:
            cut = f"the demo swaps the first {self.limits.max_video_frames} of {item.frames_declared} frames " \
                  "(python test.py does whole videos)"
            message = f"{message}; {cut}" if message else cut
        full = report.to_dict()
        data = {"ok": full.pop("ok"), "summary": full.pop("summary"), **full}  # the outcome first in the page
        for entry in data["inputs"]:  # the page shows file names, not this server's folders
            entry["path"] = target_path.name
            entry["output"] = Path(entry["output"]).name if entry.get("output") else None
        return SwapOutcome(output=output if output.is_file() else None, kind=kind, report=data, message=message)


@dataclass
class TripletOutcome:
    """Images uint8 RGB (H, W, 3): ``sheet`` (every stage of AB and BA with verdicts), ``ab``, ``ba``;
    ``summary``: verdict, acceptance and quality measurements per direction."""

    sheet: np.ndarray
    ab: np.ndarray
    ba: np.ndarray
    summary: dict[str, Any]


@dataclass
class TripletService:
    """Build one cycle triplet (AB, BA) from two photos with the triplet builder's synthesizer.

    ``synthesizer_factory`` builds the :class:`supervision.pipeline.TripletSynthesizer` on first use
    (its networks load only when the tab is used); ``detector`` finds and aligns the photos' faces.
    """

    synthesizer_factory: Callable[[], Any]
    detector: Any
    limits: UploadLimits = field(default_factory=UploadLimits)
    _synth: Any = None

    def build(self, photo_a: str | Path | None, photo_b: str | Path | None) -> TripletOutcome:
        from supervision.pipeline import StageError
        from supervision.single_pair import synthesize_pair

        a = read_rgb(check_upload(photo_a, "photo A", self.limits))
        b = read_rgb(check_upload(photo_b, "photo B", self.limits))
        if self._synth is None:
            self._synth = self.synthesizer_factory()
        try:
            pair = synthesize_pair(self._synth, self.detector, a, b)
        except StageError as exc:
            raise DemoInputError(f"{exc.stage}: {_first_line(exc.reason)}") from None
        summary = {direction: {"verdict": pair.verdicts[direction], "accepted": pair.accepted[direction],
                               "quality": {k: _plain(v) for k, v in pair.metrics[direction].items()}}
                   for direction in ("AB", "BA")}
        return TripletOutcome(sheet=pair.sheet, ab=pair.ab, ba=pair.ba, summary=summary)


def prune_requests(workdir: Path, older_than_s: float) -> int:
    """Remove request folders (``swap_*``) of ``workdir`` last changed more than ``older_than_s`` ago; how many."""
    cutoff, removed = time.time() - older_than_s, 0
    for folder in workdir.glob("swap_*"):
        try:
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        except FileNotFoundError:  # another request removed it
            continue
    return removed


def _image_suffix(path: Path) -> str:
    """The target's own image suffix when it has one, else ``.png`` (lossless)."""
    return path.suffix.lower() if kind_of(path) == "image" else ".png"


def _first_line(text: str) -> str:
    return str(text).strip().splitlines()[0] if str(text).strip() else "unknown error"


def _plain(value: Any) -> Any:
    """A JSON-friendly number (tensors and numpy scalars become floats)."""
    try:
        return round(float(value), 4)
    except (TypeError, ValueError):
        return str(value)
