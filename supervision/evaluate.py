"""Independent check of built triplets: is AB really A's identity in B's pose?

Judged with models the builder does *not* use: the dlib ResNet face descriptor for identity and
3DDFA-V2 for head pose. For every built pair and both directions (AB from A into B, BA from B
into A) it measures whether the swap is closer to its source than to its target identity, and
the yaw/pitch/roll difference between the swap and its target (with the source-vs-target
difference as the reference of "no pose transfer at all").

    python -m supervision.evaluate OUT_DIR [--json report.json]

prints one machine-readable line ``eval=triplets pairs=... closer_to_source=... ...``.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from reliableswap.io.csv_rows import read_rows
from reliableswap.io.images import read_rgb
from reliableswap.io.triplets_csv import IMAGE_COLUMNS, triplets_path

log = logging.getLogger(__name__)


@dataclass
class TripletReport:
    pairs: int
    swaps: int  # 2 per pair (AB and BA)
    judged: int  # swaps where dlib found faces in swap, source and target
    closer_to_source: float  # fraction of judged swaps with d(swap, source) < d(swap, target)
    mean_dist_to_source: float
    mean_dist_to_target: float
    pose_err_to_target_deg: tuple[float, float, float]  # mean |Δ yaw|, |Δ pitch|, |Δ roll| swap vs target
    pose_err_source_to_target_deg: tuple[float, float, float]  # the same for the untouched source

    def line(self) -> str:
        yaw, pitch, roll = self.pose_err_to_target_deg
        ryaw, rpitch, rroll = self.pose_err_source_to_target_deg
        return (
            f"eval=triplets pairs={self.pairs} swaps={self.swaps} judged={self.judged} "
            f"closer_to_source={self.closer_to_source:.3f} dist_source={self.mean_dist_to_source:.3f} "
            f"dist_target={self.mean_dist_to_target:.3f} pose_err_yaw={yaw:.2f} pose_err_pitch={pitch:.2f} "
            f"pose_err_roll={roll:.2f} source_pose_err_yaw={ryaw:.2f} source_pose_err_pitch={rpitch:.2f} "
            f"source_pose_err_roll={rroll:.2f}"
        )


def evaluate_triplets(out_dir: Path) -> TripletReport:
    from reliableswap.evaluation import DlibFaceDescriptor, TDDFAPoseEstimator, face_distance

    rows = read_rows(triplets_path(out_dir))
    if not rows:
        raise ValueError(f"no built triplets in {triplets_path(out_dir)}")
    # Triplet images are aligned crops: a fixed box never drops a sample, and the descriptor is
    # computed the same way for swap, source and target.
    describer = DlibFaceDescriptor(box_mode="aligned")
    pose = TDDFAPoseEstimator()
    closer, d_src, d_tgt, err, ref = [], [], [], [], []
    for row in rows:
        images = {k: read_rgb(Path(out_dir) / row[k]) for k in IMAGE_COLUMNS}
        emb = {k: describer.describe(v) for k, v in images.items()}
        ang = {k: np.array(pose.estimate(v).angles) for k, v in images.items()}
        for swap, src, tgt in (("output_st", "source", "target"), ("output_ts", "target", "source")):
            err.append(np.abs(ang[swap] - ang[tgt]))
            ref.append(np.abs(ang[src] - ang[tgt]))
            if emb[swap] is None or emb[src] is None or emb[tgt] is None:
                continue
            ds, dt = float(face_distance(emb[swap], emb[src])), float(face_distance(emb[swap], emb[tgt]))
            d_src.append(ds)
            d_tgt.append(dt)
            closer.append(ds < dt)
    return TripletReport(
        pairs=len(rows),
        swaps=2 * len(rows),
        judged=len(closer),
        closer_to_source=float(np.mean(closer)) if closer else float("nan"),
        mean_dist_to_source=float(np.mean(d_src)) if d_src else float("nan"),
        mean_dist_to_target=float(np.mean(d_tgt)) if d_tgt else float("nan"),
        pose_err_to_target_deg=tuple(float(x) for x in np.mean(err, axis=0)),
        pose_err_source_to_target_deg=tuple(float(x) for x in np.mean(ref, axis=0)),
    )


def main(argv: list[str] | None = None) -> TripletReport:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path, help="output folder of supervision.build_triplets")
    parser.add_argument("--json", type=Path, default=None, help="also write the report as JSON here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    report = evaluate_triplets(args.out_dir)
    print(report.line(), flush=True)
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2))
    return report


if __name__ == "__main__":
    main()
