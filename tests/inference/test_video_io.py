"""Video in/out for swap_video, with bad inputs built here: odd sizes, variable frame rate,
truncated files, and the codec (H.264 via ffmpeg; mp4v with a warning without it).

ffmpeg is found the way users get it (PATH, else the ``imageio-ffmpeg`` package); tests that need
it to build their input skip without it, and the no-ffmpeg path is forced by monkeypatching.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from reliableswap.inference import video_io
from reliableswap.inference.report import InputReport, RunReport
from reliableswap.inference.video import swap_video, truncation
from reliableswap.inference.video_io import FrameWriter, find_ffmpeg, plan_output_fps

FFMPEG = find_ffmpeg()
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="no ffmpeg on PATH and imageio-ffmpeg not installed")


class InvertPipeline:
    """Every frame has one 'face'; the swap inverts the frame."""

    settings = SimpleNamespace(batch_size=4)

    def detect(self, rgb: np.ndarray) -> list[str]:
        return ["face"]

    def swap_images(self, images, faces):
        return [SimpleNamespace(image=255 - img, found=1, swapped=1) for img in images]


def _count(path: Path) -> tuple[int, int, int]:
    """(frames decoded, width, height) of ``path``."""
    cap = cv2.VideoCapture(str(path))
    n, size = 0, (0, 0)
    while (got := cap.read())[0]:
        n, size = n + 1, (got[1].shape[1], got[1].shape[0])
    cap.release()
    return n, *size


def _mjpeg_clip(path: Path, n: int, size: tuple[int, int], fps: float = 10.0) -> Path:
    """OpenCV's own MJPEG writer: keeps odd sizes (its FFmpeg writers crop them)."""
    writer = cv2.VideoWriter(str(path), cv2.CAP_OPENCV_MJPEG, cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    rng = np.random.default_rng(0)
    for _ in range(n):
        writer.write(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    writer.release()
    return path


def _swap(src: Path, out: Path) -> InputReport:
    return swap_video(InvertPipeline(), src, out, smoothing="none", progress=False, record_frames=False)


def _no_ffmpeg(monkeypatch) -> None:
    monkeypatch.setattr(video_io, "find_ffmpeg", lambda: None)
    monkeypatch.setattr(video_io, "_opencv_can_encode", lambda fourcc, suffix: False)


# kind 4: odd sizes
@needs_ffmpeg
def test_odd_size_is_kept_with_ffmpeg(tmp_path: Path) -> None:
    src = _mjpeg_clip(tmp_path / "odd.avi", 5, (331, 207))
    item = _swap(src, tmp_path / "out.mp4")
    assert (item.width, item.height, item.output_width, item.output_height) == (331, 207, 331, 207)
    assert _count(tmp_path / "out.mp4") == (5, 331, 207) and item.codec.startswith("h264")
    assert any("yuv444p" in w for w in item.warnings)


def test_odd_size_without_ffmpeg_is_padded_and_reported(tmp_path: Path, monkeypatch) -> None:
    _no_ffmpeg(monkeypatch)
    src = _mjpeg_clip(tmp_path / "odd.avi", 5, (331, 207))
    item = _swap(src, tmp_path / "out.mp4")
    assert (item.output_width, item.output_height) == (332, 208) == _count(tmp_path / "out.mp4")[1:]
    assert any("padded to 332x208" in w for w in item.warnings)
    avi = _swap(src, tmp_path / "out.avi")  # OpenCV's MJPEG writer keeps the size
    assert (avi.output_width, avi.output_height) == (331, 207) == _count(tmp_path / "out.avi")[1:]


# kind 5: variable frame rate
def test_writer_resamples_by_timestamp_and_counts(tmp_path: Path, monkeypatch) -> None:
    _no_ffmpeg(monkeypatch)
    writer = FrameWriter(tmp_path / "out.avi", 20.0, 16, 16)
    for i, t in enumerate([0, 200, 400, 450, 500, 505]):  # 5 fps, then 20 fps, then a frame 5 ms later
        writer.write(np.full((16, 16, 3), 40 * i, np.uint8), float(t))
    writer.release()
    # slots 0, 4, 8, 9, 10, (10: dropped); the last frame lasts as long as the one before
    assert (writer.frames_out, writer.frames_duplicated, writer.frames_dropped) == (11, 6, 1)
    assert _count(writer.silent)[0] == 11


def test_output_rate_keeps_every_frame():
    assert plan_output_fps(25.0, [40.0 * i for i in range(10)]) == 25.0  # constant rate: unchanged
    vfr = [200.0 * i for i in range(5)] + [1000 + 40.0 * i for i in range(17)]
    assert plan_output_fps(9.2, vfr) == pytest.approx(25.0)
    assert plan_output_fps(30.0, [0.0, 1.0, 2.0]) == video_io.MAX_FPS
    assert plan_output_fps(30.0, None) == 30.0


@needs_ffmpeg
def test_variable_frame_rate_video_keeps_every_frame_and_its_duration(tmp_path: Path) -> None:
    parts = []
    for rate, n in ((5, 5), (25, 17)):
        part = tmp_path / f"part{rate}.mp4"
        subprocess.run([FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size=64x48:rate={rate}",
                        "-frames:v", str(n), "-c:v", "libx264", "-pix_fmt", "yuv420p", str(part)], check=True)
        parts.append(part)
    (tmp_path / "list.txt").write_text("".join(f"file '{p}'\n" for p in parts))
    vfr = tmp_path / "vfr.mp4"  # 22 frames over ~1.7 s; its audio is 1 s long (-shortest would cut)
    subprocess.run([FFMPEG, "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(tmp_path / "list.txt"),
                    "-f", "lavfi", "-i", "sine=duration=1", "-map", "0:v", "-map", "1:a", "-c:v", "copy",
                    "-c:a", "aac", str(vfr)], check=True)
    reader = video_io.VideoReader(vfr)
    times = reader.scan()
    reader.release()
    item = _swap(vfr, tmp_path / "out.mp4")
    assert item.error is None and item.audio == "copied" and item.frames_in == 22 and item.frames_dropped == 0
    assert item.frames_out == item.frames_in + item.frames_duplicated == _count(tmp_path / "out.mp4")[0]
    duration_in = times[-1] / 1000 + 1 / 25
    assert item.frames_out / item.output_fps == pytest.approx(duration_in, abs=2 / item.output_fps)
    assert any("frames duplicated" in w for w in item.warnings) and not item.truncated


# kind 6: truncated files
def test_truncated_video_is_not_a_full_success(tmp_path: Path) -> None:
    full = _mjpeg_clip(tmp_path / "full.avi", 60, (64, 48))
    cut = tmp_path / "cut.avi"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 3])
    item = _swap(cut, tmp_path / "out.avi")
    assert item.truncated and item.frames_declared == 60 and 0 < item.frames_in < 60
    assert item.frames_out == item.frames_in and any(f"decoded {item.frames_in} of 60" in w for w in item.warnings)
    report = RunReport("x", "cpu", "a", "s", str(cut), "o", inputs=[item])
    assert report.ok is False and report.summary()["truncated"] == 1
    whole = _swap(full, tmp_path / "whole.avi")
    assert whole.truncated is False and whole.frames_in == 60 and RunReport("x", "cpu", "a", "s", "t", "o",
                                                                            inputs=[whole]).ok


