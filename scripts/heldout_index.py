#!/usr/bin/env python
"""Index CSV of the faces the shipped face parser never trained on (the held-out split).

    python scripts/heldout_index.py heldout.csv [--images DIR] [--val-count 100]
    python -m supervision.build_triplets input=heldout.csv input_root=<images> output=OUT ...

The split is the one of ``experiment=face_parser`` (:func:`heldout_stems`: the last ``--val-count``
stems in sorted order). Each image is its own identity (every CelebAMask-HQ photo here is a
different photo). Paths are relative to the images folder, so pass it as ``input_root``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reliableswap import paths
from reliableswap.data.parsing_dataset import heldout_stems, labelled_stems
from reliableswap.io.index import IndexRow, write_index


def main(argv: list[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("output", type=Path, help="index CSV to write")
    ap.add_argument("--images", type=Path, default=None, help="default: <data>/celebamask_hq_1k/images")
    ap.add_argument("--val-count", type=int, default=100)
    args = ap.parse_args(argv)
    if args.output.is_dir():
        ap.error(f"output {args.output} is a folder: give the CSV file to write")
    images = args.images or paths.data_dir() / "celebamask_hq_1k" / "images"
    items = labelled_stems(images, images.parent / "masks") if images.is_dir() else []
    if not items:
        ap.error(f"no labelled images in {images}")
    held = heldout_stems([s for s, _, _ in items], args.val_count)
    rows = [IndexRow(path=p.name, identity=stem) for stem, p, _ in items if stem in held]
    write_index(rows, args.output)
    print(f"index=heldout images={len(rows)} root={images} path={args.output}", flush=True)
    return args.output


if __name__ == "__main__":
    main()
