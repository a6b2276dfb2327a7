"""The ``triplets.csv`` format: what ``python -m supervision.build_triplets`` writes and training reads.

A triplet output folder holds one sub-folder per finished pair (A, B) and one row per finished
pair in ``<root>/triplets.csv``:

``pair_id``                           ``<number:06d>_<A identity>_<B identity>`` (folder name)
``number``                            position of the pair in the seeded pair sequence
``source_id``, ``target_id``          identities of A and B
``source_image``, ``target_image``    input images of A and B, relative to the builder's input root
``source``, ``target``                A and B at the output size, ``<pair_id>/source.jpg`` ...
``output_st``, ``output_ts``          the synthesized swaps AB (A's identity in B) and BA, ditto
``st_id_sim_source`` ... ``ts_id_sim_target``  cosine similarities of the quality filter (empty if off)
``st_face_score``, ``ts_face_score``  face detection scores of AB and BA (empty if not measured)
``analyzer`` ... ``identity``         the class name of each stage backend (``none`` when absent)
``size``, ``seed``                    output resolution and pair-sampling seed of the build

Image columns hold paths relative to the folder of ``triplets.csv``. Readers need only
:data:`REQUIRED_COLUMNS`; extra columns are kept in the row dicts and ignored. ``pair_id`` is
unique: the builder never records a pair twice, and :func:`read_triplets` keeps the first row of
an id and warns about the others (files written by two concurrent runs of older versions).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from reliableswap.io.csv_rows import append_row, read_rows

__all__ = [
    "IMAGE_COLUMNS",
    "REQUIRED_COLUMNS",
    "STAGE_COLUMNS",
    "TRIPLETS_CSV",
    "TRIPLET_FIELDS",
    "TripletsNotFoundError",
    "append_triplet",
    "image_name",
    "read_triplets",
    "triplets_path",
]

log = logging.getLogger(__name__)

TRIPLETS_CSV = "triplets.csv"
#: A, B, AB, BA: the four image columns (each also the file stem inside the pair folder).
IMAGE_COLUMNS: tuple[str, ...] = ("source", "target", "output_st", "output_ts")
STAGE_COLUMNS: tuple[str, ...] = ("analyzer", "reenactor", "parser", "inpainter", "enhancer", "identity")
TRIPLET_FIELDS: tuple[str, ...] = (
    "pair_id", "number", "source_id", "target_id", "source_image", "target_image",
    *IMAGE_COLUMNS,
    "st_id_sim_source", "st_id_sim_target", "ts_id_sim_source", "ts_id_sim_target",
    "st_face_score", "ts_face_score",
    *STAGE_COLUMNS, "size", "seed",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("pair_id", *IMAGE_COLUMNS)


class TripletsNotFoundError(FileNotFoundError):
    """A triplet folder has no (readable) ``triplets.csv``, or one without the required columns."""


def triplets_path(root: str | os.PathLike[str]) -> Path:
    """``<root>/triplets.csv``."""
    return Path(root) / TRIPLETS_CSV


def image_name(column: str) -> str:
    """File name of an image column inside its pair folder (``"output_st"`` -> ``"output_st.jpg"``)."""
    if column not in IMAGE_COLUMNS:
        raise ValueError(f"{column!r} is not an image column of {TRIPLETS_CSV} ({', '.join(IMAGE_COLUMNS)})")
    return f"{column}.jpg"


def append_triplet(root: str | os.PathLike[str], row: Mapping[str, object]) -> None:
    """Append one finished pair's row to ``<root>/triplets.csv`` (safe across concurrent shards).

    Raises :class:`ValueError` for keys outside :data:`TRIPLET_FIELDS`; missing ones are empty.
    """
    append_row(triplets_path(root), TRIPLET_FIELDS, row)


def read_triplets(root: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Rows of ``<root>/triplets.csv`` for training: at least one, with :data:`REQUIRED_COLUMNS`.

    Raises :class:`TripletsNotFoundError` (naming the command that builds triplets) when the file
    is missing, empty, or lacks a required column. Rows repeating an earlier ``pair_id`` are
    dropped with one warning that counts them.
    """
    path = triplets_path(root)
    if not path.is_file():
        raise TripletsNotFoundError(
            f"no {TRIPLETS_CSV} in {root}: build triplets first "
            f"(python -m supervision.build_triplets input=... output={root}) or set data.triplets=..."
        )
    rows = read_rows(path)
    missing = set(REQUIRED_COLUMNS) - set(rows[0] if rows else {})
    if not rows or missing:
        raise TripletsNotFoundError(f"{path} holds no usable triplets (missing columns: {sorted(missing)})")
    unique: dict[str, dict[str, str]] = {}
    for row in rows:
        unique.setdefault(row["pair_id"], row)
    if len(unique) < len(rows):
        log.warning("%s: dropped %d duplicate row(s) (a pair id recorded twice; the first row of each id is kept)",
                    path, len(rows) - len(unique))
    return list(unique.values())
