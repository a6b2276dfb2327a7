"""Train a face-swapping network: ``python train.py experiment=demo`` (Hydra overrides allowed).

See configs/train.yaml for the config groups and README.md for the experiments. The work is done
in :mod:`reliableswap.apps.train` (this file only composes the config). SIGTERM and Ctrl-C stop
it after the current step with ``last.ckpt`` saved, one line on stderr and exit 143 / 130
(rerun with ``ckpt_path=<run>/checkpoints/last.ckpt`` to resume).
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from reliableswap.apps.interrupt import exit_on_interrupt, exit_status
from reliableswap.config import refuse_unquoted_non_ascii, register_resolvers

register_resolvers()


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> None:
    from reliableswap.apps.train import TrainUsageError, train
    from reliableswap.lightning.interrupt import SIGTERMException, stop_signal

    try:
        train(cfg)
    except TrainUsageError as exc:  # a missing, damaged or mismatching checkpoint: one line, exit 2
        print(f"python train.py: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except SIGTERMException:  # last.ckpt is saved; exit_on_interrupt says so in one line
        raise SystemExit(exit_status(stop_signal())) from None


if __name__ == "__main__":
    refuse_unquoted_non_ascii("python train.py")
    exit_on_interrupt("python train.py", main)
