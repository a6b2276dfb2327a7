"""CSV files that grow one whole row at a time, shared by concurrent processes.

The triplet builder's ``triplets.csv`` and ``failures.csv`` are appended to by every shard of a
build (several processes, possibly on several nodes over a shared filesystem). Each row is
written with one ``write`` under an exclusive ``flock``, so rows never interleave; the header is
written by whoever finds the file empty. Rows are read back as ``dict[str, str]`` (the
:mod:`csv` module's view: every value a string, missing cells ``""``).
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["append_row", "read_rows"]


def _csv_line(values: Iterable[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def append_row(path: str | os.PathLike[str], fields: Iterable[str], row: Mapping[str, object]) -> None:
    """Append ``row`` (header ``fields`` first if the file is new or empty), safely across processes.

    Keys of ``row`` missing from ``fields`` raise :class:`ValueError` (a typo must not silently
    drop a column); fields missing from ``row`` are written empty. The file is created with mode
    ``0o644`` narrowed by the umask, and ``fsync``'d after the append.
    """
    fields = list(fields)
    extra = set(row) - set(fields)
    if extra:
        raise ValueError(f"row has keys that are not CSV fields: {sorted(extra)} (fields: {fields})")
    line = _csv_line(row.get(k, "") for k in fields)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_size == 0:
            line = _csv_line(fields) + line
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def read_rows(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """All rows of a CSV file with a header; ``[]`` when the file does not exist yet."""
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
