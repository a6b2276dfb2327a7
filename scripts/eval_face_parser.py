#!/usr/bin/env python
"""Pooled IoU of a face parser on the held-out CelebAMask-HQ faces (the split of experiment=face_parser).

    python scripts/eval_face_parser.py                       # the shipped U-Net (parser=unet)
    python scripts/eval_face_parser.py --parser landmarks    # the landmark parser (dlib 68 points)
    python scripts/eval_face_parser.py --weights run.pt --json iou.json

Images and label maps are read at 512 and compared at ``--size`` (default 256: labels resized
nearest, the parser run on the resized image). IoU is pooled over all held-out pixels per region
(:data:`reliableswap.lightning.parser_module.IOU_GROUPS`). Prints one machine-readable line:

    eval=face_parser parser=unet images=100 size=256 skin=0.9 hair=0.8 ... ms_per_image=...
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from reliableswap import paths
from reliableswap.data.parsing_dataset import heldout_stems, labelled_stems, read_label_map
from reliableswap.data.transforms import uint8_to_images
from reliableswap.io.images import read_rgb
from reliableswap.lightning.parser_module import IoUAccumulator

log = logging.getLogger("eval_face_parser")


def build_parser(kind: str, weights: Path | None):
    from reliableswap.faces.parsing import LandmarkFaceParser, LearnedFaceParser

    if kind == "unet":
        return LearnedFaceParser(weights_path=weights)
    if kind == "landmarks":
        return LandmarkFaceParser()
    if kind == "bisenet":
        from reliableswap.faces.parsing import BiSeNetParser

        return BiSeNetParser(weights_path=weights)
    raise ValueError(kind)


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parser", choices=("unet", "landmarks", "bisenet"), default="unet")
    ap.add_argument("--weights", type=Path, default=None, help="weights file (default: the registry's)")
    ap.add_argument("--images", type=Path, default=None,
                    help="aligned faces (default: <data>/celebamask_hq_1k/images); label maps in ../masks")
    ap.add_argument("--val-count", type=int, default=100, help="held-out images: the last N stems (as training)")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    images_dir = args.images or paths.data_dir() / "celebamask_hq_1k" / "images"
    items = labelled_stems(images_dir, images_dir.parent / "masks") if images_dir.is_dir() else []
    if not items:
        ap.error(f"no labelled images in {images_dir} (label maps <stem>.png in {images_dir.parent / 'masks'})")
    held = heldout_stems([s for s, _, _ in items], args.val_count)
    items = [it for it in items if it[0] in held]
    from reliableswap.weights import ChecksumError, MissingWeightsError

    try:
        parser = build_parser(args.parser, args.weights)
    except (MissingWeightsError, ChecksumError, ValueError) as exc:
        ap.error(str(exc).splitlines()[0])
    analyzer = None
    if parser.needs_landmarks68:
        from reliableswap.faces.dlib_analyzer import DlibAnalyzer

        analyzer = DlibAnalyzer(detect_max_side=256, assume_aligned_box=True)
    acc = IoUAccumulator()
    seconds = 0.0
    for stem, image_path, mask_path in items:
        rgb = read_rgb(image_path)
        gt = cv2.resize(read_label_map(mask_path), (args.size, args.size), interpolation=cv2.INTER_NEAREST)
        small = cv2.resize(rgb, (args.size, args.size), interpolation=cv2.INTER_AREA)
        landmarks = None
        if analyzer is not None:
            lm = analyzer.detect(rgb)[0].landmarks68
            landmarks = torch.from_numpy((lm + 0.5) * args.size / rgb.shape[0] - 0.5)[None].float()
        start = time.perf_counter()
        pred = parser.parse(uint8_to_images(small[None], torch.device("cpu")), landmarks)
        seconds += time.perf_counter() - start
        acc.update(pred, torch.from_numpy(gt.astype(np.int64))[None])
    ious = acc.compute()
    result = {k: round(v, 4) for k, v in ious.items()}
    ms = 1000 * seconds / len(items)
    print(f"eval=face_parser parser={args.parser} images={len(items)} size={args.size} "
          + " ".join(f"{k}={v:.3f}" for k, v in result.items()) + f" ms_per_image={ms:.1f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"parser": args.parser, "images": len(items), "size": args.size,
                                         "iou": result, "ms_per_image": round(ms, 2)}, indent=2))
    return result


if __name__ == "__main__":
    main()
