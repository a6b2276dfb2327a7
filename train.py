"""Train a face-swapping network: ``python train.py experiment=demo`` (Hydra overrides allowed).

See configs/train.yaml for the config groups and README.md for the experiments. The work is done
in :mod:`reliableswap.apps.train` (this file only composes the config).
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from reliableswap.config import refuse_unquoted_non_ascii, register_resolvers

register_resolvers()


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> None:
    from reliableswap.apps.train import train

    train(cfg)


if __name__ == "__main__":
    refuse_unquoted_non_ascii("python train.py")
    main()
