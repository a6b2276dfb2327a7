"""What a user points a stage at -> index rows: one set of rules for training, building and evaluation.

Every entry point takes faces either as a folder or as an index CSV
(:mod:`reliableswap.io.index`). The rules, the same everywhere:

1. **Folder, no index**: the folder is scanned (:func:`~reliableswap.io.index.scan_folder`):
   a sub-folder is a person, a loose file its own person, rows sorted by path.
   ``skip_private`` drops ``.``/``_``-prefixed names; ``read_sizes`` reads width/height from the
   file headers (the training loader uses them to decode JPEGs at a reduced scale; the builder
   and evaluation read each image anyway and skip it).
2. **Folder + index path**: the index is read (:func:`~reliableswap.io.index.read_index`); its
   ``path`` column is relative to the folder. A relative index path is tried as given first,
   then relative to the folder (``data.index=faces_index.csv`` next to the images works).
3. **Folder + rows in memory**: used as they are (tests, splits computed by a caller).
4. **One path, folder or CSV** (:func:`load_input`, the builder's ``input=``): a folder follows
   rule 1; a CSV file follows rule 2 with the folder ``input_root`` when given, else the CSV's
   own folder.

:func:`load_rows` (rules 1-3) serves the training DataModules and the evaluation folder protocol,
:func:`load_input` (rule 4) the triplet builder.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from reliableswap.io.index import IndexRow, read_index, scan_folder

__all__ = ["load_input", "load_rows"]


def load_rows(
    root: str | os.PathLike[str],
    index: str | os.PathLike[str] | Sequence[IndexRow] | None = None,
    *,
    skip_private: bool = False,
    read_sizes: bool = True,
) -> list[IndexRow]:
    """Rows of the faces under ``root``: a scan, an index CSV, or given rows (rules 1-3 above).

    ``skip_private`` and ``read_sizes`` apply to scans only (an index lists what it lists).
    Raises :class:`FileNotFoundError` when ``root`` is not a folder (scan) or the index file is
    missing, :class:`~reliableswap.io.index.IndexFormatError` for a malformed index.
    """
    if index is None:
        return scan_folder(root, skip_private=skip_private, read_sizes=read_sizes)
    if isinstance(index, (str, os.PathLike)):
        path = Path(index)
        if not path.is_file() and not path.is_absolute() and (Path(root) / path).is_file():
            path = Path(root) / path
        return read_index(path)
    return list(index)


def load_input(
    input_path: str | os.PathLike[str],
    input_root: str | os.PathLike[str] | None = None,
    *,
    skip_private: bool = False,
    read_sizes: bool = False,
) -> tuple[Path, list[IndexRow]]:
    """``(image root, rows)`` for one path that is a folder or an index CSV (rule 4 above).

    Raises :class:`FileNotFoundError` when ``input_path`` is neither.
    """
    input_path = Path(input_path)
    if input_path.is_dir():
        return input_path, load_rows(input_path, skip_private=skip_private, read_sizes=read_sizes)
    if input_path.is_file():
        root = Path(input_root) if input_root else input_path.parent
        return root, load_rows(root, input_path)
    raise FileNotFoundError(f"input not found: {input_path} (give a folder of aligned faces or an index CSV)")
