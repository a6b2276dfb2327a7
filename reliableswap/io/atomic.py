"""The one atomic file write of the project: readers see the old file or the new one, never half.

Every writer of a finished artefact (images, index and report CSVs, JSON reports, checkpoints,
grids) goes through :func:`atomic_open`:

1. a temporary file is created *in the destination folder* (same filesystem, so the final
   rename is atomic), named ``.<name>.<random>.tmp`` so folder scans skip it (dot file);
2. the caller writes into it;
3. it is moved into place with :func:`os.replace` (atomic on POSIX and Windows);
4. on any error (including Ctrl-C) the temporary file is removed and the destination is left
   untouched.

Permissions: the temporary file is created with mode ``0o666`` through :func:`os.open`, so the
kernel applies the process umask exactly as for a plain ``open(path, "w")`` (``0o644`` under the
usual umask ``022``, group-writable under ``002``). :func:`tempfile.mkstemp`, used before, always
created ``0o600`` files, which other users of a shared data folder could not read.

Not a durability guarantee: nothing is ``fsync``'d (a power cut may lose the newest file, but
never leaves a torn one in place of an old one).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Literal

__all__ = ["atomic_open", "write_bytes_atomic", "write_text_atomic"]

_FILE_MODE = 0o666  # narrowed by the umask, as open() does


def _temporary_path(path: Path) -> Path:
    """A fresh dot-file name beside ``path`` (``.<name>.<8 hex>.tmp``)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


@contextmanager
def atomic_open(
    path: str | os.PathLike[str],
    mode: Literal["w", "wb"] = "w",
    *,
    encoding: str | None = "utf-8",
    newline: str | None = None,
) -> Iterator[IO[Any]]:
    """Open a temporary file for writing and move it onto ``path`` when the block exits cleanly.

    Args:
        path: destination file; its folder is created when missing.
        mode: ``"w"`` (text, ``encoding`` and ``newline`` apply) or ``"wb"`` (bytes).
        encoding: text encoding (ignored for ``"wb"``).
        newline: as for :func:`open` (``""`` for the :mod:`csv` module).

    Yields the open file object. Raises whatever the block raises (the destination is then
    unchanged and no temporary file remains) and :class:`ValueError` for another ``mode``.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), _FILE_MODE)
    try:
        if mode == "wb":
            handle: IO[Any] = os.fdopen(fd, "wb")
        else:
            handle = os.fdopen(fd, "w", encoding=encoding, newline=newline)
        with handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_open`); returns ``path``."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_open`); returns ``path``."""
    with atomic_open(path, "w", encoding=encoding) as handle:
        handle.write(text)
    return Path(path)
