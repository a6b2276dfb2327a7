#!/usr/bin/env python
"""Time the network-free artifact checks of :mod:`supervision.quality` on the current device.

Each check runs on a synthetic batch shaped like the triplet builder's (a TPS warp grid, parsed
label maps, blended images and masks) and prints one machine-readable line with the median of
``--repeats`` runs after ``--warmup``:

    bench=quality check=fold device=cpu threads=1 batch=16 size=256 median_s=...

Checks: ``fold`` (:func:`warp_fold_stats`), ``occlusion`` (:func:`occlusion_fraction`),
``colour_step`` (:func:`boundary_colour_step` with an ``allowed`` mask), ``mouth``
(:func:`mouth_consistency`).

Examples:
    python scripts/bench_quality.py                      # batch 16 at 256 px, one CPU thread
    python scripts/bench_quality.py --size 512 --threads 2
    python scripts/bench_quality.py --device cuda
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable

import torch

from bench_timing import median_seconds  # scripts/ is on sys.path when a script runs

from reliableswap.faces.parsing.labels import ID
from supervision.quality import (
    boundary_colour_step,
    mouth_consistency,
    occlusion_fraction,
    warp_fold_stats,
)
from supervision.reenact.warp import warp_tps

log = logging.getLogger("bench_quality")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=256, help="image size S of the inputs")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=15)
    return parser.parse_args(argv)




def synthetic_batch(batch: int, size: int, device: torch.device) -> dict[str, torch.Tensor]:
    """A warp grid, label maps of A' and B, result/reference images and masks (seeded)."""
    g = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    c = size / 2
    face = ((yy - c) ** 2 / (0.38 * size) ** 2 + (xx - c) ** 2 / (0.3 * size) ** 2 <= 1).expand(batch, -1, -1)
    labels_b = torch.full((batch, size, size), ID["background"], dtype=torch.long)
    labels_b[face] = ID["skin"]
    labels_b[:, : int(0.35 * size), : int(0.5 * size)] = ID["hair"]
    labels_b[:, int(0.68 * size):int(0.74 * size), int(0.4 * size):int(0.6 * size)] = ID["u_lip"]
    labels_a = torch.roll(labels_b, shifts=size // 64, dims=2)

    src = torch.rand(batch, 20, 2, generator=g) * (0.6 * size) + 0.2 * size
    dst = src + torch.randn(batch, 20, 2, generator=g) * (size / 64)
    images = torch.rand(batch, 3, size, size, generator=g) * 2 - 1
    grid = warp_tps(images, src, dst, anchors_per_side=4).grid

    mask = face[:, None].float() * (labels_b != ID["hair"])[:, None].float()
    reference = images * 0.3
    result = torch.where(mask > 0.5, reference + 0.1, reference)
    return {
        "grid": grid.to(device), "region": face[:, None].float().to(device), "labels_a": labels_a.to(device),
        "labels_b": labels_b.to(device), "result": result.to(device), "reference": reference.to(device),
        "mask": mask.to(device), "allowed": (labels_b == ID["skin"])[:, None].float().to(device),
    }


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    x = synthetic_batch(args.batch, args.size, device)
    checks: dict[str, Callable[[], object]] = {
        "fold": lambda: warp_fold_stats(x["grid"], x["region"]),
        "occlusion": lambda: occlusion_fraction(x["labels_b"], x["region"]),
        "colour_step": lambda: boundary_colour_step(x["result"], x["reference"], x["mask"], x["allowed"]),
        "mouth": lambda: mouth_consistency(x["labels_a"], x["labels_b"]),
    }
    common = f"device={device.type} threads={args.threads} batch={args.batch} size={args.size}"
    with torch.inference_mode():
        for name, fn in checks.items():
            t = median_seconds(fn, args.warmup, args.repeats, device)
            log.info("bench=quality check=%s %s median_s=%.4f", name, common, t)


if __name__ == "__main__":
    main()
