#!/usr/bin/env python
"""Rejection rate per quality check of a build, at its thresholds or at others (calibration).

    python scripts/quality_report.py OUT_DIR                       # thresholds of configs/build_triplets.yaml
    python scripts/quality_report.py OUT_DIR --set max_colour_step=20 min_mouth_consistency=0.5

Reads ``OUT_DIR/quality.csv`` (every synthesized image with every measurement, accepted or not;
the last row per pair and direction counts) and prints, per artifact check, the distribution of
its measurement (p10/p50/p90/max) and how many images and pairs the threshold rejects, one
machine-readable line each:

    quality=check check=colour_step threshold=20 images=120 rejected_images=9 rejected_pairs=8 p50=...
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from reliableswap.io.csv_rows import read_rows
from supervision.storage import QUALITY_CSV

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "build_triplets.yaml"

#: check -> (measurement column, threshold setting, rejects when the value is "above" | "below")
CHECKS = {
    "warp_fold": ("fold_fraction", "max_fold_fraction", "above"),
    "warp_stretch": ("warp_stretch", "max_warp_stretch", "above"),
    "occlusion_a": ("occlusion_a", "max_occlusion", "above"),
    "occlusion_b": ("occlusion_b", "max_occlusion", "above"),
    "colour_step": ("colour_step", "max_colour_step", "above"),
    "mouth": ("mouth_iou", "min_mouth_consistency", "below"),
    "identity_similarity": ("id_sim_source", "min_identity_similarity", "below"),
}


def _float(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return float("nan")


def main(argv: list[str] | None = None) -> list[str]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--set", nargs="*", default=[], metavar="SETTING=VALUE",
                    help="override thresholds (names of configs/build_triplets.yaml settings; null disables)")
    args = ap.parse_args(argv)
    path = args.out_dir / QUALITY_CSV
    rows = read_rows(path)
    if not rows:
        ap.error(f"no measurements in {path} (a build of this version writes it)")
    latest = {(r["pair_id"], r["direction"]): r for r in rows}
    settings = OmegaConf.to_container(OmegaConf.load(CONFIG).settings)
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in settings:
            ap.error(f"--set {item}: unknown setting {key!r}")
        settings[key] = None if value in ("null", "none", "") else float(value)
    pairs = sorted({p for p, _ in latest})
    lines = [f"quality=summary images={len(latest)} pairs={len(pairs)} "
             f"accepted_pairs={sum(all(latest[(p, d)]['accepted'] == '1' for d in ('AB', 'BA') if (p, d) in latest) for p in pairs)}"]
    for check, (column, setting, side) in CHECKS.items():
        values = np.array([_float(r.get(column, "")) for r in latest.values()])
        known = ~np.isnan(values)
        if not known.any():
            lines.append(f"quality=check check={check} images=0 (not measured)")
            continue
        threshold = settings.get(setting)
        if threshold is None:
            rejected = np.zeros_like(known)
        else:
            rejected = known & ((values > threshold) if side == "above" else (values < threshold))
        bad_pairs = {key[0] for key, r in zip(latest, rejected) if r}
        p10, p50, p90 = np.percentile(values[known], [10, 50, 90])
        lines.append(
            f"quality=check check={check} threshold={threshold} images={int(known.sum())} "
            f"rejected_images={int(rejected.sum())} rejected_pairs={len(bad_pairs)} "
            f"p10={p10:.4g} p50={p50:.4g} p90={p90:.4g} max={values[known].max():.4g} min={values[known].min():.4g}"
        )
    for line in lines:
        print(line, flush=True)
    return lines


if __name__ == "__main__":
    main()
