"""Swap a face through a video: stream, detect, smooth landmarks over time, batch, write, mux audio.

Why smoothing: per-frame detector keypoints jitter by a pixel or two, which the alignment turns
into a visibly shaking face. Each face *track* (matched frame to frame by box overlap) runs its
5 keypoints through a temporal filter: an exponential moving average, or the One Euro filter
(Casiez et al. 2012), which smooths strongly when the face is still and follows quickly when it
moves. A track that is lost (no matching face) is dropped, so its filter restarts from the raw
points when the face comes back instead of sliding in from a stale position.

Frames are read with OpenCV one at a time (:class:`VideoReader`; a long video never sits in
memory), collected into batches of ``batch_size`` frames so the swapper runs batched
(:class:`_FrameLoop`), and written at the input's size and frame timing (:class:`FrameWriter`:
H.264 through ffmpeg when it is found, resampling variable frame rates explicitly; see
:mod:`reliableswap.inference.video_io`), then the input's audio is copied in. :func:`swap_video`
ties them together and fills the report: frames declared, decoded, written, duplicated and
dropped, the codec, the real output size, and ``truncated`` when fewer frames decode than the
container declares (the decoded frames are still swapped and written; the run's ``ok`` is false).
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np

from reliableswap.faces.face import Face
from reliableswap.inference.report import FrameReport, InputReport
from reliableswap.inference.video_io import FrameWriter, VideoOpenError, VideoReader, plan_output_fps, probe_size

log = logging.getLogger(__name__)

FilterKind = Literal["one_euro", "ema", "none"]


class EmaFilter:
    """Exponential moving average: ``y = alpha * x + (1 - alpha) * y_prev``."""

    def __init__(self, alpha: float = 0.5) -> None:
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        self.alpha = alpha
        self._y: np.ndarray | None = None

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:  # noqa: ARG002 - same call as OneEuro
        self._y = x.copy() if self._y is None else self.alpha * x + (1 - self.alpha) * self._y
        return self._y


class OneEuroFilter:
    """One Euro filter on an array of coordinates (pixels); ``t`` in seconds.

    ``min_cutoff`` (Hz) sets the smoothing at rest, ``beta`` how fast the cutoff rises with speed
    (in pixels/s), ``d_cutoff`` the smoothing of the speed estimate.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0) -> None:
        self.min_cutoff, self.beta, self.d_cutoff = float(min_cutoff), float(beta), float(d_cutoff)
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t = 0.0

    @staticmethod
    def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        if self._x is None:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return self._x
        dt = max(t - self._t, 1e-6)
        dx = (x - self._x) / dt
        a_d = self._alpha(self.d_cutoff, dt)
        self._dx = a_d * dx + (1 - a_d) * self._dx
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        a = self._alpha(cutoff, dt)
        self._x = a * x + (1 - a) * self._x
        self._t = t
        return self._x


def make_filter(kind: FilterKind, **params: float) -> EmaFilter | OneEuroFilter | None:
    if kind == "none":
        return None
    if kind == "ema":
        return EmaFilter(params.get("alpha", 0.5))
    if kind == "one_euro":
        return OneEuroFilter(params.get("min_cutoff", 1.0), params.get("beta", 0.05), params.get("d_cutoff", 1.0))
    raise ValueError(f"unknown smoothing filter '{kind}'; known: one_euro, ema, none")


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class LandmarkSmoother:
    """Per-track temporal smoothing of 5-point keypoints; tracks matched greedily by box IoU."""

    def __init__(self, kind: FilterKind = "one_euro", min_iou: float = 0.3, **params: float) -> None:
        self.kind, self.params, self.min_iou = kind, params, float(min_iou)
        self._tracks: list[tuple[np.ndarray, EmaFilter | OneEuroFilter | None]] = []
        self.resets = 0

    def __call__(self, faces: list[Face], t: float) -> list[Face]:
        if self.kind == "none":
            return faces
        tracks, used, out = [], set(), []
        for face in faces:
            best, best_iou = None, self.min_iou
            for j, (box, _) in enumerate(self._tracks):
                if j not in used and (iou := _iou(face.box, box)) >= best_iou:
                    best, best_iou = j, iou
            if best is None:
                filt = make_filter(self.kind, **self.params)
                if self._tracks or t > 0:
                    self.resets += 1
            else:
                used.add(best)
                filt = self._tracks[best][1]
            smooth = filt(face.kps.reshape(-1).astype(np.float64), t).reshape(5, 2)
            tracks.append((face.box, filt))
            out.append(face.with_kps(smooth))
        self._tracks = tracks  # unmatched tracks are dropped: reset on track loss
        return out


