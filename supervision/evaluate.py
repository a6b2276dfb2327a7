"""Independent check of built triplets: is AB really A's identity in B's pose?

Judged with models the builder does *not* use: the dlib ResNet face descriptor for identity and
3DDFA-V2 for head pose. For every built pair and both directions (AB from A into B, BA from B
into A) it measures whether the swap is closer to its source than to its target identity, and
the yaw/pitch/roll difference between the swap and its target (with the source-vs-target
difference as the reference of "no pose transfer at all").

    python -m supervision.evaluate OUT_DIR [--json report.json]
    python -m supervision.evaluate OUT_DIR --masks LABEL_DIR [--artifacts-only]

prints one machine-readable line ``eval=triplets pairs=... closer_to_source=... ...``.

With ``--masks`` (ground-truth label maps ``<stem>.png`` of the input faces, canonical
CelebAMask-HQ labels) and a build made with ``save_maps=true``, it also measures the artifacts no
identity metric sees (:func:`artifact_metrics`), one more line ``eval=triplet_artifacts ...``:

- ``occluder_target`` / ``occluder_source``: share of the blend mask on the target's (and, through
  the warp map, the source's) ground-truth hair, hat, eyeglasses, earring, necklace or cloth
  pixels, pooled over all swaps (mask-weighted); ``swaps_over_1pct``: swaps whose own share
  (target + source) is over 1 %;
- ``inner_mouth_target`` / ``inner_mouth_source``: share of the blend mask on the target's inner
  mouth (B's teeth covered) and, through the warp map, on the source's (A's teeth pasted);
- ``fold_area``: share of the blend mask (weighted) where the warp map folds (Jacobian
  determinant <= 0), and ``swaps_with_fold``: swaps with a fold where the mask is > 0.5 (the
  map is the builder's warp resampled to the output size, so this is an independent re-check of
  its ``warp_fold`` check);
- ``colour_step``: colour jump across the mask boundary beyond the target's own (8-bit levels,
  :func:`supervision.quality.boundary_colour_step`, on the target's skin);
- ``haze``: mean |swap - target| (8-bit levels) farther than 24 px from the mask and the reshape
  drop, where the swap should be exactly the target.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from reliableswap.data.parsing_dataset import read_label_map
from reliableswap.faces.parsing.labels import ID
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


#: Ground-truth classes that must never be under the blend mask (occluders and accessories).
OCCLUDER_CLASSES = ("hair", "hat", "eyeglasses", "earring", "necklace", "cloth")
HAZE_DISTANCE_PX = 24


@dataclass
class ArtifactReport:
    swaps: int  # swaps with maps and ground truth
    occluder_target: float  # pooled share of mask weight on the target's GT occluders
    occluder_source: float  # the same on the source's GT occluders (through the warp map; nan without)
    swaps_over_1pct: int  # swaps whose own target+source occluder share exceeds 1 %
    inner_mouth_target: float
    inner_mouth_source: float  # share of mask weight on the source's GT inner mouth (its teeth pasted)
    fold_area: float  # pooled share of mask weight where the warp folds
    swaps_with_fold: int
    colour_step: float  # mean over swaps, 8-bit levels
    haze: float  # mean over swaps, 8-bit levels

    def line(self) -> str:
        return (
            f"eval=triplet_artifacts swaps={self.swaps} occluder_target={self.occluder_target:.4f} "
            f"occluder_source={self.occluder_source:.4f} swaps_over_1pct={self.swaps_over_1pct} "
            f"inner_mouth_target={self.inner_mouth_target:.4f} inner_mouth_source={self.inner_mouth_source:.4f} fold_area={self.fold_area:.5f} "
            f"swaps_with_fold={self.swaps_with_fold} colour_step={self.colour_step:.2f} haze={self.haze:.2f}"
        )


def _labels_at(path: Path, size: int) -> np.ndarray:
    labels = read_label_map(path)
    return cv2.resize(labels, (size, size), interpolation=cv2.INTER_NEAREST) if labels.shape[0] != size else labels


def _in(labels: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    return np.isin(labels, [ID[n] for n in names])


def _fold(grid: np.ndarray) -> np.ndarray:
    from supervision.reenact.warp import jacobian_det

    return jacobian_det(torch.from_numpy(grid)[None])[0].numpy() <= 0


def _haze(swap: np.ndarray, target: np.ndarray, changed: np.ndarray) -> float:
    """Mean |swap - target| (8-bit) farther than HAZE_DISTANCE_PX from any changed pixel."""
    far = cv2.distanceTransform((~changed).astype(np.uint8), cv2.DIST_L2, 5) > HAZE_DISTANCE_PX
    if not far.any():
        return 0.0
    return float(np.abs(swap.astype(np.float32) - target.astype(np.float32)).mean(axis=-1)[far].mean())


def artifact_metrics(out_dir: Path, masks_dir: Path) -> ArtifactReport:
    """Artifact metrics of a build with ``save_maps=true`` against ground-truth label maps."""
    from supervision.maps import MAPS_NAME, load_maps
    from supervision.quality import boundary_colour_step

    rows = read_rows(triplets_path(out_dir))
    sums = dict.fromkeys(("mask", "occ_t", "occ_s", "mask_s", "mouth", "mouth_s", "fold", "mask_f"), 0.0)
    over, folded, steps, hazes, swaps = 0, 0, [], [], 0
    without_maps = [row["pair_id"] for row in rows if not (Path(out_dir) / row["pair_id"] / MAPS_NAME).is_file()]
    if without_maps and len(without_maps) < len(rows):
        log.warning("%d of %d built pairs have no %s and are left out of the artifact metrics: %s",
                    len(without_maps), len(rows), MAPS_NAME, ", ".join(without_maps[:5]))
    for row in rows:
        maps_path = Path(out_dir) / row["pair_id"] / MAPS_NAME
        if not maps_path.is_file():
            continue
        try:
            maps = load_maps(maps_path)
        except (OSError, ValueError, KeyError) as exc:
            raise ValueError(f"{maps_path} cannot be read ({exc})") from None
        images = {k: read_rgb(Path(out_dir) / row[k]) for k in IMAGE_COLUMNS}
        stems = {"source": Path(row["source_image"]).stem, "target": Path(row["target_image"]).stem}
        gt_paths = {k: Path(masks_dir) / f"{v}.png" for k, v in stems.items()}
        if not all(p.is_file() for p in gt_paths.values()):
            log.warning("no ground truth for pair %s in %s: skipped", row["pair_id"], masks_dir)
            continue
        size = images["target"].shape[0]
        gt = {k: _labels_at(p, size) for k, p in gt_paths.items()}
        for d, (swap, src, tgt) in enumerate((("output_st", "source", "target"), ("output_ts", "target", "source"))):
            mask = maps["mask"][d]
            total = float(mask.sum())
            if total <= 0:
                continue
            swaps += 1
            occ_t = float((mask * _in(gt[tgt], OCCLUDER_CLASSES)).sum())
            occ_s = 0.0
            sums["mask"] += total
            sums["occ_t"] += occ_t
            sums["mouth"] += float((mask * _in(gt[tgt], ("mouth",))).sum())
            if "grid" in maps:
                grid = maps["grid"][d]
                x = np.clip(np.rint(grid[..., 0]), 0, size - 1).astype(np.int64)
                y = np.clip(np.rint(grid[..., 1]), 0, size - 1).astype(np.int64)
                warped = gt[src][y, x]
                occ_s = float((mask * _in(warped, OCCLUDER_CLASSES)).sum())
                sums["occ_s"] += occ_s
                sums["mouth_s"] += float((mask * _in(warped, ("mouth",))).sum())
                sums["mask_s"] += total
                folds = _fold(grid)
                sums["fold"] += float((mask * folds).sum())
                sums["mask_f"] += total
                # a fold counts where the pixel is pasted (mask > 0.5), as in the builder's check;
                # the mask's soft rim (a few % of A') is where the mouth/outline exclusions end
                folded += int((folds & (mask > 0.5)).any())
            over += int((occ_t + occ_s) / total > 0.01)
            to_t = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None].float() / 127.5 - 1  # noqa: E731
            skin = torch.from_numpy(_in(gt[tgt], ("skin",)))[None, None].float()
            hard = torch.from_numpy((mask > 0.5).astype(np.float32))[None, None]
            steps.append(float(boundary_colour_step(to_t(images[swap]), to_t(images[tgt]), hard, allowed=skin)[0]))
            changed = (mask > 0.02) | (maps["drop"][d] > 0.02)
            hazes.append(_haze(images[swap], images[tgt], changed))
    if not swaps:
        raise ValueError(f"no pair in {out_dir} has {MAPS_NAME} and ground truth in {masks_dir} "
                         "(build with save_maps=true; --masks is the folder of <stem>.png label maps)")
    return ArtifactReport(
        swaps=swaps,
        occluder_target=sums["occ_t"] / sums["mask"],
        occluder_source=sums["occ_s"] / sums["mask_s"] if sums["mask_s"] else float("nan"),
        swaps_over_1pct=over,
        inner_mouth_target=sums["mouth"] / sums["mask"],
        inner_mouth_source=sums["mouth_s"] / sums["mask_s"] if sums["mask_s"] else float("nan"),
        fold_area=sums["fold"] / sums["mask_f"] if sums["mask_f"] else float("nan"),
        swaps_with_fold=folded,
        colour_step=float(np.mean(steps)),
        haze=float(np.mean(hazes)),
    )


def main(argv: list[str] | None = None) -> TripletReport | ArtifactReport:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path, help="output folder of supervision.build_triplets")
    parser.add_argument("--json", type=Path, default=None, help="also write the report(s) as JSON here")
    parser.add_argument("--masks", type=Path, default=None,
                        help="ground-truth label maps <stem>.png of the input faces: adds the artifact metrics")
    parser.add_argument("--artifacts-only", action="store_true", help="only the artifact metrics (needs --masks)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.artifacts_only and args.masks is None:
        parser.error("--artifacts-only needs --masks")
    if args.masks is not None and not args.masks.is_dir():
        parser.error(f"--masks {args.masks} is not a folder")
    if not args.out_dir.is_dir():
        parser.error(f"{args.out_dir} is not a folder (the output of supervision.build_triplets)")
    reports: dict[str, dict] = {}
    report: TripletReport | ArtifactReport | None = None
    try:
        if not args.artifacts_only:
            report = evaluate_triplets(args.out_dir)
            print(report.line(), flush=True)
            reports["triplets"] = asdict(report)
        if args.masks is not None:
            report = artifact_metrics(args.out_dir, args.masks)
            print(report.line(), flush=True)
            reports["artifacts"] = asdict(report)
    except ValueError as exc:  # nothing built, no maps, no ground truth, unreadable maps
        parser.error(str(exc))
    if args.json:
        args.json.write_text(json.dumps(reports if len(reports) > 1 else next(iter(reports.values())), indent=2))
    assert report is not None
    return report


if __name__ == "__main__":
    main()
