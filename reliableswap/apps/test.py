"""The body of ``python test.py``: swap faces into files, or evaluate a swapper on a protocol.

``run_from_config(cfg)`` takes the composed ``configs/test.yaml`` and returns the process exit
code. What to swap with is ``ckpt=PATH`` (a checkpoint, :mod:`reliableswap.inference.loading`)
or ``baseline=NAME`` (an evaluation sanity baseline, ``configs/baseline/``). With ``eval=PROTOCOL``
the swapper is handed to :func:`reliableswap.evaluation.runner.run`; otherwise the inference
pipeline (:mod:`reliableswap.inference.images`, :mod:`reliableswap.inference.video`) swaps
``source`` into ``target`` and writes a JSON run report.

Exit codes: 0 the run finished (errors of single inputs are in the report); 1 the run failed as
a whole (no source face, missing target, every input failed, a truncated video); 2 a usage error (missing key, no or
two swappers, a checkpoint or evaluation input that does not exist).
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import hydra
from omegaconf import OmegaConf

from reliableswap.inference.images import (
    SwapPipeline,
    SwapSettings,
    default_report_path,
    kind_of,
    run_inference,
    settings_dict,
)
from reliableswap.inference.loading import build_swapper
from reliableswap.inference.report import RunReport
from reliableswap.swapping import resolve_device

log = logging.getLogger(__name__)

__all__ = ["run_from_config"]


def _logged_settings(cfg: Any) -> SwapSettings:
    return SwapSettings(faces=cfg.faces, batch_size=int(cfg.batch_size),
                        reference_threshold=float(cfg.reference_threshold), color=cfg.color,
                        feather=float(cfg.feather), mask_scale=float(cfg.mask_scale), min_face=float(cfg.min_face))


def baseline_node(cfg: Any) -> dict[str, Any] | None:
    """The ``baseline=`` node as a plain dict (for :func:`build_swapper`), or None when no baseline is chosen."""
    node = cfg.get("baseline")
    return OmegaConf.to_container(node, resolve=True) if node is not None else None


class UsageError(Exception):
    """A command-line mistake (missing or contradictory keys, a path that does not exist): exit 2."""


def _swapper(cfg: Any, device: Any) -> Any:
    """The swapper of ``ckpt=`` or ``baseline=``; :class:`UsageError` for a wrong choice or a missing file."""
    try:
        return build_swapper(cfg.get("ckpt"), baseline_node(cfg), device)
    except (ValueError, FileNotFoundError) as exc:
        raise UsageError(str(exc).splitlines()[0]) from exc


def _writable_folder(folder: Path, what: str) -> None:
    """UsageError unless ``folder`` (or, if missing, its nearest existing parent) takes new files; tried with a file,
    since permission bits say nothing on read-only mounts or for root."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{what} {folder}: {existing} is a file, not a folder")
    try:
        handle, probe = tempfile.mkstemp(dir=existing, prefix=".write_test_")
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"{what} {folder} is not writable ({exc.strerror or type(exc).__name__} in {existing})") from None


def check_outputs(target: Path, output: Path, report: Path) -> None:
    """Refuse, before any work, an output of the wrong kind or in a place that cannot be written.

    A folder target (or an ``output`` without a media suffix) needs ``output`` to be a folder; an
    image/video ``output`` must not be an existing folder. Raises :class:`UsageError`.
    """
    wants_folder = target.is_dir() or kind_of(output) == "other"
    if wants_folder and output.is_file():
        raise UsageError(f"output={output} is a file, but {'a folder target' if target.is_dir() else 'this output'} "
                         "needs a folder: give output=DIR (or a file name with an image/video suffix)")
    if not wants_folder and output.is_dir():
        raise UsageError(f"output={output} is a folder, but a {kind_of(output)} file is to be written there: "
                         f"give output={output / target.name} or output=DIR without a media suffix")
    _writable_folder(output if wants_folder else output.parent, "output")
    _writable_folder(report.parent, "report folder")


