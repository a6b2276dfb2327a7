"""Hydra/OmegaConf glue: resolvers that expose :mod:`reliableswap.paths` to configs.

Configs write ``${rs_path:data_dir}`` instead of a literal path, so the environment variables of
``reliableswap.paths`` are honoured everywhere and no config holds an absolute path.
"""

from __future__ import annotations

from omegaconf import OmegaConf

from reliableswap import paths

_PATHS = {
    "repo_root": lambda: paths.REPO_ROOT,
    "shared_dir": paths.shared_dir,
    "data_dir": paths.data_dir,
    "shared_weights_dir": paths.shared_weights_dir,
    "pretrained_dir": paths.pretrained_dir,
}


def _rs_path(name: str) -> str:
    if name not in _PATHS:
        raise KeyError(f"unknown path '{name}' in ${{rs_path:...}}; known: {', '.join(_PATHS)}")
    return str(_PATHS[name]())


def register_resolvers() -> None:
    """Idempotently register the ``rs_path`` resolver."""
    if not OmegaConf.has_resolver("rs_path"):
        OmegaConf.register_new_resolver("rs_path", _rs_path)