class _FrameLoop:
    """Detect + smooth per frame, swap ``batch_size`` frames at a time, write them in order.

    Holds the counters of the report (frames, faces found/swapped, detect and swap seconds);
    ``index`` is the frame being processed, for the error message of a failure mid-video.
    """

    def __init__(self, pipeline: Any, writer: FrameWriter, smoother: LandmarkSmoother, fps: float,
                 frames: list[FrameReport] | None, bar: Any, t0: float) -> None:
        self.pipeline, self.writer, self.smoother, self.fps = pipeline, writer, smoother, fps
        self.frames, self.bar, self.t0 = frames, bar, t0
        self.index = self.written = self.found_frames = self.faces_found = self.faces_swapped = 0
        self.t_detect = self.t_swap = 0.0
        self.read, self.last_t = 0, 0.0  # frames decoded; the last one's timestamp (ms from the first)
        self._batch: list[np.ndarray] = []
        self._batch_faces: list[list[Face]] = []
        self._batch_times: list[float] = []

    def run(self, reader: VideoReader, max_frames: int | None) -> None:
        """Process every frame of ``reader`` (at most ``max_frames``); raises on failure."""
        for frame, t_ms in reader.frames():
            self.read, self.last_t = self.read + 1, t_ms
            self._add(np.ascontiguousarray(frame[:, :, ::-1]), t_ms)
            self.index += 1
            if max_frames is not None and self.index >= max_frames:
                break
        if self._batch:
            self._flush()

    def _add(self, rgb: np.ndarray, t_ms: float) -> None:
        t = time.perf_counter()
        faces = self.smoother(self.pipeline.detect(rgb), t_ms / 1000.0)
        self.t_detect += time.perf_counter() - t
        self.found_frames += bool(faces)
        self.faces_found += len(faces)
        self._batch.append(rgb)
        self._batch_times.append(t_ms)
        self._batch_faces.append(faces)
        if len(self._batch) >= self.pipeline.settings.batch_size:
            self._flush()

    def _flush(self) -> None:
        t = time.perf_counter()
        results = self.pipeline.swap_images(self._batch, self._batch_faces)
        self.t_swap += time.perf_counter() - t
        for res, t_ms in zip(results, self._batch_times):
            self.writer.write(res.image, t_ms)
            if self.frames is not None:
                self.frames.append(FrameReport(index=self.written, found=res.found, swapped=res.swapped))
            self.faces_swapped += res.swapped
            self.written += 1
        if self.bar is not None:
            self.bar.update(len(results))
            self.bar.set_postfix(fps=f"{self.written / max(time.perf_counter() - self.t0, 1e-9):.1f}")
        self._batch.clear()
        self._batch_faces.clear()
        self._batch_times.clear()


def _progress_bar(path: Path, declared: int, max_frames: int | None) -> Any:
    from tqdm.auto import tqdm

    total = min(declared, max_frames) if declared and max_frames else (declared or max_frames or None)
    return tqdm(total=total, unit="frame", desc=path.name, dynamic_ncols=True)


def _fail(item: InputReport, message: str, context: str) -> InputReport:
    item.error = message
    log.error("%s", f"{context}: {message}" if context else message)
    return item


def truncation(declared: int, decoded: int, fps: float, last_t_ms: float | None) -> str | None:
    """The report's warning when fewer frames decode than the container declares; else None.

    A shortfall in frames alone is not enough where the declared count is an estimate (duration x
    fps, e.g. variable frame rate in MKV): with timestamps (``last_t_ms``, the last decoded frame's,
    ms from the first) the decoded frames must also end before 98% of the declared duration.
    """
    if declared <= decoded:
        return None
    if last_t_ms is not None and decoded > 1:
        end_s = (last_t_ms + last_t_ms / (decoded - 1)) / 1000.0
        if end_s >= 0.98 * declared / fps:
            return None
    return (f"truncated: decoded {decoded} of {declared} declared frames (the file is cut short or damaged); "
            f"the output has the {decoded} decoded frames")


