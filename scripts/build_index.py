#!/usr/bin/env python
"""Build a dataset index CSV (path, identity, quality, width, height) from a folder of faces.

Identities come from folder names: ``ROOT/<person>/...`` -> ``<person>`` (nested folders give
``group/person``); an image directly in ROOT is its own identity (file stem). Every image is
decoded once (``reliableswap.io.images.read_rgb``) so the index only lists files a data
loader can read; unreadable, too-small and (with ``--check-faces``) face-less images are
skipped and listed in the report with the reason.

Quality column (``--quality``):
  detection  dlib HOG detection score of the largest face (needs --check-faces; SVM margin,
             higher = more face-like);
  sharpness  variance of the Laplacian of the grayscale image resized to 256 px on its short
             side (resizing makes values comparable across resolutions; higher = sharper);
  none       empty column;
  auto       (default) detection with --check-faces, otherwise sharpness.

Exit status: 0 on success (even when some files were skipped), 1 when nothing was indexable,
2 on usage errors or a missing ROOT.
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from reliableswap.io.atomic import atomic_open
from reliableswap.io.images import ImageReadError, read_rgb
from reliableswap.io.index import IndexRow, scan_folder, write_index

log = logging.getLogger("build_index")

NO_FACE = "no face"


def sharpness(rgb: np.ndarray, short_side: int = 256) -> float:
    """Variance of the Laplacian at a fixed scale (see module doc)."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    scale = short_side / min(h, w)
    if scale != 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Index a folder of face images (one sub-folder per person) into a CSV "
        "with columns path, identity, quality, width, height; bad files are skipped and reported.",
        epilog="Identity = sub-folder path relative to ROOT; images directly in ROOT are their own "
        "identity (file stem). Quality: 'detection' = dlib HOG score of the largest face, "
        "'sharpness' = Laplacian variance at 256 px short side; 'auto' picks detection with "
        "--check-faces, else sharpness. Exit status 0 = ok (files may have been skipped), "
        "1 = nothing indexable, 2 = usage error or ROOT missing.",
    )
    parser.add_argument("root", type=Path, help="dataset root folder")
    parser.add_argument("--output", "-o", type=Path, required=True, help="index CSV to write (atomically)")
    parser.add_argument(
        "--check-faces",
        action="store_true",
        help="skip images in which dlib's built-in HOG detector finds no face (reason 'no face')",
    )
    parser.add_argument(
        "--upsample",
        type=int,
        default=0,
        help="dlib detector upsampling steps for --check-faces (1 finds faces down to ~40 px; slower)",
    )
    parser.add_argument(
        "--min-size", type=int, default=64, help="skip images whose shorter side is below this (pixels; default 64)"
    )
    parser.add_argument(
        "--quality",
        choices=("auto", "detection", "sharpness", "none"),
        default="auto",
        help="what to store in the quality column (default auto)",
    )
    parser.add_argument("--report", type=Path, default=None, help="CSV (path, reason) listing skipped files")
    parser.add_argument(
        "--skip-private", action="store_true", help="ignore folders and files whose name starts with '.' or '_'"
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar (also off when stderr is not a terminal)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every skipped file")
    args = parser.parse_args(argv)
    if args.quality == "detection" and not args.check_faces:
        parser.error("--quality detection needs --check-faces")
    if args.min_size < 1:
        parser.error("--min-size must be >= 1")
    return args


def write_report(skipped: list[tuple[str, str]], path: Path) -> None:
    """Write the (path, reason) report atomically."""
    with atomic_open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "reason"])
        writer.writerows(skipped)


def build(args: argparse.Namespace) -> tuple[list[IndexRow], list[tuple[str, str]]]:
    """Check every candidate file; return (kept rows, skipped (path, reason))."""
    candidates = scan_folder(args.root, skip_private=args.skip_private, read_sizes=False)
    detector = None
    if args.check_faces:
        from reliableswap.faces.dlib_detector import DlibDetector

        detector = DlibDetector(upsample=args.upsample)
    quality_kind = args.quality
    if quality_kind == "auto":
        quality_kind = "detection" if args.check_faces else "sharpness"

    kept: list[IndexRow] = []
    skipped: list[tuple[str, str]] = []
    # disable=None: tqdm turns itself off when stderr is not a terminal (logs stay readable)
    progress = tqdm(candidates, desc="indexing", unit="img", disable=args.no_progress or None, file=sys.stderr)
    for row in progress:
        try:
            rgb = read_rgb(args.root / row.path)
        except ImageReadError as exc:
            skipped.append((row.path, exc.reason))
            continue
        height, width = rgb.shape[:2]
        if min(height, width) < args.min_size:
            skipped.append((row.path, f"too small ({width}x{height} < {args.min_size})"))
            continue
        quality: float | None = None
        if detector is not None:
            faces = detector.detect(rgb)
            if not faces:
                skipped.append((row.path, NO_FACE))
                continue
            if quality_kind == "detection":
                quality = round(faces[0][1], 4)  # score of the largest box
        if quality_kind == "sharpness":
            quality = round(sharpness(rgb), 2)
        kept.append(IndexRow(row.path, row.identity, quality, int(width), int(height)))
    for path, reason in skipped:
        log.debug("skipped %s: %s", path, reason)
    return kept, skipped


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    if not args.root.is_dir():
        log.error("dataset root not found or not a folder: %s", args.root)
        return 2
    kept, skipped = build(args)
    if args.report is not None:
        write_report(skipped, args.report)
    reasons: dict[str, int] = {}
    for _, reason in skipped:
        key = reason.split(" (")[0]
        reasons[key] = reasons.get(key, 0) + 1
    summary = ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items())) or "none"
    identities = len({row.identity for row in kept})
    log.info("indexed %d images of %d identities; skipped %d (%s)", len(kept), identities, len(skipped), summary)
    if not kept:
        log.error("nothing indexable under %s", args.root)
        return 1
    write_index(kept, args.output)
    log.info("wrote %s%s", args.output, f" and report {args.report}" if args.report else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
