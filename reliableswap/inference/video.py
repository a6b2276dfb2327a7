"""Swap a face through a video: stream, detect, smooth landmarks over time, batch, write, mux audio.

Why smoothing: per-frame detector keypoints jitter by a pixel or two, which the alignment turns
into a visibly shaking face. Each face *track* (matched frame to frame by box overlap) runs its
5 keypoints through a temporal filter: an exponential moving average, or the One Euro filter
(Casiez et al. 2012), which smooths strongly when the face is still and follows quickly when it
moves. A track that is lost (no matching face) is dropped, so its filter restarts from the raw
points when the face comes back instead of sliding in from a stale position.

Frames are read with OpenCV one at a time (a long video never sits in memory), collected into
batches of ``batch_size`` frames so the swapper runs batched, and written with OpenCV at the
input's fps and size. OpenCV writes no audio, so the audio track of the input is copied
afterwards with ``ffmpeg`` when it is on PATH; when it is not, the log and the report say so.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from reliableswap.faces.face import Face
from reliableswap.inference.report import FrameReport, InputReport

log = logging.getLogger(__name__)

FilterKind = Literal["one_euro", "ema", "none"]
_FOURCC = {".avi": "MJPG"}


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


def _fourcc(suffix: str) -> int:
    return cv2.VideoWriter_fourcc(*_FOURCC.get(suffix.lower(), "mp4v"))


def _has_audio(path: Path) -> bool | None:
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        return None
    proc = subprocess.run([ffprobe, "-v", "error", "-select_streams", "a", "-show_entries", "stream=index",
                           "-of", "csv=p=0", str(path)], capture_output=True, text=True, timeout=60)
    return bool(proc.stdout.strip()) if proc.returncode == 0 else None


def mux_audio(video_only: Path, original: Path, out_path: Path) -> str:
    """Copy ``original``'s audio into ``video_only`` -> ``out_path``; returns a status string.

    Statuses: ``copied``, ``no audio track in input``, ``ffmpeg not found: ...``, ``ffmpeg
    failed: ...``. In every case but ``copied`` the silent video is moved to ``out_path``.
    """
    ffmpeg = shutil.which("ffmpeg")
    status: str
    if ffmpeg is None:
        status = "ffmpeg not found on PATH: output written without audio (install ffmpeg to keep it)"
    elif _has_audio(original) is False:
        status = "no audio track in input"
    else:
        status = "ffmpeg failed"
        for audio_codec in (["-c:a", "copy"], ["-c:a", "aac"]):
            tmp = out_path.with_name(f".{out_path.stem}.mux{out_path.suffix}")
            cmd = [ffmpeg, "-y", "-v", "error", "-i", str(video_only), "-i", str(original), "-map", "0:v:0",
                   "-map", "1:a:0?", "-c:v", "copy", *audio_codec, "-shortest", str(tmp)]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
            if proc.returncode == 0:
                os.replace(tmp, out_path)
                video_only.unlink(missing_ok=True)
                return "copied"
            tmp.unlink(missing_ok=True)
            status = f"ffmpeg failed: {proc.stderr.strip()[-300:]}"
    (log.info if status.startswith("no audio") else log.warning)("%s: %s", original, status)
    os.replace(video_only, out_path)
    return status


def swap_video(pipeline, path: Path, out_path: Path, smoothing: FilterKind = "one_euro",
               smoothing_params: dict[str, float] | None = None, progress: bool = True,
               max_frames: int | None = None, record_frames: bool = True) -> InputReport:
    """Swap every frame of ``path`` into ``out_path`` (fps and size kept); never raises for bad input.

    ``pipeline`` is a :class:`~reliableswap.inference.images.SwapPipeline`; its ``batch_size``
    frames are swapped together. ``max_frames`` stops early (previews, benchmarks).
    """
    item = InputReport(path=str(path), kind="video", frames=[] if record_frames else None)
    if out_path.suffix.lower() not in (".mp4", ".avi", ".mov", ".mkv", ".m4v"):
        out_path = out_path.with_suffix(".mp4")
    t0 = time.perf_counter()
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        item.error = "unreadable video (OpenCV could not open it)"
        log.error("%s: %s", path, item.error)
        return item
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    declared = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    ok, first = cap.read()
    if not ok or first is None:
        cap.release()
        item.error = "video has no frames (zero-length or undecodable)"
        log.error("%s: %s", path, item.error)
        return item
    if not fps or not math.isfinite(fps) or fps <= 0:
        log.warning("%s: no fps in the container, writing at 25 fps", path)
        fps = 25.0
    height, width = first.shape[:2]
    item.fps, item.width, item.height = float(fps), int(width), int(height)

    out_path.parent.mkdir(parents=True, exist_ok=True)
    silent = out_path.with_name(f".{out_path.stem}.video{out_path.suffix}")
    writer = cv2.VideoWriter(str(silent), _fourcc(out_path.suffix), fps, (width, height))
    if not writer.isOpened():
        cap.release()
        item.error = f"cannot open a video writer for {out_path}"
        log.error("%s", item.error)
        return item

    smoother = LandmarkSmoother(smoothing, **dict(smoothing_params or {}))
    total = min(declared, max_frames) if declared and max_frames else (declared or max_frames or None)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="frame", desc=path.name, dynamic_ncols=True)
    n = found_frames = faces_found = faces_swapped = 0
    t_detect = t_swap = 0.0
    batch: list[np.ndarray] = []
    batch_faces: list[list[Face]] = []

    def flush() -> None:
        nonlocal t_swap, faces_swapped, n
        t = time.perf_counter()
        results = pipeline.swap_images(batch, batch_faces)
        t_swap += time.perf_counter() - t
        for res in results:
            writer.write(np.ascontiguousarray(res.image[:, :, ::-1]))
            if item.frames is not None:
                item.frames.append(FrameReport(index=n, found=res.found, swapped=res.swapped))
            faces_swapped += res.swapped
            n += 1
        if bar is not None:
            bar.update(len(results))
            bar.set_postfix(fps=f"{n / max(time.perf_counter() - t0, 1e-9):.1f}")
        batch.clear()
        batch_faces.clear()

    frame, index = first, 0
    try:
        while frame is not None:
            rgb = np.ascontiguousarray(frame[:, :, ::-1])
            t = time.perf_counter()
            faces = smoother(pipeline.detect(rgb), index / fps)
            t_detect += time.perf_counter() - t
            found_frames += bool(faces)
            faces_found += len(faces)
            batch.append(rgb)
            batch_faces.append(faces)
            if len(batch) >= pipeline.settings.batch_size:
                flush()
            index += 1
            if max_frames is not None and index >= max_frames:
                break
            ok, frame = cap.read()
            if not ok:
                frame = None
        if batch:
            flush()
    except Exception as exc:  # a decoding/processing failure mid-video: keep what was written
        item.error = f"failed at frame {index}: {type(exc).__name__}: {exc}"
        log.exception("%s: %s", path, item.error)
    finally:
        cap.release()
        writer.release()
        if bar is not None:
            bar.close()

    item.add_time("detect", t_detect)
    item.add_time("swap_paste", t_swap)
    t = time.perf_counter()
    item.audio = mux_audio(silent, path, out_path)
    item.add_time("audio", time.perf_counter() - t)
    item.add_time("total", time.perf_counter() - t0)
    item.output = str(out_path)
    item.frames_total, item.frames_with_faces = n, found_frames
    item.frames_passthrough = sum(1 for f in item.frames if f.swapped == 0) if item.frames is not None else None
    item.faces_found, item.faces_swapped = faces_found, faces_swapped
    if item.error is None:
        item.status = "swapped" if faces_swapped else "passthrough"
    log.info("%s -> %s: %d frames (%d with faces, %d faces swapped, %d landmark-track resets) at %.2f frames/s; "
             "audio: %s", path, out_path, n, found_frames, faces_swapped, smoother.resets,
             n / max(item.timings_s["total"], 1e-9), item.audio)
    return item