def test_a_frame_count_estimate_is_not_truncation():
    # declared 52 = duration x 25 fps; 22 frames decoded whose timestamps reach the end (VFR in MKV)
    assert truncation(52, 22, 25.0, 2040.0) is None
    assert truncation(532, 24, 25.0, 23 * 40.0).startswith("truncated: decoded 24 of 532")
    assert truncation(10, 10, 25.0, 360.0) is None


# kind 7: codec
@needs_ffmpeg
def test_h264_with_ffmpeg(tmp_path: Path) -> None:
    src = _mjpeg_clip(tmp_path / "in.avi", 4, (64, 48))
    item = _swap(src, tmp_path / "out.mp4")
    probe = subprocess.run([FFMPEG, "-hide_banner", "-i", str(tmp_path / "out.mp4")], capture_output=True, text=True)
    assert "Video: h264" in probe.stderr and "yuv420p" in probe.stderr
    assert item.codec == "h264 (ffmpeg libx264, crf 18, yuv420p)" and item.warnings == []


def test_without_ffmpeg_mp4v_with_a_warning(tmp_path: Path, monkeypatch) -> None:
    _no_ffmpeg(monkeypatch)
    item = _swap(_mjpeg_clip(tmp_path / "in.avi", 4, (64, 48)), tmp_path / "out.mp4")
    assert item.codec.startswith("mpeg4") and _count(tmp_path / "out.mp4")[0] == 4
    assert any("imageio-ffmpeg" in w for w in item.warnings) and "ffmpeg not found" in item.audio


def test_ffmpeg_found_on_path_then_in_imageio_ffmpeg(monkeypatch) -> None:
    monkeypatch.setattr(video_io.shutil, "which", lambda name: "/opt/ffmpeg")
    assert find_ffmpeg() == "/opt/ffmpeg"
    monkeypatch.setattr(video_io.shutil, "which", lambda name: None)
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    assert find_ffmpeg() == imageio_ffmpeg.get_ffmpeg_exe()
