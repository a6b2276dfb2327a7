"""Synthesis of one swapped face per (source, driver) pair: the ReliableSwap recipe, batched.

For a batch of directions (A -> B and B -> A are two samples of the same batch):

1. reenact A with B's pose and expression (A', with A's face shape);
2. parse A' and B into face parts;
3. colour-transfer A''s inner face to B's skin statistics (linear: mean and covariance in RGB);
4. multi-band blend A''s face parts into B with the occluder-aware mask of
   :mod:`supervision.masks` (hair, hats, hands and glasses of both stay out; the inner mouth is
   B's), the low frequencies confined to ``blend_reach_px`` around the mask (no haze);
5. reshape: where B's face extends beyond A''s outline the band is dropped and inpainted, so the
   outline follows A; where A' extends beyond B, A' pixels stay (the released code ignored this);
6. optional enhancement;
7. quality: the result must still hold a detectable face, be closer to A than to B for the
   configured identity model, not collapse, and not be a near copy of B; and the artifact checks
   must pass: no warp fold / strongly non-uniform warp inside the pasted face, faces not heavily
   occluded, no colour step across the mask boundary, A''s mouth on B's mouth. Every check that
   fails is reported (``Failure``), so rejection rates per check can be counted and calibrated.

Every stage is a pluggable backend (``supervision/protocols.py``) or a batched torch function,
so the whole synthesis runs on the configured device.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reliableswap.data.transforms import images_to_uint8 as to_uint8
from reliableswap.data.transforms import uint8_to_images
from reliableswap.faces.color import linear_color_transfer
from reliableswap.faces.face import ALIGNED_BOX_SCORE, Face, FaceAnalyzer
from reliableswap.faces.parsing.labels import colorize_labels, region_mask
from reliableswap.faces.parsing.protocol import FaceParser
from supervision.blend import blend_masks, laplacian_pyramid_blend
from supervision.masks import face_blend_mask, face_hull_mask, inner_mouth_region
from supervision.protocols import Enhancer, Inpainter, Reenacted, Reenactor
from supervision.quality import (
    boundary_colour_step,
    image_collapsed,
    is_near_copy,
    mouth_consistency,
    occlusion_fraction,
    warp_fold_stats,
)
from supervision.reshape import reshape_face

log = logging.getLogger(__name__)

FACE_OUTLINE = ("skin", "nose", "l_eye", "r_eye", "l_brow", "r_brow", "mouth", "u_lip", "l_lip")


def mouth_openness(landmarks: Tensor) -> Tensor:
    """(B, 68, 2) iBUG landmarks -> (B,) inner-lip gap over mouth width (0 = closed; ~0.3 = wide open).

    The gap is the mean distance of the three facing inner-lip point pairs (61-67, 62-66, 63-65);
    the width is the distance of the mouth corners (48, 54). NaN landmarks give NaN.
    """
    upper, lower = landmarks[:, [61, 62, 63]], landmarks[:, [67, 66, 65]]
    gap = (upper - lower).norm(dim=-1).mean(dim=1)
    width = (landmarks[:, 48] - landmarks[:, 54]).norm(dim=-1).clamp_min(1e-6)
    return gap / width


class StageError(Exception):
    """A pair cannot go on; ``stage`` names where it stopped (recorded in failures.csv)."""

    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(f"{stage}: {reason}")
        self.stage = stage
        self.reason = reason


#: Names of the quality checks, in the order they are reported (failures.csv ``check`` column).
CHECKS: tuple[str, ...] = (
    "collapsed", "near_copy", "identity_similarity", "closer_to_target", "warp_fold", "warp_stretch",
    "occlusion", "colour_step", "mouth", "no_face",
)


@dataclass(frozen=True)
class Failure:
    """Why one synthesized image is rejected: the stage, the check (one of :data:`CHECKS` for the
    quality stage) and a human-readable reason with the measured value and threshold."""

    stage: str
    check: str
    reason: str


@dataclass
class SynthesisSettings:
    size: int = 256  # output resolution
    work_size: int = 512  # reenactment / parsing / reshaping resolution
    blend_levels: int = 10
    blend_working_size: int = 512
    blend_erode_px: int = 3
    blend_feather_px: int = 3
    # occluder_aware: supervision.masks.face_blend_mask; legacy: supervision.blend.blend_masks
    mask_rule: str = "occluder_aware"
    mouth_from_b: bool = True
    mouth_dilate_px: int = 4
    eyeglasses: str = "occluder"
    hull_forehead: float = 0.35
    blend_reach_px: float | None = 32.0  # pixels at the blend size S (1/16 of 512); None = unlimited low-frequency mixing (the original's haze)
    color_transfer: bool = True
    reshape: bool = True
    reshape_dilate_px: int = 5
    min_identity_similarity: float = 0.4  # spec: drop when cosine distance to A >= 0.6
    require_closer_to_source: bool = True
    near_copy_threshold: float = 0.02
    require_face: bool = True
    # artifact checks (None disables the check; its value is still measured and reported)
    max_fold_fraction: float | None = 0.0     # share of the pasted region where the warp folds
    # (defaults calibrated on the shared held-out faces, see configs/build_triplets.yaml)
    max_warp_stretch: float | None = 30.0     # p99/p1 of the warp's area change inside the paste
    max_occlusion: float | None = 0.30        # share of A''s or B's face hull covered by non-face
    max_colour_step: float | None = 55.0      # 8-bit levels of colour jump across the mask boundary
    min_mouth_consistency: float | None = 0.4  # IoU of A''s and B's mouth regions
    colour_step_width_px: int = 4             # band width of the colour-step check (output pixels)


@dataclass
class Synthesis:
    """Batched results at the output size, with per-sample quality metrics and failures.

    ``maps``: per-sample maps at the output size for artifact metrics (``mask`` (B, 1, S, S) blend
    mask, ``drop`` (B, 1, S, S) reshape drop, ``grid`` (B, S, S, 2) source pixel (x, y) in A's
    frame at the output size, absent when the reenactor has no pixel map).
    """

    images: Tensor  # (B, 3, size, size)
    metrics: list[dict[str, float]]
    failures: list[list[Failure]]  # per sample; empty = accepted
    debug: dict[str, Tensor] = field(default_factory=dict)  # stage name -> (B, 3, S, S) images
    maps: dict[str, Tensor] = field(default_factory=dict)
    #: the inputs at the output size, resized exactly as ``images`` (what the builder stores as A/B)
    sources: Tensor | None = None
    drivers: Tensor | None = None


class StageTimer:
    """Accumulates wall time per stage (synchronising CUDA so GPU work is attributed correctly)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def __call__(self, stage: str, device: torch.device | None = None) -> Iterator[None]:
        if device is not None and device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        yield
        if device is not None and device.type == "cuda":
            torch.cuda.synchronize(device)
        self.seconds[stage] += time.perf_counter() - start


