"""Video in and out for :func:`~reliableswap.inference.video.swap_video`: timestamps, codec, size, audio.

Reading (:class:`VideoReader`): OpenCV, frame by frame, with each frame's timestamp
(``CAP_PROP_POS_MSEC``). :meth:`VideoReader.scan` first grabs every frame once without colour
conversion (cheap next to detection and swapping) to learn the timestamps, from which
:func:`plan_output_fps` picks the output rate.

Frame timing: the output has a constant frame rate. A constant-rate input keeps its rate and
every frame once. A variable-frame-rate input is resampled (:class:`FrameWriter`) to a rate fast
enough for its fastest part (at most :data:`MAX_FPS`), so its duration is kept: a frame that lasts
several output periods is repeated (counted in ``frames_duplicated``); only a frame that shares
an output period with the previous one is dropped (counted in ``frames_dropped`` and warned).

Encoding: with ffmpeg (``ffmpeg`` on PATH, else the static binary of the optional
``imageio-ffmpeg`` package, ``pip install reliableswap[video]``) frames go to ``libx264`` (H.264,
CRF 18, ``yuv420p``; ``yuv444p`` for odd sizes, which 4:2:0 cannot store, so the size is kept
exactly -- a warning says some players cannot play 4:4:4). Without ffmpeg OpenCV writes: its
``avc1`` (H.264) encoder when this build has one, else ``mp4v`` (MPEG-4 Part 2) with a warning
(``.avi``: OpenCV's own MJPEG writer); those encoders need even sizes, so an odd frame is padded
by repeating its last column/row and the warning and report give the real output size.
Audio (:func:`mux_audio`) is copied from the input with the same ffmpeg; never cut to the video's length,
except when ``max_frames`` stopped the video early (then the audio stops with it).
"""

from __future__ import annotations

import functools
import logging
import math
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

MAX_FPS = 120.0
H264_OPTIONS = ["-c:v", "libx264", "-preset", "medium", "-crf", "18"]


def find_ffmpeg() -> str | None:
    """The ffmpeg executable: ``ffmpeg`` on PATH, else ``imageio_ffmpeg.get_ffmpeg_exe()`` when that
    optional package is installed (it honours ``IMAGEIO_FFMPEG_EXE``); None when neither is there."""
    exe = shutil.which("ffmpeg")
    if exe:
        return exe
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception:  # not installed, or its binary is missing for this platform
        return None


