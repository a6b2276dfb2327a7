#!/usr/bin/env python
"""Time the per-pair image stages of triplet synthesis on the current device.

Times :func:`supervision.blend.laplacian_pyramid_blend` (unbounded, and with ``reach_px`` =
``--reach-fraction`` x size; and, for reference, the colour transfer
and the diffusion inpainter) on a batch of random images with a blob mask, and prints one
machine-readable line per stage with the median of ``--repeats`` runs after ``--warmup``:

    bench=laplacian_blend device=cpu threads=1 batch=8 size=256 working_size=512 levels=10 median_s=...
    bench=laplacian_blend_reach device=cpu threads=1 batch=8 size=256 working_size=512 levels=10 reach_px=16.0 median_s=...

Examples:
    python scripts/bench_blend.py                         # batch 8, 256 -> 512, 10 levels
    python scripts/bench_blend.py --size 512 --threads 2
    python scripts/bench_blend.py --device cuda
"""

from __future__ import annotations

import argparse

import torch

from bench_timing import median_seconds  # scripts/ is on sys.path when a script runs

from reliableswap.faces.color import linear_color_transfer
from supervision.blend import RECOMMENDED_REACH_FRACTION, laplacian_pyramid_blend
from supervision.inpaint import DiffusionInpainter


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=256, help="image size S of the inputs")
    parser.add_argument("--working-size", type=int, default=512)
    parser.add_argument("--levels", type=int, default=10)
    parser.add_argument("--reach-fraction", type=float, default=RECOMMENDED_REACH_FRACTION,
                        help="reach_px of the bounded blend as a fraction of --size")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=9)
    return parser.parse_args(argv)




def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    shape = (args.batch, 3, args.size, args.size)
    fg = (torch.rand(shape, generator=g) * 2 - 1).to(device)
    bg = (torch.rand(shape, generator=g) * 2 - 1).to(device)
    yy, xx = torch.meshgrid(torch.arange(args.size), torch.arange(args.size), indexing="ij")
    c, r = args.size / 2, args.size / 3
    mask = (((yy - c) ** 2 + (xx - c) ** 2) <= r * r).float().expand(args.batch, 1, -1, -1).contiguous().to(device)
    band = (((yy - c) ** 2 + (xx - c) ** 2 - r * r).abs() <= 6 * r).float().expand(args.batch, 1, -1, -1).contiguous()
    band = band.to(device)

    common = f"device={device.type} threads={args.threads} batch={args.batch} size={args.size}"
    with torch.inference_mode():
        t = median_seconds(
            lambda: laplacian_pyramid_blend(fg, bg, mask, levels=args.levels, working_size=args.working_size),
            args.warmup, args.repeats, device,
        )
        print(f"bench=laplacian_blend {common} working_size={args.working_size} levels={args.levels} median_s={t:.4f}")
        reach = args.reach_fraction * args.size
        t = median_seconds(
            lambda: laplacian_pyramid_blend(fg, bg, mask, levels=args.levels, working_size=args.working_size,
                                            reach_px=reach),
            args.warmup, args.repeats, device,
        )
        print(f"bench=laplacian_blend_reach {common} working_size={args.working_size} levels={args.levels} "
              f"reach_px={reach} median_s={t:.4f}")
        t = median_seconds(lambda: linear_color_transfer(fg, bg, mask, mask), args.warmup, args.repeats, device)
        print(f"bench=linear_color_transfer {common} median_s={t:.4f}")
        inpainter = DiffusionInpainter()
        t = median_seconds(lambda: inpainter.inpaint(fg, band), args.warmup, args.repeats, device)
        print(f"bench=diffusion_inpaint {common} hole_px={int(band[0].sum())} median_s={t:.4f}")


if __name__ == "__main__":
    main()
