"""End-to-end training through the Hydra configs: fast_dev_run, resume, and the demo contract."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from reliableswap.config import register_resolvers

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"
MOBILEFACENET = "recognition/mobilefacenet_arcface.pt"


@pytest.fixture(autouse=True)
def _needs_shared(celeba_images, shared_weight):
    shared_weight(MOBILEFACENET)


def _compose(overrides: list[str]):
    register_resolvers()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


def _train(run_dir: Path, *overrides: str, experiment: str = "faceshifter_vanilla"):
    from reliableswap.apps.train import train

    cfg = _compose([f"experiment={experiment}", "debug=tiny", f"paths.output_dir={run_dir}", *overrides])
    assert cfg.task_name == experiment
    return train(cfg)


@pytest.mark.parametrize("experiment", ["faceshifter_vanilla", "simswap_vanilla", "fixernet"])
def test_experiments_fast_dev_run(tmp_path, experiment, caplog):
    # the uniform command line passes data.triplets to every experiment; the DataModules
    # that train without triplets accept it in one place (FaceDataModule) and say they do not use it
    with caplog.at_level("WARNING", logger="reliableswap.data.base_datamodule"):
        result = _train(tmp_path, "debug=fdr", f"data.triplets={tmp_path}", experiment=experiment)
    assert result.global_step == 1
    assert "is not used" in caplog.text and "trains without triplets" in caplog.text


def test_resume_from_last_checkpoint_continues_at_the_same_step(tmp_path):
    first = _train(tmp_path / "a", "trainer.max_steps=2")
    assert first.global_step == 2 and first.last_checkpoint is not None
    ckpt = torch.load(first.last_checkpoint, map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == 2
    # One iteration = one global step: the D step must not be counted (Adam's own step count shows it).
    assert [s["state"][0]["step"].item() for s in ckpt["optimizer_states"]] == [2, 2]

    resumed = _train(tmp_path / "b", "trainer.max_steps=4", f"ckpt_path={first.last_checkpoint}")
    assert resumed.global_step == 4
    final = torch.load(resumed.last_checkpoint, map_location="cpu", weights_only=False)
    assert final["global_step"] == 4
    assert [s["state"][0]["step"].item() for s in final["optimizer_states"]] == [4, 4]
    # the resumed run started from the saved weights, not from a fresh initialisation
    fresh = _train(tmp_path / "c", "trainer.max_steps=2", "seed=7")
    key = "generator.encoder.conv1.0.weight"
    assert not torch.equal(final["state_dict"][key], fresh.last_checkpoint and torch.load(fresh.last_checkpoint, weights_only=False)["state_dict"][key])


def test_missing_identity_weights_stop_with_the_expected_path(tmp_path):
    from hydra.errors import InstantiationException

    from reliableswap.weights import MissingWeightsError

    missing = tmp_path / "nope.pt"
    with pytest.raises((MissingWeightsError, InstantiationException)) as err:
        _train(tmp_path, f"identity.weights_path={missing}")
    assert str(missing) in str(err.value) + str(err.value.__cause__)


def test_demo_command_writes_scalars_images_and_last_checkpoint(tmp_path):
    """The README/issue contract: python train.py experiment=demo trainer.max_steps=N hydra.run.dir=DIR."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = tmp_path / "demo"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [sys.executable, "train.py", "experiment=demo", "trainer.max_steps=3", f"hydra.run.dir={run_dir}",
         "data.num_workers=0", "callbacks.swap_grid.every_n_steps=2", "trainer.log_every_n_steps=1",
         "callbacks.health.every_n_steps=2", "callbacks.health.num_pairs=8", "trainer.val_check_interval=2"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert (run_dir / "swap_grid_final.png").is_file()
    assert str(run_dir / "swap_grid_final.png") in proc.stderr + proc.stdout  # it says where it wrote things
    events = list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    assert events
    acc = EventAccumulator(str(events[0].parent)).Reload()
    scalars = set(acc.Tags()["scalars"])
    for term in ("adversarial", "identity", "attribute", "reconstruction", "cycle", "total"):
        assert f"train/g_{term}" in scalars
    assert {"train/d_loss", "train/lr_g", "train/lr_d"} <= scalars
    assert "train/swap_grid" in acc.Tags()["images"]
    # the health monitor ran on held-out faces at the start and the end, with its copy-target baseline
    assert {"health/identity_sensitivity", "health/baseline/id_top1"} <= scalars
    assert [e.step for e in acc.Scalars("health/identity_sensitivity")] == [0, 2, 3]
    assert (run_dir / "health.jsonl").is_file()
    assert [p.name for p in sorted((run_dir / "grids").glob("*.png"))] == ["step_0000001.png", "step_0000002.png", "step_0000003.png"]
    assert {"val/id_similarity", "val/id_similarity_copy_target"} <= scalars


