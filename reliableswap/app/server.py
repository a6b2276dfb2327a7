"""Build the demo's services from the composed ``configs/app.yaml`` and serve the page.

The swapper is ``ckpt=PATH`` (a checkpoint of ``train.py``, e.g. the demo run's ``last.ckpt``) or
``baseline=copy_target`` / ``baseline=copy_source_aligned`` (works before any training), exactly as
for ``python test.py``. The triplet tab composes ``configs/build_triplets.yaml`` with
``triplet_overrides`` (e.g. ``[builder/reenactor=lia]``) and builds its networks on first use.
The server binds ``host`` (127.0.0.1 by default); another interface or a public ``share`` link
is only used when asked for, and said in the log.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import tempfile
import time
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

from reliableswap import paths
from reliableswap.apps.interrupt import Terminated, exit_status, sigterm_raises
from reliableswap.apps.test import baseline_node
from reliableswap.app.service import SwapService, TripletService, UploadLimits
from reliableswap.inference.images import SwapPipeline, SwapSettings
from reliableswap.inference.loading import build_swapper
from reliableswap.swapping import resolve_device

log = logging.getLogger(__name__)


class AppUsageError(Exception):
    """A command-line mistake found before the server starts: one line, exit 2."""


def compose_builder_config(overrides: list[str], device: str) -> DictConfig:
    """``configs/build_triplets.yaml`` with ``overrides`` (input/output are not used by one pair)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    args = ["input=-", "output=-", f"device={device}", *overrides]
    if GlobalHydra.instance().is_initialized():  # inside the app's own @hydra.main: same config folder
        return compose(config_name="build_triplets", overrides=args)
    with initialize_config_dir(config_dir=str(paths.REPO_ROOT / "configs"), version_base="1.3"):
        return compose(config_name="build_triplets", overrides=args)


def build_services(cfg: DictConfig, workdir: Path) -> tuple[SwapService, TripletService | None, str]:
    """(swap service, triplet service or None, swapper name) of ``cfg``; :class:`AppUsageError` for a bad choice."""
    device = resolve_device(cfg.device)
    try:
        swapper = build_swapper(cfg.get("ckpt"), baseline_node(cfg), device)
    except (ValueError, FileNotFoundError) as exc:
        raise AppUsageError(str(exc).splitlines()[0]) from None
    parser = hydra.utils.instantiate(cfg.parser) if cfg.get("parser") is not None else None
    analyzer = hydra.utils.instantiate(cfg.face_analyzer,
                                       needs_landmarks68=bool(getattr(parser, "needs_landmarks68", False)))
    settings = SwapSettings(faces="largest", batch_size=int(cfg.batch_size), color=cfg.color,
                            feather=float(cfg.feather), min_face=float(cfg.min_face))
    pipeline = SwapPipeline(swapper, analyzer, settings, parser=parser, device=device)
    limits = UploadLimits(max_bytes=int(float(cfg.max_upload_mb) * 2**20), max_video_frames=int(cfg.max_video_frames))
    video = OmegaConf.to_container(cfg.video, resolve=True)
    name = f"checkpoint {cfg.ckpt}" if cfg.get("ckpt") else f"baseline {getattr(swapper, 'name', type(swapper).__name__)}"
    swap = SwapService(pipeline=pipeline, workdir=workdir, limits=limits, video_options=dict(video), swapper_name=name)
    triplet = None
    if cfg.triplet_tab:
        builder_cfg = compose_builder_config(list(cfg.triplet_overrides), str(device))
        from supervision.single_pair import make_synthesizer

        triplet = TripletService(synthesizer_factory=lambda: make_synthesizer(builder_cfg), detector=analyzer,
                                 limits=limits)
    return swap, triplet, name


