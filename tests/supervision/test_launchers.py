"""The triplet builder's shards through Hydra's own launcher plugins (hydra-joblib-launcher,
hydra-submitit-launcher): parallel jobs into one output, the SLURM launcher's composed config,
submitit's local executor, and stopping a multirun."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from reliableswap.io.csv_rows import read_rows

REPO = Path(__file__).resolve().parents[2]
APP = [sys.executable, "-m", "supervision.build_triplets"]
LOG_TIME = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]")

pytest.importorskip("hydra_plugins.hydra_joblib_launcher", reason="pip install 'reliableswap[cluster]'")
pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="pip install 'reliableswap[cluster]'")


@pytest.fixture
def faces(celeba_images, shared_weight, tmp_path) -> Path:
    """A folder of links to 12 shared faces (nothing copied); skips without the shared data."""
    shared_weight("recognition/mobilefacenet_arcface.pt")
    folder = tmp_path / "faces"
    folder.mkdir()
    for src in sorted(celeba_images.glob("*.jpg"))[100:112]:
        (folder / src.name).symlink_to(src)
    return folder


def _expected_ids(faces: Path, num_pairs: int, seed: int, shard: str = "0/1") -> set[str]:
    """Pair ids of ``shard`` of the unsharded pair list (supervision.sampling)."""
    from reliableswap.io.index import scan_folder
    from supervision.sampling import Shard, sample_pairs

    owner = Shard.parse(shard)
    return {p.pair_id for p in sample_pairs(scan_folder(faces, read_sizes=False), num_pairs, seed) if owner.owns(p)}


def _recorded(out: Path) -> tuple[list[str], list[str]]:
    return [r["pair_id"] for r in read_rows(out / "triplets.csv")], [r["pair_id"] for r in read_rows(out / "failures.csv")]


def _assert_union(out: Path, expected: set[str]) -> None:
    built, failed = _recorded(out)
    assert len(built) == len(set(built)), f"duplicate triplet rows: {built}"
    assert len(failed) == len(set(failed)), f"duplicate failure rows: {failed}"
    assert not set(built) & set(failed)
    assert set(built) | set(failed) == expected
    assert {p.name for p in out.iterdir() if p.is_dir() and p.name[:6].isdigit()} == set(built)


def _job_window(log: Path) -> tuple[int, datetime, datetime]:
    """(worker pid, start, end) of one job from its Hydra log file (its first and 'summary' lines)."""
    lines = log.read_text().splitlines()
    started = next(line for line in lines if re.search(r"shard \d+/\d+: process \d+", line))
    ended = next(line for line in lines if "summary:" in line)
    pid = int(re.search(r"process (\d+)", started).group(1))

    def stamp(line: str) -> datetime:
        return datetime.strptime(LOG_TIME.match(line).group(1), "%Y-%m-%d %H:%M:%S,%f")

    return pid, stamp(started), stamp(ended)


def test_joblib_multirun_builds_two_shards_at_once_into_one_output(faces, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [*APP, "-m", f"input={faces}", f"output={out}", "num_pairs=6", "seed=2",
         "shard=0/2,1/2", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-3000:]
    _assert_union(out, _expected_ids(faces, 6, 2))
    sweeps = list((out / "logs").glob("multirun_*"))
    assert len(sweeps) == 1, "the sweep folder belongs under OUT/logs"
    windows = [_job_window(sweeps[0] / str(job) / "build_triplets.log") for job in (0, 1)]
    pids = {pid for pid, _, _ in windows}
    assert len(pids) == 2 and proc.pid not in pids, f"the shards did not run in two worker processes: {pids}"
    (_, start0, end0), (_, start1, end1) = windows
    assert start0 < end1 and start1 < end0, f"the shards ran one after the other: {windows}"
    assert not (REPO / "multirun").exists()


def _cfg_hydra(*overrides: str) -> OmegaConf:
    proc = subprocess.run([*APP, "input=faces", "output=out", *overrides, "--cfg", "hydra"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return OmegaConf.create(proc.stdout).hydra


@pytest.mark.parametrize("launcher", ["submitit_slurm", "slurm_gpu"])
def test_the_slurm_launcher_composes_with_the_plugins_own_keys(launcher):
    from hydra.utils import get_class

    cfg = _cfg_hydra(f"hydra/launcher={launcher}", "hydra.launcher.partition=gpu", "hydra.launcher.timeout_min=90",
                     "hydra.launcher.gpus_per_node=4", "hydra.launcher.tasks_per_node=4",
                     "hydra.launcher.cpus_per_task=6", "hydra.launcher.mem_gb=64")
    launcher_cfg = cfg.launcher
    assert launcher_cfg._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    get_class(launcher_cfg._target_)  # importable
    assert (launcher_cfg.partition, launcher_cfg.timeout_min, launcher_cfg.gpus_per_node) == ("gpu", 90, 4)
    assert (launcher_cfg.tasks_per_node, launcher_cfg.cpus_per_task, launcher_cfg.mem_gb) == (4, 6, 64)
    assert cfg.runtime.choices["hydra/launcher"] == launcher
    assert OmegaConf.to_container(cfg.sweep)["dir"].startswith("${output}/logs/")  # job logs and .submitit/ next to the triplets
    if launcher == "slurm_gpu":
        assert _cfg_hydra("hydra/launcher=slurm_gpu").launcher.tasks_per_node == 1


def test_submitit_local_runs_one_shard_for_real(faces, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [*APP, "-m", f"input={faces}", f"output={out}", "num_pairs=4", "seed=2", "shard=0/2",
         "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    _assert_union(out, _expected_ids(faces, 4, 2, "0/2"))
    sweep = next((out / "logs").glob("multirun_*"))
    # submitit keeps each job's stdout (Hydra's console log) and stderr (tqdm) in .submitit/<job id>/
    job_out = list((sweep / ".submitit").glob("*/*_log.out"))
    assert len(job_out) == 1 and "summary:" in job_out[0].read_text()
    assert "Job completed successfully" in job_out[0].read_text()
    assert "summary:" in (sweep / "0" / "build_triplets.log").read_text()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_sigterm_stops_a_joblib_multirun_and_its_workers_and_the_rerun_finishes(faces, tmp_path):
    out = tmp_path / "out"
    cmd = [*APP, "-m", f"input={faces}", f"output={out}", "num_pairs=8", "seed=3", "batch_size=1",
           "shard=0/2,1/2", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
    err_file = tmp_path / "stderr.txt"
    with err_file.open("w") as err:  # a file, not a pipe: workers that outlive the run cannot block the test
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None and sum(map(len, _recorded(out))) < 1:
            time.sleep(0.1)
        assert proc.poll() is None, "the multirun finished before it could be stopped; the test proves nothing"
        os.killpg(proc.pid, signal.SIGTERM)  # what SLURM / a terminal's job control send to the whole group
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    deadline = time.time() + 20
    while _group_alive(proc.pid) and time.time() < deadline:
        time.sleep(0.2)
    if _group_alive(proc.pid):
        os.killpg(proc.pid, signal.SIGKILL)  # leave no workers behind, then fail
        pytest.fail("joblib workers outlived the stopped multirun")
    stderr = err_file.read_text()
    assert proc.returncode == 143, stderr[-2000:]
    assert "Traceback" not in stderr
    assert "python -m supervision.build_triplets: finished work is saved; rerun the same command to resume" in stderr
    assert sum(map(len, _recorded(out))) < 8
    rerun = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    _assert_union(out, _expected_ids(faces, 8, 3))


def test_a_bad_shard_in_a_sweep_stops_before_any_job_in_one_line(tmp_path):
    proc = subprocess.run([*APP, "-m", f"input={tmp_path}", f"output={tmp_path / 'out'}", "shard=0/2,2/2",
                           "hydra/launcher=joblib"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "python -m supervision.build_triplets: error: shard '2/2': need 0 <= i < n"
    ]
    assert not (tmp_path / "out").exists()


def test_help_names_the_launchers():
    proc = subprocess.run([*APP, "--help"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert "hydra/launcher=joblib" in proc.stdout and "hydra/launcher=submitit_slurm" in proc.stdout
    assert "basic (default: one job after the other), joblib, submitit_local, submitit_slurm, slurm_gpu" in proc.stdout and "Builds ReliableSwap triplets" in proc.stdout
