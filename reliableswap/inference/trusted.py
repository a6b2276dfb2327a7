"""Which ``_target_`` builders a checkpoint's stored config may name.

A training checkpoint carries its own build recipe (``reliableswap_config``), and that recipe is
data from a file: a ``.ckpt`` that passes ``torch.load(weights_only=True)`` can still hold
``_target_: builtins.open`` (mode ``"w"``) or ``shutil.copyfile``, which ``hydra.utils.instantiate``
would call. So a stored config is rebuilt only when *every* ``_target_`` in it, at any depth, is
one of this project's model, identity and loss builders: the exact dotted paths that the configs
in ``configs/model/``, ``configs/identity/`` and ``configs/loss/`` use (read from those files, so a
new generator added as the ARCHITECTURE guide says is allowed without touching this module).
The check runs before anything is imported or built; it raises :class:`UntrustedConfigError`
naming the key path and the refused target.

Library users who build models from their own modules can allow them with :func:`allow_target`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from reliableswap import paths

#: Config groups whose ``_target_`` values a checkpoint may rebuild.
TRUSTED_GROUPS = ("model", "identity", "loss")

_EXTRA: set[str] = set()


class UntrustedConfigError(ValueError):
    """A stored config names a ``_target_`` outside the allowlist (nothing was built)."""


def _targets_in(node: Any) -> Iterable[str]:
    if isinstance(node, Mapping):
        target = node.get("_target_")
        if isinstance(target, str):
            yield target
        for value in node.values():
            yield from _targets_in(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _targets_in(value)


@functools.lru_cache(maxsize=None)
def _config_targets(config_dir: Path) -> frozenset[str]:
    found: set[str] = set()
    for group in TRUSTED_GROUPS:
        for path in sorted((config_dir / group).glob("*.yaml")):
            found.update(_targets_in(OmegaConf.to_container(OmegaConf.load(path), resolve=False)))
    return frozenset(found)


def allowed_targets(config_dir: Path | None = None) -> frozenset[str]:
    """Exact dotted paths a stored config may name: those of ``configs/{model,identity,loss}``
    (``config_dir`` defaults to the repository's ``configs/``) plus any :func:`allow_target` added."""
    return _config_targets(Path(config_dir or paths.REPO_ROOT / "configs")) | frozenset(_EXTRA)


def allow_target(dotted_path: str) -> None:
    """Also trust ``dotted_path`` (exact) in stored configs, e.g. a generator of your own package."""
    _EXTRA.add(dotted_path)


def _walk(node: Any, key: str) -> Iterable[tuple[str, Any]]:
    """(key path, value) of every leaf and every ``_target_``, depth first (``_target_`` first)."""
    if isinstance(node, Mapping):
        if "_target_" in node:
            yield f"{key}._target_", node["_target_"]
        for name, value in node.items():
            if name != "_target_":
                yield from _walk(value, f"{key}.{name}")
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _walk(value, f"{key}[{i}]")
    else:
        yield key, node


def check_stored_config(node: Any, key: str = "reliableswap_config", source: str = "checkpoint") -> None:
    """Raise :class:`UntrustedConfigError` unless every ``_target_`` under ``node`` is allowed.

    ``key`` names the root in the message (``reliableswap_config.identity.fixer._target_``);
    ``source`` names the file. Non-string targets are refused too, and so is any ``${...}``
    interpolation (a resolver such as ``oc.decode`` could turn a plain value into a new node with a
    ``_target_``; configs written by training are stored resolved). Nothing is imported.
    """
    allowed = allowed_targets()
    for where, value in _walk(node, key):
        if isinstance(value, str) and "${" in value:
            raise UntrustedConfigError(f"{source}: refused {where}={value!r}: a stored config may not hold "
                                       "${...} interpolations; nothing was built")
        if where.endswith("._target_") and (not isinstance(value, str) or value not in allowed):
            target = value
            raise UntrustedConfigError(
                f"{source}: refused to build {where}={target!r}: a stored config may only name this project's "
                "model, identity and loss builders (those in configs/model, configs/identity, configs/loss); "
                "nothing was built"
            )
