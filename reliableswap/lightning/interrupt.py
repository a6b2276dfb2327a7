"""Training stopped by SIGTERM or Ctrl-C: finish the step, save ``last.ckpt``, exit 143 / 130.

Lightning's own SIGTERM handler (its signal connector, registered by ``trainer.fit``) only sets a
flag; the training loop raises ``SIGTERMException`` at the end of the current step, when the
weights, optimizers and counters agree. :class:`SaveLastOnInterrupt` writes ``last.ckpt`` there
(``on_exception``) and routes the first Ctrl-C through the same path, so both signals leave a
checkpoint that ``ckpt_path=.../last.ckpt`` resumes from (a second Ctrl-C stops at once).
:func:`stop_signal` says which signal stopped the fit; ``train.py`` turns it into the one line and
the exit status of :mod:`reliableswap.apps.interrupt`.
"""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from types import FrameType
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.utilities.exceptions import SIGTERMException

__all__ = ["SIGTERMException", "SaveLastOnInterrupt", "stop_signal"]

log = logging.getLogger(__name__)

_stopped_by: list[int] = []  # the signal that stopped the current fit (at most one entry)


def stop_signal() -> int:
    """The signal that stopped training (``signal.SIGINT`` or ``signal.SIGTERM``; SIGTERM when unknown)."""
    return _stopped_by[-1] if _stopped_by else int(signal.SIGTERM)


def last_checkpoint_path(trainer: pl.Trainer) -> Path:
    """Where the run's ``last.ckpt`` lives: the ModelCheckpoint's folder, else ``<root>/checkpoints``."""
    callback = trainer.checkpoint_callback
    if isinstance(callback, ModelCheckpoint) and callback.dirpath:
        return Path(callback.dirpath) / f"{callback.CHECKPOINT_NAME_LAST}{callback.FILE_EXTENSION}"
    return Path(trainer.default_root_dir) / "checkpoints" / "last.ckpt"


class SaveLastOnInterrupt(pl.Callback):
    """Save ``last.ckpt`` when SIGTERM (or a first Ctrl-C) stops the fit at a step boundary."""

    def __init__(self) -> None:
        self._previous_sigint: Any = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        _stopped_by.clear()
        self._previous_sigint = signal.signal(signal.SIGINT, self._on_sigint)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._restore()

    def _restore(self) -> None:
        if self._previous_sigint is not None:
            signal.signal(signal.SIGINT, self._previous_sigint)
            self._previous_sigint = None

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        """First Ctrl-C: stop like SIGTERM (after this step); the second one interrupts at once."""
        self._restore()
        _stopped_by.append(int(signal.SIGINT))
        handler = signal.getsignal(signal.SIGTERM)
        if callable(handler):
            log.warning("Ctrl-C: stopping after this step (press it again to stop at once, without saving)")
            handler(signal.SIGTERM, frame)
        else:
            raise KeyboardInterrupt

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._restore()
        if not isinstance(exception, SIGTERMException):
            return
        if not _stopped_by:
            _stopped_by.append(int(signal.SIGTERM))
        path = last_checkpoint_path(trainer)
        trainer.save_checkpoint(path)
        log.info("stopped at step %d: saved %s", trainer.global_step, path)
