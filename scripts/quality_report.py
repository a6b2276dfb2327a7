#!/usr/bin/env python
"""Rejection rate per quality check of a build, at its own thresholds or at others (calibration).

    python scripts/quality_report.py OUT_DIR                       # the thresholds the build used
    python scripts/quality_report.py OUT_DIR --set max_colour_step=60 min_mouth_consistency=null

Reads ``OUT_DIR/quality.csv`` (every synthesized image with every measurement, accepted or not;
the last row per pair and direction counts). Thresholds: the build's own (its newest
``OUT_DIR/logs/*/.hydra/config.yaml``; ``configs/build_triplets.yaml`` when there is none),
then ``--set`` (threshold settings only; ``null`` disables a check). Prints, per check, the
distribution of its measurement (p10/p50/p90/min/max) and how many images and pairs it rejects,
and a summary with the pairs the build accepted and the pairs these thresholds would accept
(recomputed from the measured checks: identity, closer to target, fold, stretch, occlusion,
colour step, mouth; ``near_copy``, ``collapsed`` and ``no_face`` are not re-judged: a pair they
rejected keeps its verdict). One machine-readable line each:

    quality=check check=colour_step threshold=55 images=120 rejected_images=9 rejected_pairs=8 p50=...
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
#: (``closer_to_target`` compares two columns and is handled on its own)
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


def _thresholds(out_dir: Path) -> tuple[dict, str]:
    """The settings the build ran with (newest Hydra log of the output), else the repo's defaults."""
    logs = sorted((out_dir / "logs").glob("*/.hydra/config.yaml"))
    source = logs[-1] if logs else CONFIG
    settings = OmegaConf.to_container(OmegaConf.load(source).settings)
    return settings, str(source)


def _override(settings: dict, items: list[str], error) -> None:
    allowed = {setting for _, setting, _ in CHECKS.values()} | {"require_closer_to_source"}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in allowed:
            error(f"--set {item}: expected SETTING=VALUE with SETTING one of {', '.join(sorted(allowed))}")
        if value.lower() in ("null", "none"):
            settings[key] = None
        elif key == "require_closer_to_source":
            if value.lower() not in ("true", "false"):
                error(f"--set {item}: true or false")
            settings[key] = value.lower() == "true"
        else:
            try:
                settings[key] = float(value)
            except ValueError:
                error(f"--set {item}: {value!r} is not a number (or null)")


def main(argv: list[str] | None = None) -> list[str]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--set", nargs="*", default=[], metavar="SETTING=VALUE",
                    help="override thresholds (settings of configs/build_triplets.yaml; null disables)")
    args = ap.parse_args(argv)
    path = args.out_dir / QUALITY_CSV
    rows = read_rows(path)
    if not rows:
        ap.error(f"no measurements in {path} (a build of this version writes it)")
    latest = {(r["pair_id"], r["direction"]): r for r in rows}
    settings, source = _thresholds(args.out_dir)
    _override(settings, args.set, ap.error)
    pairs = sorted({p for p, _ in latest})
    rejected_by: dict[tuple[str, str], set[str]] = {key: set() for key in latest}
    lines = []
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
        for key, r in zip(latest, rejected):
            if r:
                rejected_by[key].add(check)
        bad_pairs = {key[0] for key, r in zip(latest, rejected) if r}
        p10, p50, p90 = np.percentile(values[known], [10, 50, 90])
        lines.append(
            f"quality=check check={check} threshold={threshold} images={int(known.sum())} "
            f"rejected_images={int(rejected.sum())} rejected_pairs={len(bad_pairs)} "
            f"p10={p10:.4g} p50={p50:.4g} p90={p90:.4g} max={values[known].max():.4g} min={values[known].min():.4g}"
        )
    closer = [key for key, r in latest.items()
              if settings.get("require_closer_to_source", True)
              and _float(r.get("id_sim_target", "")) >= _float(r.get("id_sim_source", ""))]
    for key in closer:
        rejected_by[key].add("closer_to_target")
    lines.append(f"quality=check check=closer_to_target threshold={settings.get('require_closer_to_source', True)} "
                 f"images={len(latest)} rejected_images={len(closer)} rejected_pairs={len({k[0] for k in closer})}")
    not_rejudged = {"near_copy", "collapsed", "no_face"}
    accepted_now = 0
    for p in pairs:
        keys = [(p, d) for d in ("AB", "BA") if (p, d) in latest]
        other = any(set(latest[k]["checks"].split(";")) & not_rejudged for k in keys)
        accepted_now += int(not other and not any(rejected_by[k] for k in keys))
    accepted = sum(all(latest[(p, d)]["accepted"] == "1" for d in ("AB", "BA") if (p, d) in latest) for p in pairs)
    lines.insert(0, f"quality=summary images={len(latest)} pairs={len(pairs)} accepted_pairs_in_build={accepted} "
                    f"accepted_pairs_at_these_thresholds={accepted_now} thresholds_from={source}")
    for line in lines:
        print(line, flush=True)
    return lines


if __name__ == "__main__":
    main()
