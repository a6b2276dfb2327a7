"""One triplet from two photos: the builder's synthesizer on a single pair (A, B), for the web demo.

:func:`make_synthesizer` builds the :class:`TripletSynthesizer` of a composed
``configs/build_triplets.yaml`` (the builder uses the same function); :func:`synthesize_pair`
aligns the largest face of each photo to the FFHQ template at the work size (the builder reads
such crops), synthesizes AB and BA in one batch and returns every stage as a labelled sheet
(:func:`supervision.debug.stage_tile`) with the quality filter's verdict of each direction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import hydra
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from reliableswap.faces.cropping import align_face
from reliableswap.faces.face import FaceAnalyzer
from supervision.debug import stage_tile, verdict_note
from supervision.pipeline import Failure, StageError, SynthesisSettings, TripletSynthesizer, to_tensor, to_uint8


def make_synthesizer(cfg: DictConfig) -> TripletSynthesizer:
    """The synthesizer of a composed ``build_triplets`` config (backends, settings, device)."""
    inst = hydra.utils.instantiate
    return TripletSynthesizer(
        analyzer=inst(cfg.face_analyzer),
        reenactor=inst(cfg.reenactor),
        parser=inst(cfg.parser),
        inpainter=inst(cfg.inpainter),
        enhancer=inst(cfg.enhancer) if cfg.get("enhancer") else None,
        identity=inst(cfg.identity) if cfg.get("identity") else None,
        settings=SynthesisSettings(**OmegaConf.to_container(cfg.settings, resolve=True)),
        device=torch.device(cfg.device),
    )


@dataclass
class PairOutcome:
    """AB and BA of one pair with everything the demo shows.

    Images are uint8 RGB (H, W, 3): ``source``/``target`` (A, B) and ``ab``/``ba`` at the output
    size, ``sheet`` the stage tile (rows AB, BA; columns: inputs, A', parser labels, blend mask,
    colour-matched, blended, reshape drop, result) with the verdict under each row. ``verdicts``:
    ``"accepted"`` or every failing check with its value; ``metrics``: the quality measurements
    per direction (``quality.csv``'s columns).
    """

    source: np.ndarray
    target: np.ndarray
    ab: np.ndarray
    ba: np.ndarray
    sheet: np.ndarray
    verdicts: dict[str, str]
    accepted: dict[str, bool]
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)


def align_largest(rgb: np.ndarray, detector: FaceAnalyzer, size: int, what: str) -> np.ndarray:
    """FFHQ-aligned ``size`` x ``size`` crop (uint8 RGB) of the largest face; :class:`StageError` if none."""
    faces = detector.detect(rgb)
    if not faces:
        raise StageError("analysis", f"no face found in photo {what}")
    crop, _ = align_face(rgb, faces[0].kps, size)
    return crop


def synthesize_pair(synth: TripletSynthesizer, detector: FaceAnalyzer, photo_a: np.ndarray,
                    photo_b: np.ndarray) -> PairOutcome:
    """AB (A's identity in B) and BA from two photos (uint8 RGB, any size, largest face each).

    ``detector`` finds the faces in the photos (any analyzer with 5 keypoints); the synthesizer's
    own analyzer then gives the 68 landmarks on the aligned crops. Raises :class:`StageError`
    (stage, reason) when a photo has no face or a stage cannot run.
    """
    size = synth.settings.work_size
    crops = [align_largest(photo, detector, size, what) for photo, what in ((photo_a, "A"), (photo_b, "B"))]
    landmarks = [torch.from_numpy(synth.analyze(crop).landmarks68.astype(np.float32)) for crop in crops]
    a, b = (to_tensor(crop, synth.device) for crop in crops)
    result = synth.synthesize(torch.stack([a, b]), torch.stack([b, a]), torch.stack(landmarks),
                              torch.stack(landmarks[::-1]), keep_debug=True)
    failures: list[list[Failure]] = result.failures
    notes = [verdict_note(failures[0]), verdict_note(failures[1])]
    images, sources = to_uint8(result.images), to_uint8(result.sources)
    return PairOutcome(
        source=sources[0], target=sources[1], ab=images[0], ba=images[1],
        sheet=stage_tile(result.debug, [("AB", 0), ("BA", 1)], notes=notes),
        verdicts={"AB": notes[0], "BA": notes[1]},
        accepted={"AB": not failures[0], "BA": not failures[1]},
        metrics={"AB": dict(result.metrics[0]), "BA": dict(result.metrics[1])},
    )