def _evaluate(cfg: Any) -> int:
    """``eval=PROTOCOL``: benchmark the swapper; the runner writes its own results."""
    if cfg.get("output") is None:
        log.error("eval needs output=DIR")
        return 2
    if Path(cfg.output).is_file():
        raise UsageError(f"output={cfg.output} is a file; eval needs output=DIR")
    _writable_folder(Path(cfg.output), "output")
    swapper = _swapper(cfg, cfg.device)
    from reliableswap.evaluation.runner import run as run_eval

    try:
        run_eval(cfg, swapper, Path(cfg.output))  # failures other than missing inputs raise
    except FileNotFoundError as exc:  # eval.input / eval.videos_dir / a judge's weights
        raise UsageError(str(exc).splitlines()[0]) from exc
    return 0


def _swap_files(cfg: Any) -> int:
    """``source=... target=... output=...``: swap into an image, a folder or a video; report."""
    settings = _logged_settings(cfg)
    source, target, output = Path(cfg.source), Path(cfg.target), Path(cfg.output)
    report_path = Path(cfg.report) if cfg.get("report") else default_report_path(output, target.is_dir() or kind_of(output) == "other")
    check_outputs(target, output, report_path)
    device = resolve_device(cfg.device)
    swapper = _swapper(cfg, device)
    parser = hydra.utils.instantiate(cfg.parser) if cfg.get("parser") is not None else None
    # the analyzer gives what the parser needs (SCRFD adds dlib's 68 landmarks for parser=landmarks)
    analyzer = hydra.utils.instantiate(cfg.face_analyzer, needs_landmarks68=bool(getattr(parser, "needs_landmarks68", False)))
    identity = None
    if settings.faces == "reference" and cfg.get("identity") is not None:
        identity = hydra.utils.instantiate(cfg.identity).to(device).eval()
    try:
        pipeline = SwapPipeline(swapper, analyzer, settings, parser=parser, identity=identity, device=device)
    except ValueError as exc:  # e.g. an analyzer without 68 landmarks for a parser that needs them
        raise UsageError(str(exc).splitlines()[0]) from exc

    report = RunReport(swapper=str(getattr(swapper, "name", type(swapper).__name__)), device=str(device),
                       analyzer=analyzer.name, source=str(source), target=str(target), output=str(output),
                       settings={**settings_dict(settings), "parser": type(parser).__name__ if parser else None,
                                 "video": OmegaConf.to_container(cfg.video, resolve=True)})
    video_opts = OmegaConf.to_container(cfg.video, resolve=True)
    run_inference(pipeline, source, target, output, report, video_options=video_opts,
                  reference=Path(cfg.reference) if cfg.get("reference") else None)
    report.write(report_path)
    summary = report.summary()
    log.info("done: %d swapped, %d passed through (no face), %d errors, %d skipped; report: %s",
             summary["swapped"], summary["passthrough"], summary["error"], summary["skipped"], report_path)
    if report.error:
        log.error("run failed: %s (report: %s)", report.error, report_path)
    return 0 if report.ok else 1


def run_from_config(cfg: Any) -> int:
    """``python test.py ...``: build everything from the composed ``configs/test.yaml``; exit code.

    0: the run finished and at least one input was processed (errors of single inputs are in the
    report); 1: the run failed as a whole (no source face, missing target, every input failed, a truncated video);
    2: a usage error (a missing or contradictory key, a checkpoint or evaluation input that does
    not exist), said in one line.
    """
    try:
        if cfg.get("eval") is not None:
            return _evaluate(cfg)
        missing = [k for k in ("source", "target", "output") if cfg.get(k) is None]
        if missing:
            raise UsageError(f"missing {', '.join(f'{k}=...' for k in missing)}; usage: python test.py ckpt=CKPT "
                             "source=IMAGE target=IMAGE|DIR|VIDEO output=PATH (python test.py --help)")
        return _swap_files(cfg)
    except UsageError as exc:
        log.error("%s", exc)
        return 2