def to_tensor(rgb: np.ndarray, device: torch.device) -> Tensor:
    """uint8 HxWx3 -> float (3, H, W) in [-1, 1]."""
    return uint8_to_images(rgb[None], device)[0]


def resize(images: Tensor, size: int) -> Tensor:
    if images.shape[-1] == size:
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


class TripletSynthesizer:
    """Holds the stage backends; :meth:`synthesize` turns (A, B) batches into AB images."""

    def __init__(
        self,
        analyzer: FaceAnalyzer,
        reenactor: Reenactor,
        parser: FaceParser,
        inpainter: Inpainter,
        enhancer: Enhancer | None = None,
        identity: nn.Module | None = None,
        settings: SynthesisSettings | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        stages = {"face_analyzer": (analyzer, FaceAnalyzer), "reenactor": (reenactor, Reenactor),
                  "parser": (parser, FaceParser), "inpainter": (inpainter, Inpainter)}
        if enhancer is not None:
            stages["enhancer"] = (enhancer, Enhancer)
        for stage, (backend, protocol) in stages.items():
            if not isinstance(backend, protocol):
                raise TypeError(f"{stage}: {type(backend).__name__} does not implement {protocol.__name__} "
                                f"(check the {stage} config's _target_)")
        self.analyzer = analyzer
        self.reenactor = reenactor
        self.parser = parser
        self.inpainter = inpainter
        self.enhancer = enhancer
        self.device = torch.device(device)
        self.identity = identity.to(self.device) if identity is not None else None
        self.settings = settings or SynthesisSettings()
        self.timer = StageTimer()
        #: checks that could not be measured in this run (e.g. warp checks of a generator reenactor)
        self.unmeasured: set[str] = set()

    # -- per-image analysis ---------------------------------------------------------------------
    def analyze(self, rgb: np.ndarray) -> Face:
        """Largest face with 68 landmarks; :class:`StageError` when there is none."""
        with self.timer("analysis"):
            faces = self.analyzer.detect(rgb)
        if not faces:
            raise StageError("analysis", "no face found")
        if faces[0].landmarks68 is None:
            raise ValueError(f"triplet synthesis needs 68 landmarks but analyzer {self.analyzer.name} gives none "
                             "(set landmarks68: true in its face_analyzer settings)")
        return faces[0]

    # -- batched synthesis ------------------------------------------------------------------------
    @torch.no_grad()
    def synthesize(
        self, sources: Tensor, drivers: Tensor, source_landmarks: Tensor, driver_landmarks: Tensor, keep_debug: bool = False
    ) -> Synthesis:
        """``sources``/``drivers``: (B, 3, W, W) at ``work_size``; landmarks (B, 68, 2) in that frame."""
        s, t, dev = self.settings, self.timer, self.device
        sources, drivers = sources.to(dev), drivers.to(dev)
        source_landmarks, driver_landmarks = source_landmarks.to(dev), driver_landmarks.to(dev)

        with t("reenact", dev):
            reenacted = self.reenactor.reenact(sources, drivers, source_landmarks, driver_landmarks)
        reenacted = self._with_landmarks(reenacted, driver_landmarks)
        with t("parse", dev):
            labels_a = self.parser.parse(reenacted.image, reenacted.landmarks)
            labels_b = self.parser.parse(drivers, driver_landmarks)
        with t("blend", dev):
            hull_b, hull_a, known_a = self._hulls(reenacted, driver_landmarks, drivers.shape[-1])
            lm_a = torch.where(known_a[:, None, None], reenacted.landmarks, driver_landmarks)
            mouth_region = torch.maximum(inner_mouth_region(driver_landmarks, drivers.shape[-1]),
                                         inner_mouth_region(lm_a, drivers.shape[-1]))
            mask = self._blend_mask(labels_a, labels_b, hull_b, reenacted.valid, mouth_region)
            face_a = region_mask(labels_a, FACE_OUTLINE) * reenacted.valid
            face_b = region_mask(labels_b, FACE_OUTLINE)
            foreground = reenacted.image
            if s.color_transfer:
                foreground = linear_color_transfer(foreground, drivers, face_a, face_b)
            blended = laplacian_pyramid_blend(
                foreground, drivers, mask, levels=s.blend_levels, working_size=s.blend_working_size,
                reach_px=s.blend_reach_px,
            )
        drop = torch.zeros_like(mask)
        reshaped = blended
        if s.reshape:
            with t("reshape", dev):
                # A''s outline: its face parts, glasses and whatever lies inside its landmark hull (a
                # hand, a fringe), so only the contour (jaw, cheeks) is compared with B's, never
                # an occluded patch of A' (that would drop and smear B's eyes under A''s glasses)
                outline_a = torch.maximum(region_mask(labels_a, (*FACE_OUTLINE, "eyeglasses")),
                                          hull_a * known_a.view(-1, 1, 1, 1).to(hull_a.dtype)) * reenacted.valid
                reshaped, drop = reshape_face(blended, outline_a, face_b, self.inpainter, dilate_px=s.reshape_dilate_px)
        result = reshaped
        if self.enhancer is not None:
            with t("enhance", dev):
                result = self.enhancer.enhance(result)
        result = resize(result, s.size).clamp(-1, 1)
        maps = self._maps(mask, drop, reenacted.grid, drivers.shape[-1])

        sources_out, drivers_out = resize(sources, s.size), resize(drivers, s.size)
        with t("quality", dev):
            artifacts = self._artifacts(reenacted, labels_a, labels_b, hull_a, hull_b, mask)
            artifacts |= {"mouth_open_a": mouth_openness(source_landmarks), "mouth_open_b": mouth_openness(driver_landmarks)}
            skin_b = resize(region_mask(labels_b, ("skin",)), s.size) > 0.5
            metrics, failures = self._quality(
                result, sources_out, drivers_out, resize(face_b, s.size), maps, artifacts=artifacts, skin_b=skin_b,
            )
        debug = {}
        if keep_debug:
            # captions name roles (the AB row's source is A, the BA row's is B)
            debug = {
                "source": sources,
                "target (driver)": drivers,
                "source reenacted": reenacted.image,
                "labels: reenacted": colorize_labels(labels_a),
                "labels: target": colorize_labels(labels_b),
                "blend mask": mask.expand(-1, 3, -1, -1) * 2 - 1,
                "colour-matched": foreground,
                "blended": blended,
                "reshape drop": drop.expand(-1, 3, -1, -1) * 2 - 1,
                "result": result,
            }
        return Synthesis(images=result, metrics=metrics, failures=failures, debug=debug, maps=maps,
                         sources=sources_out, drivers=drivers_out)

    def _with_landmarks(self, reenacted: Reenacted, driver_landmarks: Tensor) -> Reenacted:
        """Fill the landmarks a reenactor did not give (LIA returns NaN) by analysing A' itself.

        Masks, hulls and the landmark parser are never drawn from NaN: each image of A' without
        landmarks goes through the face analyzer; where it finds no face (or only the FFHQ
        fallback box), B's landmarks stand in, since A' was driven into B's pose (logged).
        """
        lm = reenacted.landmarks
        missing = ~torch.isfinite(lm).flatten(1).all(1)
        if not bool(missing.any()):
            return reenacted
        filled = lm.clone()
        images = to_uint8(reenacted.image[missing].float())
        stand_ins = 0
        with self.timer("analysis"):
            for row, rgb in zip(torch.nonzero(missing).flatten().tolist(), images):
                faces = self.analyzer.detect(rgb)
                if faces and faces[0].landmarks68 is not None and faces[0].score != ALIGNED_BOX_SCORE:
                    filled[row] = torch.as_tensor(faces[0].landmarks68, dtype=lm.dtype, device=lm.device)
                else:
                    filled[row] = driver_landmarks[row].to(lm.dtype)
                    stand_ins += 1
        if stand_ins:
            log.info("reenacted faces without landmarks: %d of %d analysed, %d without a detected face use the "
                     "driver's landmarks", int(missing.sum()) - stand_ins, int(missing.sum()), stand_ins)
        return Reenacted(image=reenacted.image, landmarks=filled, valid=reenacted.valid, grid=reenacted.grid)

    def _hulls(self, reenacted: Reenacted, driver_landmarks: Tensor, size: int) -> tuple[Tensor, Tensor, Tensor]:
        """Face hulls (B, 1, S, S) of B and of A', and (B,) whether A''s landmarks are known (where
        a reenactor gives none, e.g. LIA, A''s hull is B's: A' is in B's pose)."""
        hull_b = face_hull_mask(driver_landmarks, size, forehead=self.settings.hull_forehead)
        lm_a = reenacted.landmarks
        known = torch.isfinite(lm_a).flatten(1).all(1)
        if not bool(known.any()):
            return hull_b, hull_b, known
        hull_a = face_hull_mask(torch.where(known[:, None, None], lm_a, driver_landmarks), size,
                                forehead=self.settings.hull_forehead)
        return hull_b, hull_a, known

    def _blend_mask(self, labels_a: Tensor, labels_b: Tensor, hull_b: Tensor, valid_a: Tensor,
                    mouth_region: Tensor | None = None) -> Tensor:
        s = self.settings
        if s.mask_rule == "legacy":
            return blend_masks(labels_a, labels_b, erode_px=s.blend_erode_px, feather_px=s.blend_feather_px) * valid_a
        if s.mask_rule != "occluder_aware":
            raise ValueError(f"settings.mask_rule must be occluder_aware or legacy, got {s.mask_rule!r}")
        return face_blend_mask(
            labels_a, labels_b, hull_b, mouth_from_b=s.mouth_from_b, mouth_dilate_px=s.mouth_dilate_px,
            eyeglasses=s.eyeglasses, erode_px=s.blend_erode_px, feather_px=s.blend_feather_px, valid_a=valid_a,
            mouth_region=mouth_region,
        )

    def _maps(self, mask: Tensor, drop: Tensor, grid: Tensor | None, work: int) -> dict[str, Tensor]:
        """Blend mask, drop mask and the warp map at the output size (grid in output-size pixels)."""
        size = self.settings.size
        maps = {"mask": resize(mask, size).clamp(0, 1), "drop": resize(drop, size).clamp(0, 1)}
        if grid is not None:
            g = resize(grid.permute(0, 3, 1, 2).float(), size).permute(0, 2, 3, 1)
            maps["grid"] = (g + 0.5) * (size / work) - 0.5
        return maps

    def _artifacts(self, reenacted: Reenacted, labels_a: Tensor, labels_b: Tensor, hull_a: Tensor, hull_b: Tensor,
                   mask: Tensor) -> dict[str, Tensor]:
        """(B,) artifact measurements at the working size (see :mod:`supervision.quality`)."""
        out = {
            "occlusion_a": occlusion_fraction(labels_a, hull_a),
            "occlusion_b": occlusion_fraction(labels_b, hull_b),
            "mouth_iou": mouth_consistency(labels_a, labels_b),
        }
        if reenacted.grid is not None:
            fold, stretch = warp_fold_stats(reenacted.grid, (mask > 0.5).to(mask.dtype))
            out["fold_fraction"], out["warp_stretch"] = fold, stretch
        elif not {"warp_fold", "warp_stretch"} <= self.unmeasured:
            self.unmeasured |= {"warp_fold", "warp_stretch"}
            log.warning("reenactor %s gives no pixel warp map: the warp_fold and warp_stretch checks are not "
                        "applied in this run", type(self.reenactor).__name__)
        return out

    def _quality(
        self, result: Tensor, sources: Tensor, drivers: Tensor, face_b: Tensor, maps: dict[str, Tensor],
        artifacts: dict[str, Tensor] | None = None, skin_b: Tensor | None = None,
    ) -> tuple[list[dict[str, float]], list[list[Failure]]]:
        """Per-sample metrics and failures at the output size; ``skin_b`` (B, 1, S, S) bool is B's
        skin, where the colour step across the mask boundary is measured (``None``: everywhere)."""
        s = self.settings
        n = result.shape[0]
        artifacts = dict(artifacts or {})
        failures: list[list[Failure]] = [[] for _ in range(n)]

        def fail(i: int, check: str, reason: str) -> None:
            failures[i].append(Failure("quality", check, reason))

        collapsed = image_collapsed(result)
        near_copy = is_near_copy(result, drivers, face_b, threshold=s.near_copy_threshold)
        if self.identity is not None:
            e_r, e_a, e_b = self.identity(result), self.identity(sources), self.identity(drivers)
            sim_a = F.cosine_similarity(e_r, e_a, dim=1).tolist()
            sim_b = F.cosine_similarity(e_r, e_b, dim=1).tolist()
        else:
            sim_a = sim_b = [float("nan")] * n
        artifacts["colour_step"] = boundary_colour_step(
            result, drivers, (maps["mask"] > 0.5).to(result.dtype), allowed=skin_b, width_px=s.colour_step_width_px
        )
        values = {k: v.float().tolist() for k, v in artifacts.items()}
        metrics: list[dict[str, float]] = []
        result_u8 = to_uint8(result)
        for i in range(n):
            m = {"id_sim_source": round(sim_a[i], 4), "id_sim_target": round(sim_b[i], 4)}
            m |= {k: round(v[i], 4) for k, v in values.items()}
            metrics.append(m)
            if bool(collapsed[i]):
                fail(i, "collapsed", "image collapsed (near-constant or non-finite)")
            if bool(near_copy[i]):
                fail(i, "near_copy", "result is a near copy of the target")
            if self.identity is not None and sim_a[i] < s.min_identity_similarity:
                fail(i, "identity_similarity",
                     f"identity similarity to source {sim_a[i]:.3f} < {s.min_identity_similarity}")
            if self.identity is not None and s.require_closer_to_source and sim_b[i] >= sim_a[i]:
                fail(i, "closer_to_target", f"closer to target identity ({sim_b[i]:.3f}) than to source ({sim_a[i]:.3f})")
            self._artifact_failures(m, lambda check, reason, i=i: fail(i, check, reason))
            if not failures[i] and s.require_face:
                faces = self.analyzer.detect(result_u8[i])
                score = faces[0].score if faces else None
                m["face_score"] = round(float(score), 4) if score is not None else float("nan")
                if not faces or score == ALIGNED_BOX_SCORE:  # a fallback box, not a detection
                    fail(i, "no_face", "no face detected in the result")
        return metrics, failures

    def _artifact_failures(self, m: dict[str, float], fail) -> None:
        """Apply the configured artifact thresholds to one sample's measurements."""
        s = self.settings
        if s.max_fold_fraction is not None and m.get("fold_fraction", 0.0) > s.max_fold_fraction:
            fail("warp_fold", f"warp folds over {m['fold_fraction']:.4f} of the pasted face (> {s.max_fold_fraction})")
        if s.max_warp_stretch is not None and m.get("warp_stretch", 1.0) > s.max_warp_stretch:
            fail("warp_stretch", f"warp area change spread p99/p1 {m['warp_stretch']:.2f} > {s.max_warp_stretch}")
        if s.max_occlusion is not None:
            worst = max(m["occlusion_a"], m["occlusion_b"])
            if worst > s.max_occlusion:
                which = "A'" if m["occlusion_a"] >= m["occlusion_b"] else "B"
                fail("occlusion", f"{which} face hull {worst:.3f} covered by non-face (> {s.max_occlusion})")
        if s.max_colour_step is not None and m["colour_step"] > s.max_colour_step:
            fail("colour_step", f"colour step across the mask boundary {m['colour_step']:.1f} > {s.max_colour_step} levels")
        if s.min_mouth_consistency is not None and m["mouth_iou"] < s.min_mouth_consistency:
            fail("mouth", f"mouth regions of A' and B overlap IoU {m['mouth_iou']:.3f} < {s.min_mouth_consistency}")
