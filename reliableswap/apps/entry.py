"""The Hydra entry points of ``python train.py`` and ``python test.py``, also installed as commands.

``train.py`` and ``test.py`` at the repository root call :func:`train` and :func:`swap`; the console
scripts ``reliableswap-train`` and ``reliableswap-swap`` (``pyproject.toml``) call the same
functions, so both forms take the same overrides, print the same messages and exit with the same
codes. The configs are read from ``configs/`` of the checkout (an editable install,
``pip install -e .``, as the README's Quickstart does); :func:`configs_dir` says so in one line
when they are not there.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from reliableswap.paths import REPO_ROOT
from reliableswap.apps.interrupt import exit_on_interrupt, exit_status
from reliableswap.config import (
    find_cause,
    refuse_null_groups,
    refuse_renamed_keys,
    refuse_unquoted_non_ascii,
    register_resolvers,
)

TRAIN_APP = "python train.py"
SWAP_APP = "python test.py"
#: Command-line keys of test.py that the config restructuring renamed (old -> new).
RENAMED_SWAP_KEYS = {"model": "baseline"}
#: absolute, so Hydra finds it whether this module runs as a script's import or a console script
CONFIGS = str(REPO_ROOT / "configs")


def configs_dir() -> Path:
    """The checkout's ``configs/``; exit 2 with one line when this install has none."""
    path = Path(CONFIGS)
    if not (path / "train.yaml").is_file():
        print(f"reliableswap: error: no configs at {path}: install the checkout with `pip install -e .` "
              "(the commands read the repository's configs/)", file=sys.stderr)
        raise SystemExit(2)
    return path


@hydra.main(version_base="1.3", config_path=CONFIGS, config_name="train")
def _train_main(cfg: DictConfig) -> None:
    from reliableswap.apps.train import TrainUsageError, train as run_training
    from reliableswap.lightning.interrupt import SIGTERMException, stop_signal

    try:
        run_training(cfg)
    except TrainUsageError as exc:  # a missing, damaged or mismatching checkpoint: one line, exit 2
        print(f"{TRAIN_APP}: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except Exception as exc:
        missing = _missing_value(exc)
        if missing is None:
            raise
        # a ??? key left unset (python train.py alone: data.root): say which, in one line
        print(f"{TRAIN_APP}: error: {missing}: set it (e.g. data.root=DIR of aligned faces) or choose an "
              "experiment (experiment=demo); python train.py --help", file=sys.stderr)
        raise SystemExit(2) from None
    except SIGTERMException:  # last.ckpt is saved; exit_on_interrupt says so in one line
        raise SystemExit(exit_status(stop_signal())) from None


def _missing_value(exc: BaseException) -> str | None:
    """``"missing data.root"`` when ``exc`` (or what it wraps) is OmegaConf's unset ``???`` key."""
    from omegaconf.errors import MissingMandatoryValue

    missing = find_cause(exc, MissingMandatoryValue)
    if missing is None:
        return None
    key = getattr(missing, "full_key", None)
    return f"missing {key}" if key else str(missing).splitlines()[0]


@hydra.main(version_base="1.3", config_path=CONFIGS, config_name="test")
def _swap_main(cfg: DictConfig) -> None:
    from reliableswap.apps.test import run_from_config

    code = run_from_config(cfg)
    if code:
        sys.exit(code)


def train() -> None:
    """``python train.py`` / ``reliableswap-train``: SIGTERM and Ctrl-C save ``last.ckpt`` and exit 143 / 130."""
    configs_dir()
    register_resolvers()
    refuse_unquoted_non_ascii(TRAIN_APP)
    exit_on_interrupt(TRAIN_APP, _train_main)


def swap() -> None:
    """``python test.py`` / ``reliableswap-swap``: swap into files or evaluate a swapper (exit 0 / 1 / 2)."""
    configs_dir()
    register_resolvers()
    refuse_renamed_keys(SWAP_APP, RENAMED_SWAP_KEYS)
    refuse_unquoted_non_ascii(SWAP_APP)
    refuse_null_groups(SWAP_APP, ("parser",))  # parser=null: '~parser' is the template ellipse
    _swap_main()
