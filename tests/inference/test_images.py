"""SwapPipeline checks its parts fit before any image is read."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from reliableswap.faces.face import FaceAnalyzer
from reliableswap.faces.parsing.protocol import FaceParser
from reliableswap.inference.images import SwapPipeline


class _Analyzer:
    def __init__(self, landmarks68: bool) -> None:
        self.name = "stub_scrfd"
        self.landmarks68 = landmarks68

    def detect(self, rgb):
        return []


class _Parser:
    def __init__(self, needs: bool) -> None:
        self.needs_landmarks68 = needs

    def parse(self, images, landmarks):
        return torch.zeros(images.shape[0], *images.shape[-2:], dtype=torch.long)


SWAPPER = SimpleNamespace(size=64, device=torch.device("cpu"))


def test_the_fakes_follow_the_protocols() -> None:
    assert isinstance(_Analyzer(True), FaceAnalyzer) and isinstance(_Parser(True), FaceParser)


def test_a_landmark_parser_needs_an_analyzer_with_68_landmarks() -> None:
    with pytest.raises(ValueError, match="stub_scrfd does not give.*landmarks68=true"):
        SwapPipeline(SWAPPER, _Analyzer(landmarks68=False), parser=_Parser(needs=True))


@pytest.mark.parametrize(("landmarks68", "needs"), [(True, True), (False, False), (True, False)])
def test_fitting_parts_are_accepted(landmarks68: bool, needs: bool) -> None:
    pipeline = SwapPipeline(SWAPPER, _Analyzer(landmarks68), parser=_Parser(needs))
    assert pipeline.size == 64
