"""Derive the 5-point landmark template of FFHQ-style aligned crops, empirically.

Why: the identity encoders expect the standard 112x112 ArcFace crop, while the training data are
FFHQ-aligned crops (a different, looser framing). The fixed warp between them
(:mod:`reliableswap.faces.alignment`) needs the *average* position of the five ArcFace landmarks
(eye centres, nose tip, mouth corners) inside an FFHQ crop. We measure it instead of guessing: run
InsightFace SCRFD-500M (whose 5 keypoints are the same points, in the same order, as the ArcFace
template) on the CelebAMask-HQ sample and average the landmarks normalised by the crop size.

Usage::

    python scripts/derive_ffhq_template.py [--images DIR] [--limit N]

Prints a JSON object: ``mean`` (5x2, x then y, normalised to [0, 1] of the crop with (0, 0) the
top-left *corner* of the crop, so a pixel centre x is at (x + 0.5) / size), ``std``,
``median``, ``count`` (faces used) and ``failed`` (images without a detection). The numbers are
hard-coded as ``FFHQ_TEMPLATE_5PT`` in ``reliableswap/faces/alignment.py``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import cv2
import numpy as np

from reliableswap import paths
from reliableswap.faces.scrfd import ScrfdAnalyzer

log = logging.getLogger("derive_ffhq_template")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=Path, default=paths.data_dir() / "celebamask_hq_1k" / "images")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N images (0: all)")
    parser.add_argument("--det-size", type=int, default=640, help="SCRFD input size")
    parser.add_argument(
        "--pad", type=float, default=0.25,
        help="black border added on each side, as a fraction of the crop size. SCRFD misses about "
        "half of the faces when a 512 crop (face filling it) is fed at 640 without it",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    files = sorted(p for p in args.images.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    if args.limit:
        files = files[: args.limit]
    if not files:
        log.error("no images in %s", args.images)
        return 1
    detector = ScrfdAnalyzer(det_size=args.det_size, pad=args.pad)

    points: list[np.ndarray] = []
    failed: list[str] = []
    for i, path in enumerate(files):
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            failed.append(path.name)
            continue
        h, w = bgr.shape[:2]
        faces = detector.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))  # the crop has one centred face
        if not faces:
            failed.append(path.name)
            continue
        k = faces[0].kps
        # Continuous normalised coordinates: (0, 0) is the crop's top-left corner, (1, 1) its
        # bottom-right corner; a detector's pixel coordinate x (pixel centres at integers) is
        # (x + 0.5) / size. This is what makes the template exact at any crop size.
        points.append((k + 0.5) / np.array([w, h], dtype=np.float64))
        if (i + 1) % 200 == 0:
            log.info("%d / %d images", i + 1, len(files))

    arr = np.stack(points)  # (N, 5, 2)
    result = {
        "detector": "scrfd_500m_kps",
        "images": str(args.images),
        "det_size": args.det_size,
        "pad": args.pad,
        "count": int(arr.shape[0]),
        "failed": len(failed),
        "mean": np.round(arr.mean(0), 5).tolist(),
        "median": np.round(np.median(arr, 0), 5).tolist(),
        "std": np.round(arr.std(0), 5).tolist(),
    }
    # One line per key keeps the output both machine-readable and easy to read.
    print("{\n" + ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}" for k, v in result.items()) + "\n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
