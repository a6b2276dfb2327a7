#!/usr/bin/env python
"""Throughput of the training DataLoader (read + augment + collate) for one data config.

Times ``--passes`` passes of ``--batches`` batches each from one long-lived loader iterator after
``--warmup`` batches (worker start-up, page cache), and prints the median pass as one line:

  bench=data_loading root=... size=... batch=... workers=... median_s_per_batch=... img_per_s=...

``img_per_s`` counts training pairs (a pair = source + target images) per second.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from reliableswap import paths
from reliableswap.data.datamodule import FaceSwapDataModule


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root",
        type=Path,
        default=paths.data_dir() / "celebamask_hq_1k" / "images",
        help="aligned face folder (default: $RELIABLESWAP_DATA/celebamask_hq_1k/images)",
    )
    parser.add_argument("--index", type=Path, default=None, help="index CSV (default: scan root)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batches", type=int, default=20, help="batches per timed pass")
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=5, help="untimed batches first")
    parser.add_argument("--same-rate", type=float, default=0.2)
    parser.add_argument("--no-augment", action="store_true", help="resize + convert only")
    parser.add_argument("--full-decode", action="store_true", help="disable reduced-scale JPEG decoding")
    return parser.parse_args(argv)


def _forever(loader: torch.utils.data.DataLoader) -> Iterator[dict[str, Any]]:
    while True:
        yield from loader


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    dm = FaceSwapDataModule(
        args.root,
        index=args.index,
        size=args.size,
        batch_size=args.batch,
        num_workers=args.workers,
        same_rate=args.same_rate,
        val_fraction=0.0,
        val_pairs=0,
        augment={"enabled": not args.no_augment},
        pin_memory=False,
    )
    dm.setup("fit")
    assert dm.train_dataset is not None
    dm.train_dataset.images.fast_decode = not args.full_decode
    batches = _forever(dm.train_dataloader())
    for _ in range(args.warmup):
        next(batches)
    timings = []
    for _ in range(args.passes):
        start = time.perf_counter()
        for _ in range(args.batches):
            next(batches)
        timings.append((time.perf_counter() - start) / args.batches)
    median = statistics.median(timings)
    print(
        f"bench=data_loading root={args.root} size={args.size} batch={args.batch} workers={args.workers} "
        f"median_s_per_batch={median:.4f} img_per_s={args.batch / median:.1f} "
        f"augment={not args.no_augment} fast_decode={not args.full_decode}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
