"""Training goes on past unreadable image files: each is logged once and replaced by another sample.

One corrupt JPEG, or a text file named ``.jpg``, among 100k faces must not stop a run hours in
when it is first drawn. Scanning every image at start-up would cost a full decode of the data set,
so the datasets check lazily instead: :func:`first_readable` builds sample ``index`` and, when an
image of it cannot be read (:class:`~reliableswap.io.images.ImageReadError`), builds sample
``index + 1``, ``index + 2`` ... (modulo the length) instead. The substitute is a pure function of
the data, so runs stay reproducible whatever worker loads what. :class:`UnreadableImages` logs
each bad path once (per process: every DataLoader worker has its own copy of the dataset) and
counts them; :meth:`reliableswap.data.base_datamodule.FaceDataModule.teardown` reports the count.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from reliableswap.io.images import ImageReadError

__all__ = ["MAX_CONSECUTIVE_UNREADABLE", "UnreadableImages", "first_readable"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Paths already logged by this process (the training and validation datasets share them).
_LOGGED: set[str] = set()

#: Give up (a :class:`RuntimeError`) after this many unreadable samples in a row: not bad luck
#: but a wrong folder, an unmounted disk or an index of another data set.
MAX_CONSECUTIVE_UNREADABLE = 64


class UnreadableImages:
    """The unreadable image files one dataset met in this process: path -> reason."""

    def __init__(self) -> None:
        self.reasons: dict[str, str] = {}

    @property
    def count(self) -> int:
        """How many distinct unreadable files were met."""
        return len(self.reasons)

    def note(self, error: ImageReadError) -> None:
        """Record ``error``'s file; logs a warning the first time this process meets the path."""
        self.reasons[error.path] = error.reason
        if error.path not in _LOGGED:
            _LOGGED.add(error.path)
            log.warning("unreadable image %s (%s): skipped, another sample is used instead", error.path, error.reason)


def first_readable(build: Callable[[int], T], index: int, length: int, unreadable: UnreadableImages) -> T:
    """``build(index)``, or ``build`` of the next index (cyclically) whose images can all be read.

    Args:
        build: makes the sample of an index; raises :class:`ImageReadError` for a bad image.
        index: the sample asked for, ``0 <= index < length``.
        length: the number of samples (indices wrap around).
        unreadable: where the bad files are recorded (each logged once).

    Raises:
        RuntimeError: :data:`MAX_CONSECUTIVE_UNREADABLE` (or ``length``) samples in a row failed.
    """
    tries = max(1, min(int(length), MAX_CONSECUTIVE_UNREADABLE))
    for step in range(tries):
        try:
            return build((int(index) + step) % int(length))
        except ImageReadError as error:
            unreadable.note(error)
    raise RuntimeError(
        f"{tries} samples in a row from index {index} hold unreadable images (e.g. {next(iter(unreadable.reasons), '?')}): "
        "check the data folder / index"
    )