def _finish_report(item: InputReport, loop: _FrameLoop, writer: FrameWriter, reader: VideoReader,
                   max_frames: int | None, t0: float) -> None:
    """Audio copy, timings, frame counts, codec and output size into ``item`` (after the frames are written)."""
    path = reader.path
    item.add_time("detect", loop.t_detect)
    item.add_time("swap_paste", loop.t_swap)
    t = time.perf_counter()
    stopped_early = max_frames is not None and loop.read >= max_frames and reader.declared_frames > loop.read
    seconds = writer.frames_out / writer.fps if stopped_early and writer.fps > 0 else None
    item.audio = writer.finish(path, max_seconds=seconds)
    item.add_time("audio", time.perf_counter() - t)
    if stopped_early:
        item.warnings.append(f"stopped at max_frames={max_frames} of {reader.declared_frames} declared frames"
                             + (f"; audio cut to the first {seconds:.2f} s" if seconds is not None else ""))
    item.add_time("total", time.perf_counter() - t0)
    item.output = str(writer.out_path)
    item.frames_total, item.frames_with_faces = loop.written, loop.found_frames
    item.frames_passthrough = sum(1 for f in item.frames if f.swapped == 0) if item.frames is not None else None
    item.faces_found, item.faces_swapped = loop.faces_found, loop.faces_swapped
    item.frames_declared, item.frames_in = reader.declared_frames, loop.read
    item.frames_out, item.frames_duplicated = writer.frames_out, writer.frames_duplicated
    item.frames_dropped, item.codec, item.output_fps = writer.frames_dropped, writer.codec, writer.fps
    item.output_width, item.output_height = probe_size(writer.out_path) or writer.size
    item.warnings.extend(writer.warnings)
    if writer.frames_duplicated or writer.frames_dropped:
        item.warnings.append(f"variable frame rate resampled to a constant {writer.fps:.3f} fps keeping the duration: "
                             f"{writer.frames_duplicated} frames duplicated, {writer.frames_dropped} dropped")
    if item.error is None and (max_frames is None or loop.read < max_frames):
        last_t = loop.last_t if reader.timestamps_ok else None
        message = truncation(reader.declared_frames, loop.read, reader.fps, last_t)
        item.truncated = message is not None
        if message:
            item.warnings.append(message)
    if item.error is None:
        item.status = "swapped" if loop.faces_swapped else "passthrough"
    for warning in item.warnings:
        log.warning("%s: %s", path, warning)
    log.info("%s -> %s: %d frames in, %d out (%d with faces, %d faces swapped, %d landmark-track resets) at "
             "%.2f frames/s; %s; audio: %s", path, writer.out_path, loop.read, writer.frames_out, loop.found_frames,
             loop.faces_swapped, loop.smoother.resets, loop.written / max(item.timings_s["total"], 1e-9),
             writer.codec, item.audio)


def _close(reader: VideoReader, writer: FrameWriter, bar: Any, item: InputReport) -> None:
    reader.release()
    if bar is not None:
        bar.close()
    try:
        writer.release()
    except Exception as exc:  # the encoder failed at the end: the output may be unusable
        item.error = item.error or f"writing the video failed: {exc}"
        log.error("%s: %s", item.path, item.error)


def swap_video(pipeline: Any, path: Path, out_path: Path, smoothing: FilterKind = "one_euro",
               smoothing_params: dict[str, float] | None = None, progress: bool = True,
               max_frames: int | None = None, record_frames: bool = True) -> InputReport:
    """Swap every frame of ``path`` into ``out_path`` (size and timing kept); never raises for bad input.

    ``pipeline`` is a :class:`~reliableswap.inference.images.SwapPipeline`; its ``batch_size``
    frames are swapped together. ``max_frames`` stops early (previews, benchmarks). A failure
    mid-video keeps the frames written so far and is recorded in the report; so is a truncated
    input (``truncated``, a warning) and every resampled, padded or re-coded detail (``warnings``).
    """
    item = InputReport(path=str(path), kind="video", frames=[] if record_frames else None)
    if out_path.suffix.lower() not in (".mp4", ".avi", ".mov", ".mkv", ".m4v"):
        out_path = out_path.with_suffix(".mp4")
    t0 = time.perf_counter()
    try:
        reader = VideoReader(path)
    except VideoOpenError as exc:
        return _fail(item, str(exc), str(path))
    item.fps, item.width, item.height = reader.fps, reader.width, reader.height
    out_fps = plan_output_fps(reader.fps, reader.scan(max_frames))
    writer = FrameWriter(out_path, out_fps, reader.width, reader.height, sar=reader.sar)
    if not writer.is_open():
        reader.release()
        return _fail(item, f"cannot open a video writer for {out_path}", "")

    smoother = LandmarkSmoother(smoothing, **dict(smoothing_params or {}))
    bar = _progress_bar(path, reader.declared_frames, max_frames) if progress else None
    loop = _FrameLoop(pipeline, writer, smoother, reader.fps, item.frames, bar, t0)
    try:
        loop.run(reader, max_frames)
    except Exception as exc:  # a decoding/processing failure mid-video: keep what was written
        item.error = f"failed at frame {loop.index}: {type(exc).__name__}: {exc}"
        log.exception("%s: %s", path, item.error)
    finally:
        _close(reader, writer, bar, item)
    _finish_report(item, loop, writer, reader, max_frames, t0)
    return item