def check_server_options(cfg: DictConfig) -> None:
    """:class:`AppUsageError` (one line) for a port that is not a number in 1-65535 or is taken on
    ``host``, or a CUDA device on a machine without one: before any model is loaded."""
    try:
        port = int(cfg.port)
    except (TypeError, ValueError):
        raise AppUsageError(f"port={cfg.port} is not a number; give a free TCP port, e.g. port=7860") from None
    if not 1 <= port <= 65535:
        raise AppUsageError(f"port={port} is out of range (1-65535)")
    family = socket.AF_INET6 if ":" in str(cfg.host) else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((str(cfg.host), port))
        except OSError as exc:
            raise AppUsageError(f"cannot listen on {cfg.host}:{port} ({exc.strerror or exc}); "
                                "choose another port= or stop what uses it") from None
    for key, cast, low in (("max_upload_mb", float, 0.0), ("max_video_frames", int, 0)):
        try:
            value = cast(cfg[key])
        except (TypeError, ValueError):
            raise AppUsageError(f"{key}={cfg[key]} is not a number") from None
        if not value > low:
            raise AppUsageError(f"{key}={cfg[key]} must be > 0")
    if str(cfg.device).startswith("cuda") and not torch.cuda.is_available():
        raise AppUsageError(f"device={cfg.device} but this machine has no CUDA device; use device=cpu or device=auto")


def _swapper_note(cfg: DictConfig) -> str | None:
    """What the page should say about the swapper's quality, where this project knows it."""
    if cfg.get("ckpt") and Path(str(cfg.ckpt)).name == "demo_reference.pt":
        return ("This is the shipped CPU reference (128 px, trained 6,000 steps on 2 CPU cores): it swaps identity, "
                "but expect checkerboard texture and colour patches (README, *Reference checkpoint*).")
    if cfg.get("baseline") is not None:
        return "A sanity baseline, not a model: it copies a face, it does not swap one."
    return None


def serve(cfg: DictConfig) -> int:
    """Start the page and block until Ctrl-C / SIGTERM; returns the exit status (130 / 143).

    Everything the server writes (uploads, Gradio's copies, the results) lives in one temporary
    folder that is removed when it stops, whichever signal stops it.
    """
    check_server_options(cfg)
    workdir = Path(tempfile.mkdtemp(prefix="reliableswap_app_"))
    # Gradio keeps uploads in GRADIO_TEMP_DIR: inside the folder removed at exit, unless the user chose one
    os.environ.setdefault("GRADIO_TEMP_DIR", str(workdir / "gradio"))
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from a lab machine
    from reliableswap.app.ui import build_blocks, example_pairs

    if cfg.share:
        log.warning("share=true: Gradio opens a public link to this server through its relay; anyone with the link "
                    "can upload photos to it")
    if cfg.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("host=%s: the demo is reachable from other machines on that interface", cfg.host)
    blocks = None
    previous_sigint = signal.getsignal(signal.SIGINT)
    with sigterm_raises():  # SIGTERM stops it as Ctrl-C does (cleanup below)
        try:
            swap, triplet, name = build_services(cfg, workdir / "requests")
            swap_examples, triplet_examples = example_pairs(paths.data_dir() / "wild") if cfg.examples else ([], [])
            blocks = build_blocks(swap, triplet, name, swap_examples, triplet_examples, note=_swapper_note(cfg))
            blocks.queue(default_concurrency_limit=1)  # one request at a time on the model (both tabs share it)
            blocks.launch(server_name=str(cfg.host), server_port=int(cfg.port), share=bool(cfg.share),
                          max_file_size=swap.limits.max_bytes, allowed_paths=[str(workdir)],
                          show_error=True, quiet=False, ssr_mode=False, prevent_thread_lock=True)
            log.info("web demo (swapper %s) on http://%s:%d; stop with Ctrl-C", name, cfg.host, int(cfg.port))
            while True:
                time.sleep(0.5)
        except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM through sigterm_raises
            return exit_status(signal.SIGTERM if isinstance(stop, Terminated) else signal.SIGINT)
        finally:
            # a repeated signal (timeout, scancel and systemd send more than one) must not cut the cleanup short
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            log.info("stopping; removing this server's uploads and results")
            if blocks is not None:
                blocks.close()
            shutil.rmtree(workdir, ignore_errors=True)
            signal.signal(signal.SIGINT, previous_sigint)
