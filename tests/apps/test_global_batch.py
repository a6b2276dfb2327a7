"""train.py's start-up line with the global batch (data.batch_size is per GPU / process)."""

from __future__ import annotations

import logging

import pytorch_lightning as pl
import pytest

from reliableswap.apps.train import log_global_batch


def _trainer(**kwargs) -> pl.Trainer:
    return pl.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"devices": 1}, 8),                                                  # one process
        ({"devices": "auto"}, 8),                                             # "auto" on CPU: one device
        ({"devices": 2, "strategy": "ddp"}, 16),                              # 2 processes on one node
        ({"devices": 2, "num_nodes": 2, "strategy": "ddp"}, 32),              # 2 x 2 (e.g. SLURM, 2 nodes)
        ({"devices": 2, "strategy": "ddp", "accumulate_grad_batches": 3}, 48),
    ],
)
def test_global_batch_is_per_process_batch_times_world_size_times_accumulation(kwargs, expected, caplog):
    trainer = _trainer(**kwargs)  # building a DDP trainer starts no process: nothing is launched before fit
    with caplog.at_level(logging.INFO, logger="reliableswap.apps.train"):
        assert log_global_batch(8, trainer) == expected
    lines = [r.getMessage() for r in caplog.records if "global batch" in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith(f"global batch {expected} = data.batch_size 8 per process")
    assert f"x {trainer.world_size} process(es)" in lines[0]


SLURM_TASK = {  # what srun sets in one task of `sbatch --nodes=1 --ntasks-per-node=2` (job name not "bash")
    "SLURM_NTASKS": "2", "SLURM_NTASKS_PER_NODE": "2", "SLURM_NNODES": "1", "SLURM_PROCID": "1",
    "SLURM_LOCALID": "1", "SLURM_NODEID": "0", "SLURM_JOB_NAME": "train", "SLURM_JOB_ID": "1",
    "SLURM_NODELIST": "node1",
}


def test_under_srun_lightning_detects_slurm_and_needs_devices_equal_to_tasks_per_node(monkeypatch):
    """What the README says of SLURM: srun's variables are detected (no plugin needed), ranks come from
    SLURM, and trainer.devices must equal --ntasks-per-node."""
    from lightning_fabric.plugins.environments import SLURMEnvironment

    from lightning_fabric.utilities.rank_zero import rank_zero_only
    from lightning_utilities.core.rank_zero import rank_zero_only as utilities_rank_zero_only

    # A trainer built as rank 1 sets Lightning's process-wide rank: restore it after this test, or
    # every later trainer in this session thinks it is not rank 0 and writes no logs.
    for function in {rank_zero_only, utilities_rank_zero_only}:
        monkeypatch.setattr(function, "rank", getattr(function, "rank", 0))
    for key, value in SLURM_TASK.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr("shutil.which", lambda name: None)  # no srun binary here: skip Lightning's srun hint
    trainer = _trainer(devices=2, strategy="ddp")
    assert isinstance(trainer.strategy.cluster_environment, SLURMEnvironment)
    assert (trainer.global_rank, trainer.local_rank, trainer.world_size) == (1, 1, 2)
    assert log_global_batch(8, trainer) == 16
    # Lightning runs this check when fit sets up the processes: devices must be --ntasks-per-node
    environment = trainer.strategy.cluster_environment
    environment.validate_settings(num_devices=2, num_nodes=1)
    with pytest.raises(ValueError, match="ntasks-per-node=2"):
        environment.validate_settings(num_devices=4, num_nodes=1)
