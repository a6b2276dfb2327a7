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
