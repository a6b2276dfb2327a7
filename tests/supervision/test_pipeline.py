"""TripletSynthesizer refuses a backend that does not implement its stage's protocol."""

from __future__ import annotations

import pytest

from supervision.inpaint import OpenCVInpainter
from supervision.pipeline import TripletSynthesizer


class _Analyzer:
    name = "stub"
    landmarks68 = True

    def detect(self, rgb):
        return []


class _Parser:
    needs_landmarks68 = True

    def parse(self, images, landmarks):
        return images


class _Reenactor:
    def reenact(self, source, driving, source_landmarks, driving_landmarks):
        return None


def test_a_backend_of_the_wrong_kind_is_named_with_its_stage() -> None:
    with pytest.raises(TypeError, match="reenactor: OpenCVInpainter does not implement Reenactor"):
        TripletSynthesizer(_Analyzer(), OpenCVInpainter(), _Parser(), OpenCVInpainter())


def test_fitting_backends_are_accepted() -> None:
    synth = TripletSynthesizer(_Analyzer(), _Reenactor(), _Parser(), OpenCVInpainter())
    assert synth.enhancer is None


def test_each_artifact_check_names_itself_with_value_and_threshold() -> None:
    from supervision.pipeline import CHECKS, SynthesisSettings

    settings = SynthesisSettings(max_fold_fraction=0.0, max_warp_stretch=30, max_occlusion=0.3,
                                 max_colour_step=55, min_mouth_consistency=0.4)
    synth = TripletSynthesizer(_Analyzer(), _Reenactor(), _Parser(), OpenCVInpainter(), settings=settings)
    clean = {"fold_fraction": 0.0, "warp_stretch": 3.0, "occlusion_a": 0.1, "occlusion_b": 0.05,
             "colour_step": 20.0, "mouth_iou": 0.8}
    found: list[tuple[str, str]] = []
    synth._artifact_failures(clean, lambda check, reason: found.append((check, reason)))
    assert found == []
    bad = {"fold_fraction": 0.01, "warp_stretch": 40.0, "occlusion_a": 0.1, "occlusion_b": 0.35,
           "colour_step": 60.0, "mouth_iou": 0.2}
    synth._artifact_failures(bad, lambda check, reason: found.append((check, reason)))
    assert [c for c, _ in found] == ["warp_fold", "warp_stretch", "occlusion", "colour_step", "mouth"]
    assert all(c in CHECKS for c, _ in found)
    assert "B face hull 0.350" in dict(found)["occlusion"] and "> 0.3" in dict(found)["occlusion"]
    # no warp map (a generator reenactor): the fold and stretch checks cannot fire
    found.clear()
    synth._artifact_failures({k: v for k, v in bad.items() if k not in ("fold_fraction", "warp_stretch")},
                             lambda check, reason: found.append((check, reason)))
    assert [c for c, _ in found] == ["occlusion", "colour_step", "mouth"]
    # a disabled check never fires
    synth.settings = SynthesisSettings(max_fold_fraction=None, max_warp_stretch=None, max_occlusion=None,
                                       max_colour_step=None, min_mouth_consistency=None)
    found.clear()
    synth._artifact_failures(bad, lambda check, reason: found.append((check, reason)))
    assert found == []


def test_mouth_openness_from_landmarks() -> None:
    import torch

    from supervision.pipeline import mouth_openness

    lm = torch.zeros(2, 68, 2)
    lm[:, 48], lm[:, 54] = torch.tensor([0.0, 0.0]), torch.tensor([40.0, 0.0])
    lm[1, [61, 62, 63], 1] = -4.0
    lm[1, [67, 66, 65], 1] = 4.0
    assert torch.allclose(mouth_openness(lm), torch.tensor([0.0, 0.2]))


def test_landmarks_a_reenactor_does_not_give_are_analysed_never_nan() -> None:
    """LIA returns NaN landmarks: A' is analysed; without a face there, B's landmarks stand in."""
    import numpy as np
    import torch

    from reliableswap.faces.face import Face
    from supervision.protocols import Reenacted

    found = np.full((68, 2), 7.0, np.float32)

    class _Finds:
        name, landmarks68 = "stub", True

        def __init__(self) -> None:
            self.calls = 0

        def detect(self, rgb):
            self.calls += 1
            if self.calls == 1:
                return [Face(box=np.array([0, 0, 8, 8], np.float64), score=0.9, kps=np.zeros((5, 2)), landmarks68=found)]
            return []

    analyzer = _Finds()
    synth = TripletSynthesizer(analyzer, _Reenactor(), _Parser(), OpenCVInpainter())
    images = torch.zeros(3, 3, 16, 16)
    landmarks = torch.full((3, 68, 2), float("nan"))
    landmarks[2] = 3.0  # this one is known: left alone, not analysed
    driver = torch.full((3, 68, 2), 5.0)
    out = synth._with_landmarks(Reenacted(images, landmarks, torch.ones(3, 1, 16, 16)), driver)
    assert torch.isfinite(out.landmarks).all()
    assert torch.equal(out.landmarks[0], torch.from_numpy(found))
    assert torch.equal(out.landmarks[1], driver[1]) and torch.equal(out.landmarks[2], landmarks[2])
    assert analyzer.calls == 2
