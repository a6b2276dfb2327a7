"""swap_video's parts: reader, writer, batched loop -- frame order, odd batches, early stop, failures;
and the temporal smoothing of keypoints along a face track.

A stand-in pipeline (no detector, no model) keeps this fast: it "finds" faces from the frame's
brightness and "swaps" by inverting the frame, so every written frame can be checked.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from reliableswap.faces.alignment import ffhq_template
from reliableswap.faces.face import Face
from reliableswap.inference.video import EmaFilter, LandmarkSmoother, OneEuroFilter, swap_video
from reliableswap.inference.video_io import FrameWriter, VideoOpenError, VideoReader


class FakePipeline:
    settings = SimpleNamespace(batch_size=3)

    def __init__(self, fail_on_call: int | None = None) -> None:
        self.calls = 0
        self.fail_on_call = fail_on_call

    def detect(self, rgb: np.ndarray) -> list[str]:
        return ["face"] * (int(rgb.mean()) % 3)

    def swap_images(self, images, faces):
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise RuntimeError("boom")
        return [SimpleNamespace(image=(255 - img) if f else img, found=len(f), swapped=min(len(f), 1))
                for img, f in zip(images, faces)]


def _frames(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while (got := cap.read())[0]:
        out.append(got[1])
    cap.release()
    return out


@pytest.fixture()
def clip(tmp_path: Path) -> Path:
    """11 frames (not a multiple of the batch size), 66x50 (odd aspect), 12.5 fps, MJPG."""
    path = tmp_path / "in.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 12.5, (66, 50))
    rng = np.random.default_rng(0)
    for _ in range(11):
        writer.write(rng.integers(0, 255, (50, 66, 3), dtype=np.uint8))
    writer.release()
    return path


def test_reader_gives_size_fps_and_every_frame(clip: Path, tmp_path: Path) -> None:
    reader = VideoReader(clip)
    assert (reader.width, reader.height, reader.fps, reader.declared_frames) == (66, 50, 12.5, 11)
    frames = [frame for frame, _ in reader.frames()]
    reader.release()
    assert len(frames) == 11 and frames[0].shape == (50, 66, 3)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoOpenError, match="unreadable video"):
        VideoReader(empty)


def test_writer_writes_rgb_frames_and_moves_the_silent_file(clip: Path, tmp_path: Path, monkeypatch) -> None:
    from reliableswap.inference import video_io

    monkeypatch.setattr(video_io, "find_ffmpeg", lambda: None)
    writer = FrameWriter(tmp_path / "sub" / "out.avi", 10.0, 66, 50)
    assert writer.is_open()
    for _ in range(4):
        writer.write(np.zeros((50, 66, 3), np.uint8))
    writer.release()
    assert "ffmpeg not found" in writer.finish(clip)
    assert len(_frames(tmp_path / "sub" / "out.avi")) == 4 and not writer.silent.exists()


@pytest.mark.parametrize("max_frames", [None, 7])
def test_loop_swaps_odd_batches_in_order(clip: Path, tmp_path: Path, max_frames: int | None) -> None:
    out = tmp_path / "out.avi"
    item = swap_video(FakePipeline(), clip, out, smoothing="none", progress=False, max_frames=max_frames)
    n = max_frames or 11
    src, got = _frames(clip)[:n], _frames(out)
    assert item.status in ("swapped", "passthrough") and item.error is None and len(got) == n
    assert (item.frames_total, item.fps, item.width, item.height) == (n, 12.5, 66, 50)
    assert [f.index for f in item.frames] == list(range(n))
    found = [int(np.ascontiguousarray(f[:, :, ::-1]).mean()) % 3 for f in src]
    assert [f.found for f in item.frames] == found and item.faces_found == sum(found)
    assert item.frames_with_faces == sum(map(bool, found)) and item.frames_passthrough == found.count(0)
    assert item.output == str(out) and set(item.timings_s) >= {"detect", "swap_paste", "audio", "total"}


def test_failure_mid_video_keeps_written_frames_and_names_the_frame(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    item = swap_video(FakePipeline(fail_on_call=2), clip, out, smoothing="none", progress=False, record_frames=False)
    assert item.status == "error" and item.error == "failed at frame 5: RuntimeError: boom"
    assert item.frames is None and item.frames_total == 3 and out.is_file()


def test_one_euro_and_ema_reduce_jitter_of_a_still_face():
    rng = np.random.default_rng(1)
    base = np.arange(10, dtype=np.float64) * 10
    for filt in (OneEuroFilter(min_cutoff=1.0, beta=0.0), EmaFilter(alpha=0.3)):
        out = np.array([filt(base + rng.normal(0, 1.0, 10), t / 25) for t in range(100)])
        assert out[20:].std(0).mean() < 0.6  # raw noise has std 1


def _face(x: float) -> Face:
    kps = ffhq_template(100) + np.array([x, 0.0])
    return Face(np.array([x, 0, x + 100, 100], float), 0.9, kps)


def test_smoother_resets_when_the_track_is_lost():
    smoother = LandmarkSmoother("ema", alpha=0.1)
    smoother([_face(0)], 0.0)
    moved = smoother([_face(5)], 0.04)[0]
    assert np.allclose(moved.kps, ffhq_template(100) + [0.5, 0])  # smoothed towards the old position
    assert smoother([], 0.08) == []
    back = smoother([_face(5)], 0.12)[0]
    assert np.allclose(back.kps, ffhq_template(100) + [5, 0])  # restarted from the raw points
