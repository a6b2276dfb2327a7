"""Train a face-swapping network: ``python train.py experiment=demo`` (Hydra overrides allowed).

See configs/train.yaml for the config groups and README.md for the experiments. The work is done
in :mod:`reliableswap.apps.train`; the entry point itself is :func:`reliableswap.apps.entry.train`
(also installed as ``reliableswap-train``). SIGTERM and Ctrl-C stop it after the current step with
``last.ckpt`` saved, one line on stderr and exit 143 / 130 (rerun with
``ckpt_path=<run>/checkpoints/last.ckpt`` to resume).
"""

from reliableswap.apps.entry import train

if __name__ == "__main__":
    train()
