"""``python test.py``: swapping photos, folders with bad inputs, and videos end to end.

One CLI run covers a folder holding a real photo, a corrupt JPEG, a faceless image, a text file,
a zero-byte video, a header-only (zero-frame) video and a short clip assembled from shared
photos; the report must account for each. The video-with-audio and failure paths run in-process
(same code as the CLI minus the interpreter start) to keep the suite fast on CPU.
"""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import cv2
import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from reliableswap.config import register_resolvers
from reliableswap.inference.video_io import find_ffmpeg
from tests.inference.conftest import REPO  # noqa: F401 - fixtures come from tests/inference/conftest.py

pytest_plugins = ["tests.inference.conftest"]


def _compose(overrides: list[str]):
    register_resolvers()
    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        return compose(config_name="test", overrides=overrides)


def _write_clip(path: Path, images: list[np.ndarray], fps: float, size: tuple[int, int]) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for img in images:
        writer.write(cv2.resize(img, size))
    writer.release()


def _video_props(path: Path) -> tuple[int, float, int, int]:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    props = (n, cap.get(cv2.CAP_PROP_FPS), int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    cap.release()
    return props


@pytest.fixture(scope="module")
def target_folder(tmp_path_factory, wild) -> Path:
    root = tmp_path_factory.mktemp("targets")
    (root / "people").mkdir()
    biden = cv2.imread(str(wild / "joe_biden" / "1.jpg"))
    cv2.imwrite(str(root / "people" / "biden.jpg"), cv2.resize(biden, None, fx=0.4, fy=0.4))
    data = (wild / "kit_harington" / "1.jpg").read_bytes()
    (root / "corrupt.jpg").write_bytes(data[: len(data) // 3])
    gradient = np.tile(np.linspace(0, 255, 320, dtype=np.uint8)[None, :, None], (240, 1, 3))
    cv2.imwrite(str(root / "noface.png"), gradient)
    (root / "notes.txt").write_text("not an image")
    (root / "empty.mp4").write_bytes(b"")
    _write_clip(root / "noframes.mp4", [], 10, (128, 128))
    portraits = [cv2.imread(str(p)) for p in sorted((wild / "_portraits").glob("*.png"))]
    _write_clip(root / "clip.mp4", [portraits[i % len(portraits)] for i in range(5)] + [gradient], 10.0, (256, 256))
    return root


def test_help_describes_the_usage():
    proc = subprocess.run([sys.executable, "test.py", "--help"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    for text in ("ckpt=CKPT source=IMAGE target=IMAGE|DIR|VIDEO output=PATH", "faces=largest|all|reference",
                 "eval=PROTOCOL", "face_analyzer:", "ffmpeg", "baseline=copy_target", "baseline:"):
        assert text in proc.stdout


def test_folder_run_swaps_faces_and_reports_every_bad_input(tiny_ckpt, wild, scrfd, target_folder, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "test.py", f"ckpt={tiny_ckpt}", f"source={wild / 'barack_obama' / '2.jpg'}",
         f"target={target_folder}", f"output={out}", "device=cpu", "batch_size=4", "face_analyzer=scrfd",
         "video.progress=false", f"hydra.run.dir={tmp_path / 'hydra'}"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    by_name = {Path(i["path"]).name: i for i in report["inputs"]}
    assert report["analyzer"] == "scrfd_500m_kps" and report["source_faces"] == 1

    biden = by_name["biden.jpg"]
    assert biden["status"] == "swapped" and biden["faces_found"] == biden["faces_swapped"] == 1
    assert {"detect", "swap", "total"} <= set(biden["timings_s"])
    swapped = cv2.imread(str(out / "people" / "biden.jpg"))
    original = cv2.imread(str(target_folder / "people" / "biden.jpg"))
    assert swapped.shape == original.shape and np.abs(swapped.astype(int) - original.astype(int)).mean() > 0.1

    assert by_name["corrupt.jpg"]["status"] == "error" and "truncated" in by_name["corrupt.jpg"]["error"]
    noface = by_name["noface.png"]
    assert noface["status"] == "passthrough" and noface["faces_found"] == 0
    assert np.array_equal(cv2.imread(str(out / "noface.png")), cv2.imread(str(target_folder / "noface.png")))
    assert by_name["notes.txt"]["status"] == "skipped"
    for name in ("empty.mp4", "noframes.mp4"):
        assert by_name[name]["status"] == "error" and ("unreadable" in by_name[name]["error"]
                                                       or "no frames" in by_name[name]["error"])

    clip = by_name["clip.mp4"]
    assert clip["status"] == "swapped" and clip["frames_total"] == 6
    assert [f["found"] > 0 for f in clip["frames"]] == [True] * 5 + [False]
    assert clip["frames_passthrough"] == 1 and clip["frames"][-1]["swapped"] == 0
    n, fps, w, h = _video_props(out / "clip.mp4")
    assert (n, round(fps), w, h) == (6, 10, 256, 256)
    assert report["summary"] == {"swapped": 2, "passthrough": 1, "error": 3, "skipped": 1, "truncated": 0,
                                 "faces_swapped": 1 + clip["faces_swapped"]}
    assert (clip["frames_declared"], clip["frames_in"], clip["frames_out"], clip["truncated"]) == (6, 6, 6, False)


@pytest.fixture(scope="module")
def short_talking_video(tmp_path_factory, talking_video) -> Path:
    """The first 12 frames of the shared talking-head video, with its audio when ffmpeg exists."""
    out = tmp_path_factory.mktemp("video") / "talking.mp4"
    if find_ffmpeg():
        subprocess.run([find_ffmpeg(), "-v", "error", "-y", "-i", str(talking_video), "-frames:v", "12", "-c:v", "mpeg4",
                        "-q:v", "3", "-c:a", "aac", "-t", "0.5", str(out)], check=True, timeout=120)
    else:
        cap = cv2.VideoCapture(str(talking_video))
        frames = [cap.read()[1] for _ in range(12)]
        _write_clip(out, frames, cap.get(cv2.CAP_PROP_FPS), (frames[0].shape[1], frames[0].shape[0]))
    return out


def _sar(path: Path) -> tuple[int, int]:
    cap = cv2.VideoCapture(str(path))
    return int(cap.get(cv2.CAP_PROP_SAR_NUM)), int(cap.get(cv2.CAP_PROP_SAR_DEN))


def test_video_keeps_frames_fps_size_and_audio(tiny_ckpt, wild, scrfd, short_talking_video, tmp_path):
    from reliableswap.apps.test import run_from_config

    out = tmp_path / "swapped.mp4"
    cfg = _compose([f"ckpt={tiny_ckpt}", f"source={wild / '_portraits' / 'taylor.png'}", f"target={short_talking_video}",
                    f"output={out}", "device=cpu", "face_analyzer=scrfd", "video.progress=false"])
    assert run_from_config(cfg) == 0
    item = json.loads((tmp_path / "swapped_report.json").read_text())["inputs"][0]
    src = _video_props(short_talking_video)
    got = _video_props(out)
    assert got[0] == src[0] == item["frames_total"] and abs(got[1] - src[1]) < 0.01 and got[2:] == src[2:]
    assert item["frames_with_faces"] == src[0] and item["faces_swapped"] >= src[0]
    assert item["frames_in"] == item["frames_out"] == src[0]
    assert (item["output_width"], item["output_height"]) == src[2:]
    if find_ffmpeg():
        assert _sar(out) == _sar(short_talking_video) == (46, 45)  # non-square pixels kept
        assert item["audio"] == "copied" and item["codec"].startswith("h264")
        probe = subprocess.run([find_ffmpeg(), "-hide_banner", "-i", str(out)], capture_output=True, text=True)
        assert "Audio:" in probe.stderr and "Video: h264" in probe.stderr
    else:
        assert "ffmpeg not found" in item["audio"]


def test_audio_step_says_when_ffmpeg_is_missing(tmp_path, monkeypatch):
    from reliableswap.inference import video_io

    silent, final = tmp_path / ".x.video.mp4", tmp_path / "x.mp4"
    silent.write_bytes(b"frames")
    monkeypatch.setattr(video_io, "find_ffmpeg", lambda: None)
    status = video_io.mux_audio(silent, tmp_path / "in.mp4", final)
    assert "ffmpeg not found" in status and final.read_bytes() == b"frames" and not silent.exists()


def _container_seconds(path: Path) -> float:
    """The ``Duration:`` ffmpeg reads from the container (the longer of its streams)."""
    import re

    probe = subprocess.run([find_ffmpeg(), "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    h, m, sec = re.search(r"Duration: (\d+):(\d+):([\d.]+)", probe.stderr).groups()
    return int(h) * 3600 + int(m) * 60 + float(sec)


def test_a_video_stopped_by_max_frames_gets_only_its_part_of_the_audio(talking_video, tmp_path):
    from reliableswap.inference import video_io

    if not find_ffmpeg():
        pytest.skip("ffmpeg not found (PATH or imageio-ffmpeg)")
    cap = cv2.VideoCapture(str(talking_video))
    frames = [cap.read()[1] for _ in range(10)]
    fps = cap.get(cv2.CAP_PROP_FPS)
    for cut, expected in ((None, _container_seconds(talking_video)), (10 / fps, 10 / fps)):
        silent, final = tmp_path / ".clip.video.mp4", tmp_path / f"clip_{cut}.mp4"
        _write_clip(silent, frames, fps, (frames[0].shape[1], frames[0].shape[0]))
        status = video_io.mux_audio(silent, talking_video, final, max_seconds=cut)
        assert status.startswith("copied") and ("cut to the first" in status) == (cut is not None)
        assert abs(_container_seconds(final) - expected) < 0.15, (cut, _container_seconds(final), expected)


def test_source_without_a_face_fails_the_run_with_a_report(tiny_ckpt, scrfd, target_folder, tmp_path):
    from reliableswap.apps.test import run_from_config

    cfg = _compose([f"ckpt={tiny_ckpt}", f"source={target_folder / 'noface.png'}", f"target={target_folder / 'noface.png'}",
                    f"output={tmp_path / 'o.png'}", "device=cpu", "face_analyzer=scrfd"])
    assert run_from_config(cfg) == 1
    report = json.loads((tmp_path / "o_report.json").read_text())
    assert report["ok"] is False and "no face" in report["error"] and report["source_faces"] == 0


def test_eval_is_dispatched_to_the_evaluation_runner(tiny_ckpt, tmp_path, monkeypatch):
    from reliableswap.apps.test import run_from_config

    calls = []
    fake = types.ModuleType("reliableswap.evaluation.runner")
    fake.run = lambda cfg, swapper, output_dir: calls.append((cfg, swapper, output_dir)) or []
    monkeypatch.setitem(sys.modules, "reliableswap.evaluation.runner", fake)
    cfg = _compose([f"ckpt={tiny_ckpt}", f"output={tmp_path}", "device=cpu"])
    with open_dict(cfg):
        cfg.eval = {"protocol": {"_target_": "reliableswap.evaluation.protocols.FolderProtocol"}}
    assert run_from_config(cfg) == 0
    (_, swapper, output_dir), = calls
    assert swapper.size == 64 and output_dir == tmp_path


def test_baseline_group_builds_a_swapper_and_model_is_not_a_test_group(tmp_path):
    from hydra.errors import ConfigCompositionException

    from reliableswap.apps.test import baseline_node
    from reliableswap.evaluation.baselines import CopyTarget
    from reliableswap.inference.loading import build_swapper

    cfg = _compose(["baseline=copy_target", f"output={tmp_path}", "device=cpu"])
    swapper = build_swapper(cfg.get("ckpt"), baseline_node(cfg), cfg.device)
    assert isinstance(swapper, CopyTarget) and swapper.name == "copy_target"
    with pytest.raises(ConfigCompositionException):
        _compose(["model=copy_target"])


@pytest.mark.parametrize(
    ("overrides", "said"),
    [
        (["source=a.png", "target=b.png", "output=o.png"], "ckpt"),  # no swapper chosen
        (["ckpt=/nonexistent/last.ckpt", "source=a.png", "target=b.png", "output=o.png"], "/nonexistent/last.ckpt"),
        (["baseline=copy_target", "eval=folder", "eval.input=/nonexistent/faces", "output=OUT"], "/nonexistent/faces"),
        (["baseline=copy_target", "source=a.png"], "target=..."),
    ],
)
def test_usage_errors_exit_2_with_one_line(tmp_path, caplog, overrides, said):
    from reliableswap.apps.test import run_from_config

    cfg = _compose([o.replace("OUT", str(tmp_path)) for o in overrides] + ["device=cpu"])
    with caplog.at_level("ERROR", logger="reliableswap.apps.test"):
        assert run_from_config(cfg) == 2
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert said in record.getMessage() and "\n" not in record.getMessage()


def test_the_old_model_key_is_refused_in_one_line_with_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "test.py", "model=copy_target", "eval=folder", f"output={tmp_path}"],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2 and "use baseline=copy_target" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


# -- issue 10, kinds 1 and 13: bad checkpoints and bad outputs stop in one line with exit 2


@pytest.mark.parametrize("kind", ["zero_bytes", "random_bytes", "directory", "other_width", "hostile"])
def test_bad_checkpoint_exits_2_with_one_line(tmp_path, caplog, kind):
    import torch

    from reliableswap.apps.test import run_from_config
    from tests.inference.test_loading import _bad_checkpoint

    if kind == "hostile":
        ckpt = tmp_path / "evil.ckpt"
        victim = tmp_path / "victim.txt"
        victim.write_text("precious")
        torch.save({"state_dict": {}, "reliableswap_config": {
            "model": {"generator": {"_target_": "shutil.copyfile", "src": str(victim), "dst": str(tmp_path / "c")}},
            "identity": {"_target_": "builtins.open", "file": str(victim), "mode": "w"}}}, ckpt)
    else:
        ckpt = _bad_checkpoint(tmp_path, kind)
    (tmp_path / "a.png").write_bytes(b"")
    cfg = _compose([f"ckpt={ckpt}", f"source={tmp_path / 'a.png'}", f"target={tmp_path / 'a.png'}",
                    f"output={tmp_path / 'out.png'}", "device=cpu"])
    with caplog.at_level("ERROR", logger="reliableswap.apps.test"):
        assert run_from_config(cfg) == 2
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert str(ckpt) in record.getMessage() and "\n" not in record.getMessage()
    if kind == "hostile":
        assert "reliableswap_config.model.generator._target_='shutil.copyfile'" in record.getMessage()
        assert victim.read_text() == "precious" and not (tmp_path / "c").exists()


def _unwritable_dir(tmp_path: Path) -> Path:
    import os

    if os.geteuid() == 0:  # root writes through permission bits; /sys is a read-only mount
        return Path("/sys/reliableswap_test_out")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    return locked / "out"


@pytest.mark.parametrize(("case", "said"), [
    ("folder_target_file_output", "is a file"),
    ("image_output_is_a_folder", "is a folder"),
    ("output_under_a_file", "is a file, not a folder"),
    ("unwritable", "not writable"),
])
def test_bad_output_is_refused_before_any_work(tmp_path, caplog, case, said):
    from reliableswap.apps.test import run_from_config

    targets = tmp_path / "targets"
    targets.mkdir()
    target, output = targets / "t.png", tmp_path / "out.png"
    if case == "folder_target_file_output":
        target, output = targets, tmp_path / "out"
        output.write_text("a file")
    elif case == "image_output_is_a_folder":
        output.mkdir()
    elif case == "output_under_a_file":
        (tmp_path / "plain").write_text("x")
        output = tmp_path / "plain" / "out"
    else:
        output = _unwritable_dir(tmp_path)
    # ckpt does not exist: the output is checked first, so the output error is what is said
    cfg = _compose(["ckpt=/nonexistent/last.ckpt", "source=a.png", f"target={target}", f"output={output}", "device=cpu"])
    with caplog.at_level("ERROR", logger="reliableswap.apps.test"):
        assert run_from_config(cfg) == 2
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert said in record.getMessage() and "\n" not in record.getMessage()
    assert "/nonexistent" not in record.getMessage()


# -- issue 10, kind 16: the parsing mask is the default paste mask, with any analyzer


def test_default_paste_mask_is_the_unet_parser_and_landmarks_stay_an_option(tiny_ckpt, wild, scrfd, tmp_path):
    """parser=unet (the shipped U-Net) is the default and needs no 68 landmarks; parser=landmarks
    still works, with face_analyzer=auto then predicting the 68 points."""
    from reliableswap.apps.test import run_from_config

    assert _compose([]).parser._target_.endswith("LearnedFaceParser")
    assert _compose(["~parser"]).get("parser") is None  # the template ellipse
    common = [f"ckpt={tiny_ckpt}", f"source={wild / '_portraits' / 'taylor.png'}",
              f"target={wild / 'barack_obama' / '1.jpg'}", "device=cpu", "face_analyzer=auto"]
    for parser, name in (("unet", "LearnedFaceParser"), ("landmarks", "LandmarkFaceParser")):
        out = tmp_path / f"{parser}.jpg"
        assert run_from_config(_compose([*common, f"output={out}", f"parser={parser}"])) == 0
        report = json.loads((tmp_path / f"{parser}_report.json").read_text())
        assert report["analyzer"] == "scrfd_500m_kps" and report["settings"]["parser"] == name
        assert [i["status"] for i in report["inputs"]] == ["swapped"]


def test_parser_null_is_refused_in_one_line_pointing_to_tilde():
    proc = subprocess.run([sys.executable, "test.py", "parser=null"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2 and "'~parser'" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_a_folder_of_every_odd_input_is_accounted_for_and_nothing_is_silently_changed(
        tiny_ckpt, wild, scrfd, png_bomb, tmp_path):
    """Issue 10's folder: alpha, 16-bit, gray, a bomb, an odd-size and a truncated video, in one run."""
    root = tmp_path / "odd"
    root.mkdir()
    gradient = np.tile(np.linspace(0, 255, 96, dtype=np.uint8)[None, :], (64, 1))
    rgba = np.dstack([np.dstack([gradient] * 3), np.where(gradient > 128, 255, 0).astype(np.uint8)])
    cv2.imwrite(str(root / "alpha.png"), rgba)
    cv2.imwrite(str(root / "deep.png"), (gradient.astype(np.uint16) * 257)[..., None].repeat(3, 2))
    cv2.imwrite(str(root / "gray.jpg"), gradient)
    png_bomb(root / "bomb.png")
    portraits = [cv2.imread(str(p)) for p in sorted((wild / "_portraits").glob("*.png"))][:3]
    ffmpeg = find_ffmpeg()
    if ffmpeg is None:
        pytest.skip("an odd-size clip can only be made with ffmpeg (OpenCV's writers round to even sizes)")
    frames = tmp_path / "frames"
    frames.mkdir()
    for i, img in enumerate(portraits):
        cv2.imwrite(str(frames / f"{i}.png"), cv2.resize(img, (131, 97)))
    subprocess.run([ffmpeg, "-v", "error", "-y", "-framerate", "10", "-i", str(frames / "%d.png"), "-c:v", "libx264",
                    "-pix_fmt", "yuv444p", str(root / "odd.mp4")], check=True, timeout=120)
    assert _video_props(root / "odd.mp4")[2:] == (131, 97)
    _write_clip(root / "long.avi", [portraits[i % 3] for i in range(60)], 10.0, (128, 128))
    data = (root / "long.avi").read_bytes()
    (root / "long.avi").write_bytes(data[: len(data) // 3])  # truncated: declares 60 frames

    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "test.py", f"ckpt={tiny_ckpt}", f"source={wild / 'barack_obama' / '2.jpg'}",
         f"target={root}", f"output={out}", "device=cpu", "face_analyzer=scrfd", "video.progress=false",
         f"hydra.run.dir={tmp_path / 'hydra'}"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    report = json.loads((out / "report.json").read_text())
    by_name = {Path(i["path"]).name: i for i in report["inputs"]}
    assert set(by_name) == {p.name for p in root.iterdir()}  # every file is in the report
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 1 and report["ok"] is False  # the truncated video is not a full success
    for name in ("alpha.png", "deep.png", "gray.jpg"):  # no face: written unchanged, byte for byte
        assert by_name[name]["status"] == "passthrough", by_name[name]
        assert (out / name).read_bytes() == (root / name).read_bytes()
    assert by_name["bomb.png"]["status"] == "error" and "megapixels" in by_name["bomb.png"]["error"]
    odd = by_name["odd.mp4"]
    assert (odd["output_width"], odd["output_height"]) == (131, 97), odd
    assert odd["frames_out"] == odd["frames_in"] == 3
    long = by_name["long.avi"]
    assert long["truncated"] is True and long["frames_declared"] == 60 and long["frames_in"] < 60
    assert long["frames_out"] == long["frames_in"]
