"""The triplet builder end to end on real faces: quality judged independently, kill + resume,
sharding, and bad input recorded as failures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from reliableswap.io.csv_rows import read_rows
from reliableswap.config import renamed_key_error
from supervision.build_triplets import RENAMED_KEYS, check_builder_groups

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _needs_shared(celeba_images, shared_weight):
    shared_weight("recognition/mobilefacenet_arcface.pt")


def _cmd(input_dir: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "supervision.build_triplets", f"input={input_dir}", f"output={out}", *extra]


def _run(cmd: list[str], timeout: int = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _subset(celeba_images: Path, tmp_path: Path, n: int, offset: int = 0) -> Path:
    """A folder of links to n shared faces (the builder reads them; nothing is copied)."""
    folder = tmp_path / "faces"
    folder.mkdir(exist_ok=True)
    for src in sorted(celeba_images.glob("*.jpg"))[offset : offset + n]:
        (folder / src.name).symlink_to(src)
    return folder


def _assert_consistent(out: Path, expected_ids: set[str] | None = None) -> tuple[list[dict], list[dict]]:
    rows, failures = read_rows(out / "triplets.csv"), read_rows(out / "failures.csv")
    built = [r["pair_id"] for r in rows]
    failed = [r["pair_id"] for r in failures]
    assert len(built) == len(set(built)), "duplicate triplet rows"
    assert len(failed) == len(set(failed)), "duplicate failure rows"
    assert not set(built) & set(failed)
    if expected_ids is not None:
        assert set(built) | set(failed) == expected_ids
    pair_dirs = {p.name for p in out.iterdir() if p.is_dir() and p.name[:6].isdigit()}
    assert pair_dirs == set(built), "pair folders and triplets.csv disagree"
    assert not [p for p in out.iterdir() if p.name.startswith(".tmp-")]
    for pid in built:
        files = sorted(f.name for f in (out / pid).iterdir())
        assert [f for f in files if f != "maps.npz"] == ["output_st.jpg", "output_ts.jpg", "source.jpg", "target.jpg"]
    return rows, failures


@pytest.mark.slow
def test_builds_20_triplets_closer_to_source_identity_and_in_target_pose(celeba_images, tmp_path):
    """Issue acceptance: >= 20 triplets; >= 80% of swaps closer (dlib) to the source identity;
    head pose (3DDFA-V2) follows the target."""
    from supervision.evaluate import evaluate_triplets

    out = tmp_path / "triplets"
    # the artifact checks accept about 35-40 % of the pairs of these faces: 72 pairs give ~25 triplets
    _run(_cmd(celeba_images, out, "num_pairs=72", "seed=0", "debug_snapshots=true", "debug_pairs=2"))
    rows, _ = _assert_consistent(out)
    assert len(rows) >= 20
    assert len(list((out / "debug").glob("*.png"))) == 2
    report = evaluate_triplets(out)
    assert report.judged >= 40
    assert report.closer_to_source >= 0.8, report.line()
    yaw, pitch, roll = report.pose_err_to_target_deg
    ref_yaw, ref_pitch, _ = report.pose_err_source_to_target_deg
    assert yaw < 5.0 and pitch < 5.0 and roll < 3.0, report.line()
    assert yaw < 0.5 * ref_yaw and pitch < 0.7 * ref_pitch, report.line()


def test_killed_run_resumes_without_duplicates_or_missing_pairs(celeba_images, tmp_path):
    from supervision.sampling import sample_pairs
    from reliableswap.io.index import scan_folder

    faces = _subset(celeba_images, tmp_path, 16)
    out = tmp_path / "out"
    cmd = _cmd(faces, out, "num_pairs=10", "batch_size=1", "seed=1")
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    try:
        while time.time() < deadline and proc.poll() is None:
            done = len(read_rows(out / "triplets.csv")) + len(read_rows(out / "failures.csv"))
            if done >= 3:
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode != 0, "the run finished before it could be killed; the test proves nothing"
    partial = len(read_rows(out / "triplets.csv")) + len(read_rows(out / "failures.csv"))
    assert 0 < partial < 10
    _run(cmd)  # the same command finishes the job
    expected = {p.pair_id for p in sample_pairs(scan_folder(faces, read_sizes=False), 10, 1)}
    _assert_consistent(out, expected)


def test_two_shards_cover_every_pair_exactly_once(celeba_images, tmp_path):
    from reliableswap.io.index import scan_folder
    from supervision.sampling import sample_pairs

    faces = _subset(celeba_images, tmp_path, 12, offset=100)
    out = tmp_path / "out"
    for shard in ("0/2", "1/2"):
        _run(_cmd(faces, out, "num_pairs=6", "seed=2", f"shard={shard}"))
    expected = {p.pair_id for p in sample_pairs(scan_folder(faces, read_sizes=False), 6, 2)}
    _assert_consistent(out, expected)
    before = (out / "triplets.csv").read_text()
    _run(_cmd(faces, out, "num_pairs=6", "seed=2", "shard=1/2"))  # rerun: nothing to do
    assert (out / "triplets.csv").read_text() == before


def test_bad_inputs_become_failures_and_the_run_goes_on(celeba_images, tmp_path):
    faces = _subset(celeba_images, tmp_path, 3, offset=200)
    (faces / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(500))
    (faces / "notes.jpg").write_text("not an image")
    cv2.imwrite(str(faces / "tiny.png"), np.full((20, 20, 3), 128, np.uint8))
    gradient = np.tile(np.linspace(0, 255, 256, dtype=np.uint8)[None, :, None], (256, 1, 3))
    cv2.imwrite(str(faces / "no_face.png"), gradient)
    out = tmp_path / "out"
    _run(_cmd(faces, out, "num_pairs=20", "seed=0"))
    _, failures = _assert_consistent(out)
    reasons = " ".join(f"{f['stage']}:{f['reason']}" for f in failures)
    assert "load:corrupt.jpg" in reasons or "load:notes.jpg" in reasons
    assert "load:tiny.png" in reasons
    stages = {f["stage"] for f in failures}
    assert "load" in stages
    # the gradient has no face: with the aligned-crop fallback off it must fail in analysis
    _run(_cmd(faces, tmp_path / "out2", "num_pairs=20", "seed=0", "face_analyzer.dlib.assume_aligned_box=false"))
    _, failures2 = _assert_consistent(tmp_path / "out2")
    assert any(f["stage"] == "analysis" and "no_face.png" in f["reason"] for f in failures2)


def test_builder_only_groups_are_chosen_under_builder_and_keep_their_node():
    from hydra import compose, initialize_config_dir
    from hydra.errors import ConfigCompositionException

    base = ["input=faces", "output=out"]
    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        cfg = compose(config_name="build_triplets", overrides=base)
        assert cfg.reenactor._target_.endswith("LandmarkReenactor") and cfg.inpainter._target_.endswith("OpenCVInpainter")
        cfg = compose(config_name="build_triplets",
                      overrides=[*base, "builder/reenactor=lia", "builder/inpainter=diffusion", "debug_snapshots=true"])
        assert cfg.reenactor._target_.endswith("LIAReenactor") and cfg.inpainter._target_.endswith("DiffusionInpainter")
        assert cfg.debug_snapshots is True and "builder" not in cfg
        with pytest.raises((ConfigCompositionException, ValueError)):  # debug is train.py's group
            compose(config_name="build_triplets", overrides=[*base, "debug=true"])
        old = compose(config_name="build_triplets", overrides=[*base, "reenactor=lia"])  # the old group path
    with pytest.raises(ValueError, match="builder/reenactor=lia"):
        check_builder_groups(old)


@pytest.mark.parametrize(
    ("override", "new"),
    [("reenactor=lia", "builder/reenactor=lia"), ("+analyzer=scrfd", "face_analyzer=scrfd"),
     ("debug=true", "debug_snapshots=true"), ("enhancer=none", "builder/enhancer=none")],
)
def test_renamed_keys_are_named_in_one_line(override, new):
    message = renamed_key_error(["input=faces", override], RENAMED_KEYS, "builder")
    assert message is not None and new in message and "\n" not in message
    ok = ["input=faces", "builder/reenactor=lia", "face_analyzer=scrfd", "debug_snapshots=true"]
    assert renamed_key_error(ok, RENAMED_KEYS, "builder") is None


def test_the_command_line_refuses_a_renamed_key_with_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "supervision.build_triplets", f"input={tmp_path}",
                           f"output={tmp_path / 'o'}", "analyzer=scrfd"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2 and "use face_analyzer=scrfd" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "o").exists()


def _noise_faces(folder: Path, n: int = 4) -> Path:
    """n random 80x80 PNGs, each its own identity (enough to sample pairs; never decoded here)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        cv2.imwrite(str(folder / f"p{i}.png"), rng.integers(0, 256, (80, 80, 3), dtype=np.uint8))
    return folder


