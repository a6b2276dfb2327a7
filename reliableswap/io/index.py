"""Dataset index: which image files belong to a face dataset, and whose face each one is.

The index is a plain CSV (never pickle: it must be inspectable, diffable and safe to load from
someone else's machine) with one row per image:

``path``      file path relative to the dataset root, POSIX separators (portable across OSes);
``identity``  person label as a string;
``quality``   optional float (empty when unknown); what it measures is chosen by the builder
              (``scripts/build_index.py`` documents detection score vs. sharpness);
``width``, ``height``  stored pixel size (empty when unknown), so loaders can pick a fast JPEG
              decode scale without opening the file first.

Identity convention of :func:`scan_folder`: an image inside a folder belongs to the person named
by that folder's path relative to the root (``root/alice/1.jpg`` -> ``alice``,
``root/group/alice/1.jpg`` -> ``group/alice``); an image directly under the root is its own
identity (its file stem), which is how un-labelled aligned sets such as the CelebAMask-HQ sample
(every file a different photo) are treated.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from reliableswap.io.atomic import atomic_open
from reliableswap.io.images import is_image_file

__all__ = [
    "INDEX_COLUMNS",
    "IndexFormatError",
    "IndexRow",
    "group_by_identity",
    "image_size",
    "read_index",
    "scan_folder",
    "write_index",
]

log = logging.getLogger(__name__)

INDEX_COLUMNS: tuple[str, ...] = ("path", "identity", "quality", "width", "height")
_REQUIRED_COLUMNS: tuple[str, ...] = ("path", "identity")


class IndexFormatError(ValueError):
    """An index file is malformed (missing columns, bad values); the message names file and line."""



@dataclass(frozen=True)
class IndexRow:
    """One image of a dataset index (see the module docstring for the meaning of each field)."""

    path: str
    identity: str
    quality: float | None = None
    width: int | None = None
    height: int | None = None


def image_size(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """``(width, height)`` from the file header without decoding pixels, or None if unreadable.

    Pillow parses only the header lazily, which keeps scanning thousands of files cheap.
    """
    try:
        from PIL import Image

        with Image.open(path) as img:
            return int(img.width), int(img.height)
    except Exception:  # noqa: BLE001 - any failure just means "size unknown"
        return None


def _is_private(name: str) -> bool:
    return name.startswith((".", "_"))


def scan_folder(
    root: str | os.PathLike[str],
    *,
    skip_private: bool = False,
    read_sizes: bool = True,
    follow_links: bool = True,
) -> list[IndexRow]:
    """Index every image file under ``root`` (recursively) with identities from folder names.

    ``skip_private`` drops folders and files whose name starts with ``.`` or ``_`` (e.g. the
    ``_edge_cases`` folder of the wild test photos, macOS ``._*`` resource files). It is off by
    default so nothing is silently left out. ``read_sizes`` fills width/height from file headers.
    Symlinked folders are followed (datasets are often assembled from links) but each real
    folder is visited once, so link cycles cannot loop. Rows are sorted by path, so the result
    does not depend on filesystem order.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset root is not a folder: {root}")
    rows: list[IndexRow] = []
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=follow_links):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not (skip_private and _is_private(d)))
        rel_dir = Path(dirpath).relative_to(root)
        for name in sorted(filenames):
            if skip_private and _is_private(name):
                continue
            if not is_image_file(name):
                continue
            rel = (rel_dir / name).as_posix()
            identity = rel_dir.as_posix() if rel_dir.parts else Path(name).stem
            size = image_size(Path(dirpath) / name) if read_sizes else None
            rows.append(
                IndexRow(
                    path=rel,
                    identity=identity,
                    width=size[0] if size else None,
                    height=size[1] if size else None,
                )
            )
    rows.sort(key=lambda r: r.path)
    log.debug("scanned %s: %d images", root, len(rows))
    return rows


def _fmt(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_index(rows: Iterable[IndexRow], path: str | os.PathLike[str]) -> None:
    """Write rows as CSV atomically (:func:`reliableswap.io.atomic.atomic_open`).

    Raises :class:`ValueError` for a path that is absolute or has backslashes (the file at
    ``path`` is then left as it was).
    """
    with atomic_open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(INDEX_COLUMNS)
        for row in rows:
            if "\\" in row.path or row.path.startswith("/"):
                raise ValueError(f"index paths must be relative POSIX paths, got {row.path!r}")
            writer.writerow([_fmt(getattr(row, col)) for col in INDEX_COLUMNS])


def _parse_optional(text: str | None, kind: type, column: str, where: str) -> float | int | None:
    if text is None or text.strip() == "":
        return None
    try:
        value = kind(float(text)) if kind is int else kind(text)
    except ValueError:
        raise IndexFormatError(f"{where}: column {column!r} must be a number or empty, got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise IndexFormatError(f"{where}: column {column!r} must be finite, got {text!r}")
    return value


def read_index(path: str | os.PathLike[str]) -> list[IndexRow]:
    """Read and validate an index CSV written by :func:`write_index` or by hand.

    ``path`` and ``identity`` columns are required; ``quality``, ``width`` and ``height`` are
    optional (missing column or empty cell -> None). Extra columns are ignored. Errors name the
    file and line so a hand-edited index is quick to fix.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"index file not found: {path}")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [c for c in _REQUIRED_COLUMNS if c not in header]
        if missing:
            raise IndexFormatError(
                f"{path}: index is missing column(s) {missing}; expected header "
                f"{','.join(INDEX_COLUMNS)} (path and identity required), found {header}"
            )
        rows: list[IndexRow] = []
        for line_no, record in enumerate(reader, start=2):
            where = f"{path}:{line_no}"
            rel = (record.get("path") or "").strip()
            identity = (record.get("identity") or "").strip()
            if not rel:
                raise IndexFormatError(f"{where}: empty 'path'")
            if not identity:
                raise IndexFormatError(f"{where}: empty 'identity' for {rel}")
            if rel.startswith("/") or "\\" in rel:
                raise IndexFormatError(f"{where}: 'path' must be relative with '/' separators, got {rel!r}")
            rows.append(
                IndexRow(
                    path=rel,
                    identity=identity,
                    quality=_parse_optional(record.get("quality"), float, "quality", where),
                    width=_parse_optional(record.get("width"), int, "width", where),
                    height=_parse_optional(record.get("height"), int, "height", where),
                )
            )
    return rows


def group_by_identity(rows: Sequence[IndexRow]) -> dict[str, list[int]]:
    """Map identity -> positions of its rows (in row order); used by samplers and splits."""
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(row.identity, []).append(i)
    return groups