@functools.lru_cache(maxsize=8)
def _has_libx264(ffmpeg: str) -> bool:
    proc = subprocess.run([ffmpeg, "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=60)
    return proc.returncode == 0 and "libx264" in proc.stdout


@functools.lru_cache(maxsize=4)
def _opencv_can_encode(fourcc: str, suffix: str) -> bool:
    """Whether this OpenCV build opens and writes a 16x16 ``fourcc`` video (tested once per process)."""
    with tempfile.TemporaryDirectory() as tmp:
        writer = cv2.VideoWriter(str(Path(tmp) / f"probe{suffix}"), cv2.VideoWriter_fourcc(*fourcc), 10.0, (16, 16))
        ok = writer.isOpened()
        if ok:
            writer.write(np.zeros((16, 16, 3), np.uint8))
        writer.release()
        return bool(ok) and (Path(tmp) / f"probe{suffix}").stat().st_size > 0


def _has_audio(path: Path, ffmpeg: str) -> bool | None:
    """Whether ``path`` has an audio stream, from ``ffmpeg -i``'s stream list; None when unknown."""
    proc = subprocess.run([ffmpeg, "-hide_banner", "-i", str(path)], capture_output=True, text=True, timeout=60)
    if "Input #0" not in proc.stderr:
        return None
    return re.search(r"Stream #\S+.*: Audio:", proc.stderr) is not None


def mux_audio(video_only: Path, original: Path, out_path: Path, max_seconds: float | None = None) -> str:
    """Copy ``original``'s audio into ``video_only`` -> ``out_path``; returns a status string.

    Statuses: ``copied``, ``no audio track in input``, ``ffmpeg not found: ...``, ``ffmpeg
    failed: ...``. In every case but ``copied`` the silent video is moved to ``out_path``. The
    result is never cut to the shorter stream (no ``-shortest``), so no video frame is lost.
    ``max_seconds``: read only that much of the audio (a video stopped early by ``max_frames``
    keeps the sound of the frames it has, not the whole track); the status then says so.
    """
    ffmpeg = find_ffmpeg()
    status: str
    if ffmpeg is None:
        status = ("ffmpeg not found (PATH or imageio-ffmpeg): output written without audio "
                  "(install ffmpeg or `pip install imageio-ffmpeg` to keep it)")
    elif _has_audio(original, ffmpeg) is False:
        status = "no audio track in input"
    else:
        status = "ffmpeg failed"
        for audio_codec in (["-c:a", "copy"], ["-c:a", "aac"]):
            tmp = out_path.with_name(f".{out_path.stem}.mux{out_path.suffix}")
            cut = ["-t", f"{max_seconds:.3f}"] if max_seconds is not None else []
            cmd = [ffmpeg, "-y", "-v", "error", "-i", str(video_only), *cut, "-i", str(original), "-map", "0:v:0",
                   "-map", "1:a:0?", "-c:v", "copy", *audio_codec, str(tmp)]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
            if proc.returncode == 0:
                os.replace(tmp, out_path)
                video_only.unlink(missing_ok=True)
                return "copied" if max_seconds is None else f"copied (cut to the first {max_seconds:.2f} s, as the video)"
            tmp.unlink(missing_ok=True)
            status = f"ffmpeg failed: {proc.stderr.strip()[-300:]}"
    (log.info if status.startswith("no audio") else log.warning)("%s: %s", original, status)
    os.replace(video_only, out_path)
    return status


class VideoOpenError(RuntimeError):
    """A video that cannot be swapped at all (unreadable, no frames); the message is the report's."""


def _slots(times_ms: list[float], fps: float) -> list[int]:
    """Output frame index (at ``fps``) of each timestamp (ms from the first frame)."""
    return [int(math.floor(t * fps / 1000.0 + 0.5)) for t in times_ms]


def plan_output_fps(fps: float, times_ms: list[float] | None) -> float:
    """The constant output rate (frames/s) that keeps every frame of ``times_ms`` (ms, increasing).

    ``fps`` (the container's rate) when no two frames share one of its periods; else the rate of
    the shortest frame interval, capped at :data:`MAX_FPS`. ``times_ms`` None: ``fps``.
    """
    if not times_ms or len(times_ms) < 2:
        return fps
    slots = _slots(times_ms, fps)
    if all(b > a for a, b in zip(slots, slots[1:])):
        return fps
    shortest = min(b - a for a, b in zip(times_ms, times_ms[1:]))
    return float(min(1000.0 / shortest, MAX_FPS))


class VideoReader:
    """One video decoded with OpenCV frame by frame (BGR ``uint8``), with its fps, size and timestamps.

    ``fps`` falls back to 25 when the container has none; ``width``/``height`` come from the
    first decoded frame (containers can declare odd sizes the decoder does not produce).
    ``declared_frames`` is the container's ``CAP_PROP_FRAME_COUNT`` (exact in MP4, an estimate
    from duration x fps in some containers).

    Raises:
        VideoOpenError: OpenCV cannot open the file, or it has no decodable frame.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._cap = cv2.VideoCapture(str(path))
        if not self._cap.isOpened():
            raise VideoOpenError("unreadable video (OpenCV could not open it)")
        fps = self._cap.get(cv2.CAP_PROP_FPS) or 0.0
        self.declared_frames = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        ok, first = self._cap.read()
        if not ok or first is None:
            self._cap.release()
            raise VideoOpenError("video has no frames (zero-length or undecodable)")
        if not fps or not math.isfinite(fps) or fps <= 0:
            log.warning("%s: no fps in the container, writing at 25 fps", path)
            fps = 25.0
        self.fps = float(fps)
        self.height, self.width = (int(v) for v in first.shape[:2])
        num, den = (int(self._cap.get(prop) or 0) for prop in (cv2.CAP_PROP_SAR_NUM, cv2.CAP_PROP_SAR_DEN))
        #: sample (pixel) aspect ratio when it is not square, e.g. (46, 45); kept by the ffmpeg writer
        self.sar: tuple[int, int] | None = (num, den) if num > 0 and den > 0 and num != den else None
        self._t_first = float(self._cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0)
        self._first: np.ndarray | None = first
        self.timestamps_ok = True

    def scan(self, max_frames: int | None = None) -> list[float] | None:
        """Timestamps (ms from the first frame) of up to ``max_frames`` frames, from a grab-only
        pass over a second capture; None (and ``timestamps_ok`` False) when they do not increase."""
        cap = cv2.VideoCapture(str(self.path))
        times: list[float] = []
        while (max_frames is None or len(times) < max_frames) and cap.grab():
            times.append(float(cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0))
        cap.release()
        self.timestamps_ok = len(times) < 2 or all(b > a for a, b in zip(times, times[1:]))
        return [t - times[0] for t in times] if self.timestamps_ok and times else None

    def frames(self) -> Iterator[tuple[np.ndarray, float]]:
        """``(frame, t_ms)`` in order, the first one included; stops at the first failed read.

        ``t_ms`` is the frame's timestamp from the first frame's; frame index x 1000 / fps when
        the timestamps are unusable (see :meth:`scan`) or do not increase.
        """
        frame, self._first = self._first, None
        t, index = 0.0, 0
        while frame is not None:
            yield frame, t
            ok, frame = self._cap.read()
            if not ok:
                frame = None
                continue
            index += 1
            live = float(self._cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0) - self._t_first
            step = 1000.0 / self.fps
            t = live if self.timestamps_ok and live > t else (index * step if not self.timestamps_ok else t + step)

    def release(self) -> None:
        self._cap.release()


class _FfmpegEncoder:
    """Raw RGB frames piped into ``ffmpeg ... libx264``; keeps odd sizes (``yuv444p``)."""

    def __init__(self, ffmpeg: str, path: Path, fps: float, width: int, height: int,
                 sar: tuple[int, int] | None = None) -> None:
        self.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
        self.codec = f"h264 (ffmpeg libx264, crf 18, {self.pix_fmt})"
        self.size = (width, height)
        rate = str(Fraction(fps).limit_denominator(100000))
        faststart = ["-movflags", "+faststart"] if path.suffix.lower() in (".mp4", ".mov", ".m4v") else []
        cmd = [ffmpeg, "-y", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
               "-framerate", rate, "-i", "-", "-an", *H264_OPTIONS, "-pix_fmt", self.pix_fmt, *faststart]
        if sar is not None:  # non-square pixels: the player must stretch them as it did the input's
            cmd += ["-vf", f"setsar={sar[0]}/{sar[1]}"]
        cmd.append(str(path))
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._stderr)

    def is_open(self) -> bool:
        return self._proc.poll() is None

    def write(self, rgb: np.ndarray) -> None:
        try:
            self._proc.stdin.write(np.ascontiguousarray(rgb).tobytes())
        except BrokenPipeError:
            raise RuntimeError(f"ffmpeg stopped: {self._error()}") from None

    def _error(self) -> str:
        self._proc.wait(timeout=60)
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace").strip()[-300:]

    def release(self) -> None:
        if self._proc.stdin and not self._proc.stdin.closed:
            try:
                self._proc.stdin.close()
            except BrokenPipeError:
                pass
        if self._proc.wait(timeout=3600) != 0:
            raise RuntimeError(f"ffmpeg failed to encode: {self._error()}")
        self._stderr.close()


class _OpenCvEncoder:
    """OpenCV's writer: ``avc1`` when this build encodes it, else ``mp4v`` (``MJPG`` for ``.avi``);
    pads odd sizes to even (OpenCV's encoders would silently crop them)."""

    def __init__(self, path: Path, fps: float, width: int, height: int) -> None:
        suffix = path.suffix.lower()
        if suffix == ".avi":  # OpenCV's own MJPEG writer: keeps odd sizes
            self.codec, self.size = "mjpeg (OpenCV MJPG)", (width, height)
            self._writer = cv2.VideoWriter(str(path), cv2.CAP_OPENCV_MJPEG, cv2.VideoWriter_fourcc(*"MJPG"), fps,
                                           self.size)
            return
        if _opencv_can_encode("avc1", suffix):
            fourcc, self.codec = "avc1", "h264 (OpenCV avc1)"
        else:
            fourcc, self.codec = "mp4v", "mpeg4 (MPEG-4 Part 2, OpenCV mp4v)"
        self.size = (width + width % 2, height + height % 2)
        self._writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, self.size)

    def is_open(self) -> bool:
        return bool(self._writer.isOpened())

    def write(self, rgb: np.ndarray) -> None:
        bgr = rgb[:, :, ::-1]
        pad_h, pad_w = self.size[1] - bgr.shape[0], self.size[0] - bgr.shape[1]
        if pad_h or pad_w:
            bgr = np.pad(bgr, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        self._writer.write(np.ascontiguousarray(bgr))

    def release(self) -> None:
        self._writer.release()


class FrameWriter:
    """Writes RGB frames at a constant ``fps`` into a hidden silent file beside ``out_path``;
    :meth:`finish` copies the audio of the original in (or moves the silent file).

    :meth:`write` takes each frame's timestamp and resamples to ``fps`` (see the module doc):
    ``frames_out``, ``frames_duplicated`` and ``frames_dropped`` count what was written.
    ``codec``, ``size`` (the written width, height) and ``warnings`` go into the report.
    """

    def __init__(self, out_path: Path, fps: float, width: int, height: int,
                 sar: tuple[int, int] | None = None) -> None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        self.out_path, self.fps = out_path, float(fps)
        self.silent = out_path.with_name(f".{out_path.stem}.video{out_path.suffix}")
        self.warnings: list[str] = []
        ffmpeg = find_ffmpeg()
        self._encoder: _FfmpegEncoder | _OpenCvEncoder
        if ffmpeg is not None and _has_libx264(ffmpeg):
            self._encoder = _FfmpegEncoder(ffmpeg, self.silent, self.fps, width, height, sar=sar)
            if self._encoder.pix_fmt == "yuv444p":
                self.warnings.append(f"odd size {width}x{height} kept with H.264 4:4:4 (yuv444p); "
                                     "some players (browsers, QuickTime) cannot play it")
        else:
            self._encoder = _OpenCvEncoder(self.silent, self.fps, width, height)
            if sar is not None:
                self.warnings.append(f"sample aspect ratio {sar[0]}:{sar[1]} not kept (OpenCV's encoder writes square "
                                     "pixels): install ffmpeg to keep it")
            if not self._encoder.codec.startswith("h264"):
                self.warnings.append(f"written as {self._encoder.codec}: no ffmpeg with libx264 found "
                                     "(install ffmpeg or `pip install imageio-ffmpeg` for H.264)")
            if self._encoder.size != (width, height):
                self.warnings.append(f"odd size {width}x{height} padded to {self._encoder.size[0]}x"
                                     f"{self._encoder.size[1]} (edge pixels repeated): OpenCV's encoders need "
                                     "even sizes; install ffmpeg to keep the size")
        self.codec, self.size = self._encoder.codec, self._encoder.size
        self.frames_out = self.frames_duplicated = self.frames_dropped = 0
        self._pending: tuple[np.ndarray, int] | None = None
        self._last_gap = 1

    def is_open(self) -> bool:
        return self._encoder.is_open()

    def write(self, rgb: np.ndarray, t_ms: float | None = None) -> None:
        """One (H, W, 3) RGB ``uint8`` frame of the video's size, shown at ``t_ms`` (ms from the
        first frame; None: one period after the previous frame)."""
        if self._pending is None:
            self._pending = (rgb, 0)
            return
        prev, prev_slot = self._pending
        slot = prev_slot + 1 if t_ms is None else int(math.floor(t_ms * self.fps / 1000.0 + 0.5))
        if slot <= prev_slot:
            self.frames_dropped += 1
            log.warning("%s: frame at %.1f ms dropped: it shares an output frame period with the previous "
                        "frame at %.3f fps", self.out_path, t_ms, self.fps)
            return
        self._emit(prev, slot - prev_slot)
        self._last_gap = slot - prev_slot
        self._pending = (rgb, slot)

    def _emit(self, rgb: np.ndarray, times: int) -> None:
        for _ in range(times):
            self._encoder.write(rgb)
        self.frames_out += times
        self.frames_duplicated += times - 1

    def release(self) -> None:
        """Write the last frame (held as long as the frame before it) and close the encoder."""
        try:
            if self._pending is not None:
                self._emit(self._pending[0], self._last_gap)
                self._pending = None
        finally:
            self._encoder.release()

    def finish(self, original: Path, max_seconds: float | None = None) -> str:
        """Mux ``original``'s audio into the written frames at ``out_path`` (see :func:`mux_audio`)."""
        return mux_audio(self.silent, original, self.out_path, max_seconds=max_seconds)


def probe_size(path: Path) -> tuple[int, int] | None:
    """(width, height) of the first frame OpenCV decodes from ``path``; None when it decodes none."""
    cap = cv2.VideoCapture(str(path))
    ok, frame = cap.read()
    cap.release()
    return (int(frame.shape[1]), int(frame.shape[0])) if ok and frame is not None else None