def _one_line_refusal(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def test_a_second_run_on_the_same_output_and_shard_is_refused_while_the_first_holds_the_lock(tmp_path):
    from supervision.storage import OutputBusyError, TripletStore

    faces, out = _noise_faces(tmp_path / "faces"), tmp_path / "out"
    store = TripletStore(out)
    with store.lock("0/1"):
        with pytest.raises(OutputBusyError):  # the lock is exclusive, also within one process
            with TripletStore(out).lock("0/1"):
                pass
        with TripletStore(out).lock("1/2"):  # other shards of the same output may run side by side
            pass
        proc = subprocess.run(_cmd(faces, out, "num_pairs=4"), cwd=REPO, capture_output=True, text=True, timeout=300)
        line = _one_line_refusal(proc)
        assert "another process" in line and "shard 0/1" in line
    assert not (out / "triplets.csv").exists() and not (out / "failures.csv").exists()


@pytest.mark.parametrize("shard", ["3/2", "x", "-1/2", "1/0"])
def test_a_bad_shard_spec_stops_in_one_line_with_exit_2(tmp_path, shard):
    faces = _noise_faces(tmp_path / "faces")
    proc = subprocess.run(_cmd(faces, tmp_path / "out", f"shard={shard}"), cwd=REPO, capture_output=True, text=True)
    assert "shard" in _one_line_refusal(proc)


def test_an_empty_input_or_an_output_that_is_a_file_stops_in_one_line_with_exit_2(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = subprocess.run(_cmd(empty, tmp_path / "out"), cwd=REPO, capture_output=True, text=True)
    assert "holds no images" in _one_line_refusal(proc)
    proc = subprocess.run(_cmd(tmp_path / "missing", tmp_path / "out"), cwd=REPO, capture_output=True, text=True)
    assert "input not found" in _one_line_refusal(proc)
    a_file = tmp_path / "out.txt"
    a_file.write_text("keep me")
    proc = subprocess.run(_cmd(_noise_faces(tmp_path / "faces"), a_file), cwd=REPO, capture_output=True, text=True)
    assert "is not a folder" in _one_line_refusal(proc)
    assert a_file.read_text() == "keep me"


def test_no_input_or_output_on_the_command_line_is_one_line_with_exit_2(tmp_path):
    for args, missing in (([], "input=..., output=..."), ([f"output={tmp_path / 'o'}"], "input=...")):
        proc = subprocess.run([sys.executable, "-m", "supervision.build_triplets", *args], cwd=REPO,
                              capture_output=True, text=True)
        assert f"missing {missing}" in _one_line_refusal(proc)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_ctrl_c_stop_the_builder_in_one_line_and_the_rerun_finishes(celeba_images, tmp_path, signum, status,
                                                                                interrupt_when):
    faces = _subset(celeba_images, tmp_path, 10)
    out = tmp_path / "out"
    cmd = _cmd(faces, out, "num_pairs=8", "batch_size=1", "seed=3")
    def one_pair_recorded() -> bool:
        return len(read_rows(out / "triplets.csv")) + len(read_rows(out / "failures.csv")) >= 1

    returncode, stderr = interrupt_when(cmd, REPO, one_pair_recorded, signum)
    assert returncode == status, stderr[-2000:]
    assert "Traceback" not in stderr
    assert [line for line in stderr.splitlines() if "rerun the same command to resume" in line] == [
        "python -m supervision.build_triplets: finished work is saved; rerun the same command to resume"
    ]
    _run(cmd)  # the lock was released with the process; the same command finishes the job
    _assert_consistent(out)
    assert len(read_rows(out / "triplets.csv")) + len(read_rows(out / "failures.csv")) == 8


def test_occluders_stay_out_of_the_blend_on_held_out_faces(celeba_images, tmp_path):
    """Issue 11 on faces the shipped parser never saw (the last 100 stems): with ground-truth
    masks, under 1 % of the blend mask lies on hair/hat/glasses/jewellery/cloth of target or
    source; no accepted pair has a warp fold; every image's measurements are in quality.csv and
    every rejected pair names its checks."""
    from supervision.evaluate import artifact_metrics

    folder = tmp_path / "faces"
    folder.mkdir()
    for src in sorted(celeba_images.glob("*.jpg"))[-12:]:
        (folder / src.name).symlink_to(src)
    out = tmp_path / "triplets"
    _run(_cmd(folder, out, "num_pairs=8", "seed=3", "save_maps=true"))
    rows, failures = _assert_consistent(out)
    quality = read_rows(out / "quality.csv")
    assert len(quality) == 2 * (len(rows) + len([f for f in failures if f["stage"] == "quality"]))
    assert all(f["check"] for f in failures if f["stage"] == "quality")
    assert rows, "no pair accepted"
    report = artifact_metrics(out, celeba_images.parent / "masks")
    assert report.occluder_target + report.occluder_source < 0.01, report.line()
    assert report.swaps_with_fold == 0, report.line()
    assert report.haze < 0.5, report.line()


def test_missing_backend_weights_stop_in_one_line(celeba_images, tmp_path):
    folder = _subset(celeba_images, tmp_path, 2)
    proc = subprocess.run(_cmd(folder, tmp_path / "out", "num_pairs=1", f"parser.weights_path={tmp_path / 'absent.pt'}"),
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "face_parser_unet" in errors[0] and "Traceback" not in proc.stderr




def test_the_official_backend_combination_runs_end_to_end_with_random_official_weights(celeba_images, tmp_path):
    """builder/reenactor=lia parser=dml_csr builder/inpainter=deepfill_v2 builder/enhancer=gpen, each
    loading a file in its release's layout (random values), writes complete pairs on real faces."""
    from supervision.random_backends import NO_QUALITY_FILTER as _NO_FILTER
    from supervision.random_backends import official_overrides, write_random_official_weights

    files = write_random_official_weights(tmp_path / "weights", gpen_size=256)
    folder = _subset(celeba_images, tmp_path, 4)
    out = tmp_path / "out"
    proc = _run(_cmd(folder, out, "num_pairs=2", "batch_size=2", "debug_snapshots=true", "debug_pairs=1",
                     *official_overrides(files, gpen_size=256, parser_size=128), *_NO_FILTER))
    rows, failures = _assert_consistent(out)
    assert len(rows) == 2 and not failures, failures
    backends = {(r["reenactor"], r["parser"], r["inpainter"], r["enhancer"]) for r in rows}
    assert backends == {("LIAReenactor", "DMLCSRParser", "DeepFillV2Inpainter", "GPENEnhancer")}
    summary = next(line for line in (proc.stdout + proc.stderr).splitlines() if "summary:" in line)
    assert "unmeasured_checks=warp_fold,warp_stretch" in summary
    stage = {k: float(v) for k, v in (f.split("=") for f in summary.split() if f.startswith("stage_s/"))}
    assert stage["stage_s/enhance"] > 0.05, summary  # GPEN ran on every result

    # DeepFill v2 runs where a reshape band is dropped; random parser weights give none, so it is
    # run once more behind the real offline reenactor and parser, where B's jaw is dropped
    out3 = tmp_path / "out3"
    proc3 = _run(_cmd(folder, out3, "num_pairs=2", "builder/inpainter=deepfill_v2",
                      f"inpainter.weights_path={files['inpainter']}", *_NO_FILTER))
    summary3 = next(line for line in (proc3.stdout + proc3.stderr).splitlines() if "summary:" in line)
    reshape = float(next(f for f in summary3.split() if f.startswith("stage_s/reshape=")).split("=")[1])
    assert reshape > 0.1, summary3  # the OpenCV inpainter takes ~0.02 s per pair: this is DeepFill
    assert {r["inpainter"] for r in read_rows(out3 / "triplets.csv")} == {"DeepFillV2Inpainter"}

    # LIA gives no landmarks: with the landmark parser the builder analyses A' instead of drawing NaN
    out2 = tmp_path / "out2"
    _run(_cmd(folder, out2, "num_pairs=1", "builder/reenactor=lia", f"reenactor.weights_path={files['reenactor']}",
              "parser=landmarks", *_NO_FILTER))
    rows2, failures2 = _assert_consistent(out2)
    assert len(rows2) == 1 and not failures2
