"""Synthesis of one swapped face per (source, driver) pair: the ReliableSwap recipe, batched.

For a batch of directions (A -> B and B -> A are two samples of the same batch):

1. reenact A with B's pose and expression (A', with A's face shape);
2. parse A' and B into face parts;
3. colour-transfer A''s inner face to B's skin statistics (linear: mean and covariance in RGB);
4. multi-band blend A''s inner face into B (hair of both taken from B);
5. reshape: where B's face extends beyond A''s outline the band is dropped and inpainted, so the
   outline follows A; where A' extends beyond B, A' pixels stay (the released code ignored this);
6. optional enhancement;
7. quality: the result must still hold a detectable face, be closer to A than to B for the
   configured identity model, not collapse, and not be a near copy of B.

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
from reliableswap.faces.parsing.labels import region_mask
from reliableswap.faces.parsing.protocol import FaceParser
from supervision.blend import blend_masks, laplacian_pyramid_blend
from supervision.protocols import Enhancer, Inpainter, Reenactor
from supervision.quality import image_collapsed, is_near_copy
from supervision.reshape import reshape_face

log = logging.getLogger(__name__)

FACE_OUTLINE = ("skin", "nose", "l_eye", "r_eye", "l_brow", "r_brow", "mouth", "u_lip", "l_lip")


class StageError(Exception):
    """A pair cannot go on; ``stage`` names where it stopped (recorded in failures.csv)."""

    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(f"{stage}: {reason}")
        self.stage = stage
        self.reason = reason


@dataclass
class SynthesisSettings:
    size: int = 256  # output resolution
    work_size: int = 512  # reenactment / parsing / reshaping resolution
    blend_levels: int = 10
    blend_working_size: int = 512
    blend_erode_px: int = 3
    blend_feather_px: int = 3
    color_transfer: bool = True
    reshape: bool = True
    reshape_dilate_px: int = 5
    min_identity_similarity: float = 0.4  # spec: drop when cosine distance to A >= 0.6
    require_closer_to_source: bool = True
    near_copy_threshold: float = 0.02
    require_face: bool = True


@dataclass
class Synthesis:
    """Batched results at the output size, with per-sample quality metrics and failures."""

    images: Tensor  # (B, 3, size, size)
    metrics: list[dict[str, float]]
    failures: list[tuple[str, str] | None]  # (stage, reason) per sample, None = accepted
    debug: dict[str, Tensor] = field(default_factory=dict)  # stage name -> (B, 3, S, S) images


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
        with t("parse", dev):
            labels_a = self.parser.parse(reenacted.image, reenacted.landmarks)
            labels_b = self.parser.parse(drivers, driver_landmarks)
        with t("blend", dev):
            mask = blend_masks(labels_a, labels_b, erode_px=s.blend_erode_px, feather_px=s.blend_feather_px)
            mask = mask * reenacted.valid
            face_a = region_mask(labels_a, FACE_OUTLINE) * reenacted.valid
            face_b = region_mask(labels_b, FACE_OUTLINE)
            foreground = reenacted.image
            if s.color_transfer:
                foreground = linear_color_transfer(foreground, drivers, face_a, face_b)
            blended = laplacian_pyramid_blend(
                foreground, drivers, mask, levels=s.blend_levels, working_size=s.blend_working_size
            )
        drop = torch.zeros_like(mask)
        reshaped = blended
        if s.reshape:
            with t("reshape", dev):
                reshaped, drop = reshape_face(blended, face_a, face_b, self.inpainter, dilate_px=s.reshape_dilate_px)
        result = reshaped
        if self.enhancer is not None:
            with t("enhance", dev):
                result = self.enhancer.enhance(result)
        result = resize(result, s.size).clamp(-1, 1)

        with t("quality", dev):
            metrics, failures = self._quality(result, resize(sources, s.size), resize(drivers, s.size), resize(face_b, s.size))
        debug = {}
        if keep_debug:
            debug = {
                "A (source)": sources,
                "B (driver)": drivers,
                "A' reenacted": reenacted.image,
                "blend mask": mask.expand(-1, 3, -1, -1) * 2 - 1,
                "A' colour-matched": foreground,
                "blended": blended,
                "reshape drop": drop.expand(-1, 3, -1, -1) * 2 - 1,
                "result": result,
            }
        return Synthesis(images=result, metrics=metrics, failures=failures, debug=debug)

    def _quality(
        self, result: Tensor, sources: Tensor, drivers: Tensor, face_b: Tensor
    ) -> tuple[list[dict[str, float]], list[tuple[str, str] | None]]:
        s = self.settings
        n = result.shape[0]
        metrics: list[dict[str, float]] = [{} for _ in range(n)]
        failures: list[tuple[str, str] | None] = [None] * n
        collapsed = image_collapsed(result)
        near_copy = is_near_copy(result, drivers, face_b, threshold=s.near_copy_threshold)
        if self.identity is not None:
            e_r, e_a, e_b = self.identity(result), self.identity(sources), self.identity(drivers)
            sim_a = F.cosine_similarity(e_r, e_a, dim=1).tolist()
            sim_b = F.cosine_similarity(e_r, e_b, dim=1).tolist()
        else:
            sim_a = sim_b = [float("nan")] * n
        result_u8 = to_uint8(result)
        for i in range(n):
            metrics[i] = {"id_sim_source": round(sim_a[i], 4), "id_sim_target": round(sim_b[i], 4)}
            if bool(collapsed[i]):
                failures[i] = ("quality", "image collapsed (near-constant or non-finite)")
            elif bool(near_copy[i]):
                failures[i] = ("quality", "result is a near copy of the target")
            elif self.identity is not None and sim_a[i] < s.min_identity_similarity:
                failures[i] = ("quality", f"identity similarity to source {sim_a[i]:.3f} < {s.min_identity_similarity}")
            elif self.identity is not None and s.require_closer_to_source and sim_b[i] >= sim_a[i]:
                failures[i] = ("quality", f"closer to target identity ({sim_b[i]:.3f}) than to source ({sim_a[i]:.3f})")
            if failures[i] is None and s.require_face:
                faces = self.analyzer.detect(result_u8[i])
                score = faces[0].score if faces else None
                metrics[i]["face_score"] = round(float(score), 4) if score is not None else float("nan")
                if not faces or score == ALIGNED_BOX_SCORE:  # a fallback box, not a detection
                    failures[i] = ("quality", "no face detected in the result")
        return metrics, failures
