"""Resolve a Hydra ``_target_`` node to its class, for the objects evaluation builds from config.

Metrics and protocols are configured as ``{_target_: <dotted class path>, **keyword options}``.
:func:`resolve_target` checks the class before anything is built, so a typo in a config fails
with the node's path in the message, and a metric whose backend cannot run can still be reported
under its own name and backend (read from the class) without being constructed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

__all__ = ["node_of", "resolve_target"]

T = TypeVar("T")


def node_of(cls: type, **options: Any) -> dict[str, Any]:
    """The config node that builds ``cls(**options)``: ``{"_target_": "pkg.mod.Class", **options}``."""
    return {"_target_": f"{cls.__module__}.{cls.__qualname__}", **options}


def resolve_target(node: Any, base: type[T], what: str) -> tuple[type[T], dict[str, Any]]:
    """``(class, keyword options)`` of a ``_target_`` node whose class must subclass ``base``.

    ``node`` is a mapping (plain or ``DictConfig``) or a dotted class path (shorthand for a node
    without options). Nested nodes among the options are passed through unbuilt, so the class
    decides when (and whether) to build them.

    Raises:
        ValueError: no ``_target_``, a target that cannot be imported, or not a ``base`` subclass;
            ``what`` names the config entry in the message (e.g. ``"eval.metrics entry"``).
    """
    from hydra.utils import get_class

    if isinstance(node, str):
        node = {"_target_": node}
    if not isinstance(node, Mapping):
        raise ValueError(f"{what} must be a node with _target_, got {node!r}")
    options = {str(k): v for k, v in node.items()}
    target = options.pop("_target_", None)
    if not target:
        raise ValueError(f"{what} has no _target_ (keys: {', '.join(options) or 'none'}); "
                         f"name a {base.__name__} class, e.g. _target_: {base.__module__}.{base.__name__}")
    try:
        cls = get_class(str(target))
    except Exception as exc:  # noqa: BLE001 - Hydra raises ImportError/ValueError variants
        raise ValueError(f"{what}: unknown _target_ '{target}' ({exc})") from exc
    if not issubclass(cls, base):
        raise ValueError(f"{what}: _target_ '{target}' is not a {base.__name__}")
    return cls, options
