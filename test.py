"""Swap faces into images, folders and videos, or evaluate a swapper (Hydra entry point).

    python test.py ckpt=CKPT source=IMAGE target=IMAGE|DIR|VIDEO output=PATH [device=cuda] [faces=all]
    python test.py ckpt=CKPT eval=folder eval.input=DIR output=DIR
    python test.py baseline=copy_target eval=folder output=DIR

``python test.py --help`` lists every option; configs/test.yaml holds the defaults. The work is
done in :mod:`reliableswap.apps.test` (this file only composes the config).
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from reliableswap.config import refuse_null_groups, refuse_renamed_keys, refuse_unquoted_non_ascii, register_resolvers

#: Command-line keys the config restructuring renamed (old -> new).
RENAMED_KEYS = {"model": "baseline"}

register_resolvers()


@hydra.main(version_base="1.3", config_path="configs", config_name="test")
def main(cfg: DictConfig) -> None:
    from reliableswap.apps.test import run_from_config

    code = run_from_config(cfg)
    if code:
        sys.exit(code)


if __name__ == "__main__":
    refuse_renamed_keys("python test.py", RENAMED_KEYS)
    refuse_unquoted_non_ascii("python test.py")
    refuse_null_groups("python test.py", ("parser",))  # parser=null: '~parser' is the template ellipse
    main()
