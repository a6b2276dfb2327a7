"""Benchmark inference on the current device: aligned-face swaps/s per batch size, video frames/s.

    python scripts/bench_inference.py [--ckpt CKPT] [--device auto] [--batches 1 4 16] [--frames 48]

Without ``--ckpt`` a tiny checkpoint is trained first (``experiment=faceshifter_vanilla
debug=tiny``, one step, 64x64; needs the shared faces) and the output says so: its numbers
measure the pipeline overhead, not a full-size AEI-Net. One machine-readable line per measurement:

    bench=inference kind=swap device=cpu size=64 batch=4 swaps_per_s=...
    bench=inference kind=video device=cpu size=64 frames=48 width=640 height=368 fps=...
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _tiny_checkpoint(run_dir: Path) -> Path:
    """One training step of ``faceshifter_vanilla debug=tiny`` (the same recipe as the tests)."""
    from hydra import compose, initialize_config_dir

    from reliableswap.config import register_resolvers
    from reliableswap.apps.train import train

    register_resolvers()
    overrides = ["experiment=faceshifter_vanilla", "debug=tiny", "trainer.max_steps=1", f"paths.output_dir={run_dir}",
                 "~logger", "~callbacks.swap_grid", "~callbacks.progress", "trainer.limit_val_batches=0"]
    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        result = train(compose(config_name="train", overrides=overrides))
    if result.last_checkpoint is None:
        raise SystemExit("tiny training wrote no checkpoint")
    return result.last_checkpoint


def bench_swaps(swapper, device: torch.device, batches: list[int], seconds: float) -> None:
    size = swapper.size
    for b in batches:
        x = torch.rand(b, 3, size, size, device=device) * 2 - 1
        swapper.swap(x, x)  # warm-up
        if device.type == "cuda":
            torch.cuda.synchronize()
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds or n < 2:
            swapper.swap(x, x.flip(0))
            n += 1
        if device.type == "cuda":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        print(f"bench=inference kind=swap device={device.type} size={size} batch={b} "
              f"swaps_per_s={n * b / dt:.2f} ms_per_batch={1000 * dt / n:.1f}", flush=True)


def bench_video(swapper, device: torch.device, video: Path, source: Path, frames: int, batch: int,
                parser_name: str = "unet") -> None:
    from reliableswap.faces.factory import build_face_analyzer
    from reliableswap.faces.parsing import LandmarkFaceParser, LearnedFaceParser
    from reliableswap.inference.images import SwapPipeline, SwapSettings
    from reliableswap.inference.video import swap_video
    from reliableswap.io.images import read_rgb

    # the paste mask of test.py: the U-Net parser (default), the landmark parser, or the template ellipse ("none")
    parser = {"unet": LearnedFaceParser, "landmarks": LandmarkFaceParser}.get(parser_name, lambda: None)()
    analyzer = build_face_analyzer("auto", needs_landmarks68=bool(getattr(parser, "needs_landmarks68", False)))
    pipeline = SwapPipeline(swapper, analyzer, SwapSettings(batch_size=batch), parser=parser, device=device)
    pipeline.set_source(read_rgb(source))
    with tempfile.TemporaryDirectory() as tmp:
        item = swap_video(pipeline, video, Path(tmp) / "out.mp4", progress=False, max_frames=frames, record_frames=False)
    if item.error:
        raise SystemExit(f"video benchmark failed: {item.error}")
    t = item.timings_s
    print(f"bench=inference kind=video device={device.type} size={swapper.size} analyzer={pipeline.analyzer.name} "
          f"parser={parser_name} frames={item.frames_total} width={item.width} height={item.height} batch={batch} "
          f"fps={item.frames_total / t['total']:.2f} detect_s={t['detect']:.2f} swap_paste_s={t['swap_paste']:.2f} "
          f"audio_s={t['audio']:.2f}", flush=True)


def main(argv: list[str] | None = None) -> int:
    from reliableswap import paths
    from reliableswap.inference.loading import load_swapper
    from reliableswap.swapping import resolve_device

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ckpt", type=Path, help="checkpoint to benchmark (default: train a tiny one)")
    p.add_argument("--device", default="auto")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 4, 16])
    p.add_argument("--seconds", type=float, default=3.0, help="time per batch size")
    p.add_argument("--frames", type=int, default=48, help="video frames to swap (0 = skip the video benchmark)")
    p.add_argument("--video", type=Path, default=paths.data_dir() / "video" / "talking_face_target.mp4")
    p.add_argument("--source", type=Path, default=paths.data_dir() / "wild" / "_portraits" / "taylor.png")
    p.add_argument("--parser", choices=["unet", "landmarks", "none"], nargs="+", default=["unet", "landmarks", "none"],
                   help="paste masks to time in the video benchmark (unet = test.py's default)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = args.ckpt
        if ckpt is None:
            print("no --ckpt given: training a tiny checkpoint (faceshifter_vanilla debug=tiny, 1 step, 64x64); "
                  "numbers measure the pipeline with a tiny generator, not a full AEI-Net", flush=True)
            ckpt = _tiny_checkpoint(Path(tmp) / "run")
        swapper = load_swapper(ckpt, device)
        print(f"# ckpt={ckpt} device={device} torch_threads={torch.get_num_threads()}", flush=True)
        bench_swaps(swapper, device, args.batches, args.seconds)
        if args.frames:
            for parser_name in args.parser:
                bench_video(swapper, device, args.video, args.source, args.frames, max(args.batches), parser_name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
