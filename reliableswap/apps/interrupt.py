"""Stopping a long run on request: Ctrl-C (SIGINT) and SIGTERM (SLURM, Kubernetes, ``timeout``).

Both signals end the builder and training the same way: whatever is finished is on disk, one line
on stderr says so (:data:`RESUME_MESSAGE`), no traceback, and the exit status is the shell's
convention for the signal: 130 for SIGINT, 143 for SIGTERM.

:func:`sigterm_raises` makes SIGTERM raise :class:`Terminated` (a :class:`KeyboardInterrupt`, so
code that already cleans up after Ctrl-C does the same for SIGTERM); :func:`exit_on_interrupt`
turns either into the line and the exit status. Training does not use :func:`sigterm_raises`:
Lightning's own SIGTERM handler stops the fit loop at the end of a step and
:class:`reliableswap.lightning.interrupt.SaveLastOnInterrupt` saves ``last.ckpt`` there.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

__all__ = ["RESUME_MESSAGE", "Terminated", "exit_on_interrupt", "exit_status", "sigterm_raises"]

#: The one line printed when a run is stopped by a signal.
RESUME_MESSAGE = "finished work is saved; rerun the same command to resume"

T = TypeVar("T")


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (raised by the handler of :func:`sigterm_raises`)."""


def exit_status(signum: int) -> int:
    """The shell's exit status of a process stopped by ``signum``: ``128 + signum`` (130, 143)."""
    return 128 + int(signum)


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block SIGTERM raises :class:`Terminated` in the main thread; restored afterwards."""

    def _raise(signum: int, _frame: object) -> None:
        raise Terminated(signum)

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_on_interrupt(app: str, run: Callable[[], T]) -> T:
    """``run()``; on Ctrl-C or SIGTERM print ``"<app>: <RESUME_MESSAGE>"`` and exit 130 / 143.

    :class:`Terminated` (or a :class:`SystemExit` whose code is 143) counts as SIGTERM, any
    other :class:`KeyboardInterrupt` as SIGINT.
    """
    try:
        return run()
    except KeyboardInterrupt as exc:
        signum = signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT
    except SystemExit as exc:
        if exc.code not in (exit_status(signal.SIGTERM), exit_status(signal.SIGINT)):
            raise
        signum = signal.SIGTERM if exc.code == exit_status(signal.SIGTERM) else signal.SIGINT
    print(f"{app}: {RESUME_MESSAGE}", file=sys.stderr)
    raise SystemExit(exit_status(signum))
