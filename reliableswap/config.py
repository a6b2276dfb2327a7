"""Hydra/OmegaConf glue: path resolvers, and refusing renamed command-line keys.

Configs write ``${rs_path:data_dir}`` instead of a literal path, so the environment variables of
``reliableswap.paths`` are honoured everywhere and no config holds an absolute path.
:func:`refuse_renamed_keys` lets an entry point stop with one line (exit 2) on a key that a
release renamed, instead of a Hydra traceback or a silently added ``+key``;
:func:`refuse_unquoted_non_ascii` does the same for a value with non-ASCII characters that is not
quoted (Hydra's lexer rejects ``source=/photos/Zoë.jpg`` but takes ``'source="/photos/Zoë.jpg"'``).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import TypeVar

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


def renamed_key_error(overrides: Sequence[str], renamed: Mapping[str, str], help_cmd: str) -> str | None:
    """A one-line message for the first ``key=value`` override whose key is in ``renamed``, else ``None``.

    ``+key``/``++key``/``~key`` forms count too; ``renamed`` maps the old key to the new one.
    """
    for override in overrides:
        key, sep, value = override.partition("=")
        key = key.lstrip("+~")
        if sep and key in renamed:
            return f"{key}= was renamed: use {renamed[key]}={value} ({help_cmd} --help)"
    return None


def refuse_renamed_keys(app: str, renamed: Mapping[str, str], argv: Sequence[str] | None = None) -> None:
    """Exit 2 with one line on stderr when the command line uses a renamed key (see :func:`renamed_key_error`)."""
    problem = renamed_key_error(sys.argv[1:] if argv is None else argv, renamed, app)
    if problem:
        print(f"{app}: error: {problem}", file=sys.stderr)
        raise SystemExit(2)


def _parses(override: str) -> bool:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        OverridesParser.create().parse_override(override)
    except Exception:  # noqa: BLE001 - any lexer/parser error
        return False
    return True


def non_ascii_error(overrides: Sequence[str], help_cmd: str) -> str | None:
    """A one-line message for the first ``key=value`` override that has non-ASCII characters and
    that Hydra cannot parse (it is not quoted), showing the quoted form; else ``None``."""
    for override in overrides:
        key, sep, value = override.partition("=")
        if sep and not override.isascii() and not _parses(override):
            quote = "'" if '"' in value else '"'
            quoted = f"{key}={quote}{value}{quote}"
            shell = f"'{quoted}'" if quote == '"' else f'"{quoted}"'
            return (f"{override} has non-ASCII characters, which Hydra reads only inside quotes: write {shell} "
                    f"(the outer quotes are for the shell) ({help_cmd} --help)")
    return None


def refuse_unquoted_non_ascii(app: str, argv: Sequence[str] | None = None) -> None:
    """Exit 2 with one line on stderr for an unquoted non-ASCII override (see :func:`non_ascii_error`)."""
    problem = non_ascii_error(sys.argv[1:] if argv is None else argv, app)
    if problem:
        print(f"{app}: error: {problem}", file=sys.stderr)
        raise SystemExit(2)


def refuse_null_groups(app: str, groups: Sequence[str], argv: Sequence[str] | None = None) -> None:
    """Exit 2 with one line for ``group=null`` (Hydra's traceback); the way to drop a group is ``~group``."""
    for override in sys.argv[1:] if argv is None else argv:
        key, sep, value = override.partition("=")
        if sep and key.lstrip("+") in groups and value.strip() in ("null", "none", "None", "~"):
            print(f"{app}: error: {override}: write '~{key.lstrip('+')}' to go without the {key.lstrip('+')} group "
                  f"({app} --help)", file=sys.stderr)
            raise SystemExit(2)


E = TypeVar("E", bound=BaseException)


def find_cause(exc: BaseException, kinds: type[E] | tuple[type[E], ...]) -> E | None:
    """The first exception of ``kinds`` in ``exc``'s chain (``exc``, its cause, its context, ...), or None.

    Hydra wraps what a ``_target_`` raises (``InstantiationException``), so an entry point that
    turns a known error into one line must look behind the wrapper.
    """
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kinds):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