def test_demo_stops_with_a_clear_message_when_data_is_missing(tmp_path):
    env = {**os.environ, "RELIABLESWAP_DATA": str(tmp_path / "no_data_here")}
    proc = subprocess.run(
        [sys.executable, "train.py", "experiment=demo", "trainer.max_steps=1", f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode != 0
    assert "face data not found" in proc.stderr and "RELIABLESWAP_DATA" in proc.stderr


@pytest.fixture(scope="module")
def built_triplets(tmp_path_factory, celeba_images):
    """A few real triplets made by supervision.build_triplets from shared faces."""
    from supervision.build_triplets import build

    faces = tmp_path_factory.mktemp("faces")
    for src in sorted(celeba_images.glob("*.jpg"))[300:312]:
        (faces / src.name).symlink_to(src)
    out = tmp_path_factory.mktemp("triplets")
    register_resolvers()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(config_name="build_triplets", overrides=[f"input={faces}", f"output={out}", "num_pairs=6"])
    summary = build(cfg)
    if summary["built"] < 2:
        pytest.fail(f"too few triplets built for the training tests: {summary}")
    return out


@pytest.mark.parametrize("experiment", ["faceshifter_cycle", "faceshifter_naive", "faceshifter512_cycle", "simswap_cycle"])
def test_triplet_experiments_train_on_built_triplets(tmp_path, built_triplets, experiment):
    """The issue contract: experiment=<name> debug=tiny data.triplets=DIR trainer.max_steps=N."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from reliableswap.apps.train import train

    cfg = _compose([
        f"experiment={experiment}", "debug=tiny", f"data.triplets={built_triplets}", "trainer.max_steps=3",
        "data.triplet_batch_size=2", f"paths.output_dir={tmp_path}",
    ])
    assert cfg.model.triplet_rate == pytest.approx(0.2)
    result = train(cfg)
    assert result.global_step == 3 and result.last_checkpoint is not None
    acc = EventAccumulator(str(result.tensorboard_dir)).Reload()
    scalars = set(acc.Tags()["scalars"])
    # step 2 is a triplet step for triplet_seed 0 at rate 0.2: its terms and grid must be logged
    assert {"train/triplet/pixel", "train/triplet/identity", "train/triplet/total"} <= scalars
    assert "train/triplet_grid" in acc.Tags()["images"]
    steps = [e.value for e in acc.Scalars("train/triplet_step")]
    assert 0 < sum(steps) < len(steps)  # vanilla and triplet steps are mixed
    # triplet terms are written at triplet steps only (no stale values at vanilla steps)
    assert {e.step for e in acc.Scalars("train/triplet/pixel")} == {2}


def test_init_weights_starts_from_another_checkpoint(tmp_path):
    from reliableswap.apps.train import build_module, load_init_weights

    first = _train(tmp_path / "a", "trainer.max_steps=1")
    module = build_module(_compose(["experiment=faceshifter_vanilla", "debug=tiny", f"paths.output_dir={tmp_path / 'b'}"]))
    assert load_init_weights(module, first.last_checkpoint) == ["generator", "discriminator"]
    saved = torch.load(first.last_checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    key = "encoder.conv1.0.weight"
    assert torch.equal(module.generator.state_dict()[key], saved[f"generator.{key}"])


def test_init_weights_takes_a_float16_export_by_registry_name(tmp_path, monkeypatch):
    """scripts/export_reference.py -> registry entry with sha256 -> init_weights=<name>."""
    import importlib.util

    from reliableswap import weights
    from reliableswap.apps.train import build_module, load_init_weights

    first = _train(tmp_path / "a", "trainer.max_steps=1")
    spec = importlib.util.spec_from_file_location("export_reference", REPO / "scripts" / "export_reference.py")
    export = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(export)
    out = tmp_path / "ref.pt"
    line = export.main([str(first.last_checkpoint), str(out)])
    sha = line.rsplit("sha256=", 1)[1]
    assert sha == weights.file_sha256(out)
    saved = torch.load(out, weights_only=True)["state_dict"]
    assert saved["generator.encoder.conv1.0.weight"].dtype == torch.float16
    assert not any(k.startswith("identity.") for k in saved)  # the encoder comes from its own file
    entry = weights.WeightEntry("toy_reference", "unused", "repo", "test", "test", sha256=sha)
    monkeypatch.setitem(weights.REGISTRY, "toy_reference", entry)
    monkeypatch.setenv(entry.env_var, str(out))
    module = build_module(_compose(["experiment=faceshifter_vanilla", "debug=tiny", f"paths.output_dir={tmp_path / 'b'}"]))
    assert load_init_weights(module, "toy_reference") == ["generator", "discriminator"]
    full = torch.load(first.last_checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    key = "encoder.conv1.0.weight"
    torch.testing.assert_close(module.generator.state_dict()[key], full[f"generator.{key}"].half().float())
    out.write_bytes(out.read_bytes() + b"x")  # a damaged or different file is refused
    with pytest.raises(weights.ChecksumError):
        load_init_weights(module, "toy_reference")


def test_triplet_settings_are_overridable_from_the_command_line():
    cfg = _compose(["experiment=demo", "data=triplets", "data.triplets=/some/dir", "model.triplet_rate=0.3"])
    assert cfg.model.triplet_rate == 0.3 and cfg.data.triplets == "/some/dir" and cfg.data.size == 128


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_ctrl_c_save_last_checkpoint_exit_in_one_line_and_resume(tmp_path, signum, status, interrupt_when):
    """SLURM/Kubernetes/timeout send SIGTERM: the step finishes, last.ckpt is written (periodic
    checkpoints are off here, so only the signal can have written it), one line, exit 143 (130)."""
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "train.py", "experiment=faceshifter_vanilla", "debug=tiny", f"hydra.run.dir={run_dir}",
           "callbacks.model_checkpoint.every_n_train_steps=100000", "callbacks.health.every_n_steps=1",
           "callbacks.health.num_pairs=2", "trainer.val_check_interval=100000"]
    health = run_dir / "health.jsonl"

    def two_records() -> bool:  # step 0 and step 1 are done
        return health.is_file() and len(health.read_text().splitlines()) >= 2

    returncode, stderr = interrupt_when([*cmd, "trainer.max_steps=100000"], REPO, two_records, signum,
                                        wait_s=500, finish_s=300)
    assert returncode == status, stderr[-3000:]
    assert "Traceback" not in stderr
    assert [ln for ln in stderr.splitlines() if "rerun" in ln] == [
        "python train.py: finished work is saved; rerun the same command to resume"
    ]
    last = run_dir / "checkpoints" / "last.ckpt"
    saved = torch.load(last, map_location="cpu", weights_only=True)["global_step"]
    assert saved >= 1
    resumed = subprocess.run([*cmd, f"trainer.max_steps={saved + 1}", f"ckpt_path={last}"], cwd=REPO,
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"finished at step {saved + 1}" in resumed.stdout + resumed.stderr


def _scalars(result) -> dict[str, dict[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(result.tensorboard_dir)).Reload()
    return {tag: {e.step: e.value for e in acc.Scalars(tag)} for tag in acc.Tags()["scalars"] if tag.startswith("train/")}


def test_two_steps_plus_resume_to_four_log_the_scalars_of_four_straight_steps(tmp_path):
    """Exact resume (issue 10, kind 12): the data stream continues where the checkpoint left it,
    so steps 3-4 of a resumed run log the very numbers of an uninterrupted run."""
    straight = _scalars(_train(tmp_path / "straight", "trainer.max_steps=4"))
    first = _train(tmp_path / "first", "trainer.max_steps=2")
    resumed = _scalars(_train(tmp_path / "resumed", "trainer.max_steps=4", f"ckpt_path={first.last_checkpoint}"))
    compared = [tag for tag in straight if any(s > 2 for s in straight[tag]) and not tag.startswith("train/lr")]
    assert "train/g_total" in compared and "train/d_loss" in compared
    for tag in compared:
        later = {s: v for s, v in straight[tag].items() if s > 2}
        assert {s: v for s, v in resumed[tag].items() if s > 2} == pytest.approx(later, rel=1e-5, abs=1e-6), tag


@pytest.fixture
def one_step_checkpoint(tmp_path) -> Path:
    first = _train(tmp_path / "first", "trainer.max_steps=1")
    return first.last_checkpoint


@pytest.mark.parametrize("key", ["ckpt_path", "init_weights"])
def test_a_damaged_empty_or_missing_checkpoint_is_one_line(tmp_path, key):
    from reliableswap.apps.train import TrainUsageError

    empty = tmp_path / "empty.ckpt"
    empty.write_bytes(b"")
    noise = tmp_path / "noise.ckpt"
    noise.write_bytes(os.urandom(4096))
    for bad, said in ((empty, "empty (0 bytes)"), (noise, "cannot be read"), (tmp_path / "nope.ckpt", "not found"),
                      (tmp_path, "is a folder")):
        with pytest.raises(TrainUsageError, match=re.escape(said)) as err:
            _train(tmp_path / "run", f"{key}={bad}")
        assert "\n" not in str(err.value) and "weights_only=False" not in str(err.value)


@pytest.mark.parametrize("key", ["ckpt_path", "init_weights"])
def test_a_checkpoint_of_another_width_is_one_line(tmp_path, one_step_checkpoint, key):
    from reliableswap.apps.train import TrainUsageError

    with pytest.raises(TrainUsageError, match="shape mismatches") as err:
        _train(tmp_path / "wide", f"{key}={one_step_checkpoint}", "model.generator.width=0.125")
    assert "\n" not in str(err.value) and "e.g. " in str(err.value)


def test_train_py_exits_2_in_one_line_for_a_bad_checkpoint(tmp_path):
    empty = tmp_path / "empty.ckpt"
    empty.write_bytes(b"")
    proc = subprocess.run([sys.executable, "train.py", "experiment=faceshifter_vanilla", "debug=tiny",
                           f"ckpt_path={empty}", f"paths.output_dir={tmp_path / 'run'}", f"hydra.run.dir={tmp_path / 'h'}"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert [ln for ln in proc.stderr.splitlines() if "error:" in ln] == [
        f"python train.py: error: ckpt_path: checkpoint {empty} is empty (0 bytes): an interrupted copy or save?"
    ]
