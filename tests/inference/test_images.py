"""SwapPipeline checks its parts fit before any image is read; what swap_image_file writes for odd targets."""

from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

from reliableswap.faces.alignment import FFHQ_TEMPLATE_5PT
from reliableswap.faces.face import Face, FaceAnalyzer
from reliableswap.faces.parsing.protocol import FaceParser
from reliableswap.inference.images import SwapPipeline, run_inference, swap_image_file
from reliableswap.inference.report import RunReport


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


# -- what is written (issue 10, kinds 2, 3 and 8) --------------------------------------------------
# A fake analyzer finds one face (at the FFHQ template position) in images at least 128 px high and
# none in smaller ones; a fake swapper returns a colourful face whatever it gets.


class _CentredFace:
    name, landmarks68 = "stub_centred", False

    def detect(self, rgb):
        h, w = rgb.shape[:2]
        if h < 128:
            return []
        side = 0.75 * min(h, w)
        x0, y0 = (w - side) / 2, (h - side) / 2
        return [Face(np.array([x0, y0, x0 + side, y0 + side]), 0.9, FFHQ_TEMPLATE_5PT * side + (x0, y0))]


class _ColourfulSwapper:
    size, name, device = 64, "colourful", torch.device("cpu")

    def swap(self, source, target):
        out = torch.empty_like(target)
        out[:] = torch.tensor([0.6, 0.2, 0.0]).view(1, 3, 1, 1)
        out[:, :, 20:28] = torch.tensor([-0.6, -0.2, 0.9]).view(1, 3, 1, 1)  # blue eyes
        out[:, :, 44:50] = torch.tensor([0.9, -0.3, 0.1]).view(1, 3, 1, 1)  # pink lips
        return out


def _pipeline() -> SwapPipeline:
    pipeline = SwapPipeline(_ColourfulSwapper(), _CentredFace())
    pipeline.set_source(np.full((128, 128, 3), 120, np.uint8))
    return pipeline


def _ramp(size: int, channels: int, dtype=np.uint8) -> np.ndarray:
    peak = np.iinfo(dtype).max
    y, x = np.mgrid[0:size, 0:size]
    planes = [(x * peak // size), (y * peak // size), ((x + y) * peak // (2 * size))][:max(channels, 1)]
    img = np.stack(planes + [np.where(x < size // 8, 0, peak)] * (channels == 4), axis=2).astype(dtype)
    return img[:, :, 0] if channels == 1 else img


def _write(path, pixels, params=()):
    assert cv2.imwrite(str(path), pixels, list(params))
    return path


ODD_FILES = {  # name -> OpenCV pixels (BGR(A) or gray)
    "rgba.png": lambda s: _ramp(s, 4),
    "deep.png": lambda s: _ramp(s, 3, np.uint16),
    "deep_rgba.png": lambda s: _ramp(s, 4, np.uint16),
    "photo.jpg": lambda s: _ramp(s, 3),
    "gray.png": lambda s: _ramp(s, 1),
    "gray.jpg": lambda s: _ramp(s, 1),
    "photo.webp": lambda s: _ramp(s, 3),
}


@pytest.mark.parametrize("name", sorted(ODD_FILES))
def test_a_target_without_a_face_is_copied_byte_for_byte(tmp_path, name) -> None:
    src = _write(tmp_path / name, ODD_FILES[name](96))
    item = swap_image_file(_pipeline(), src, tmp_path / "out" / name)
    assert item.status == "passthrough" and item.format_note == "copied byte for byte"
    assert (tmp_path / "out" / name).read_bytes() == src.read_bytes()


@pytest.mark.parametrize("name", sorted(ODD_FILES))
def test_a_swapped_target_keeps_alpha_depth_and_layout_outside_the_face(tmp_path, name) -> None:
    pixels = ODD_FILES[name](160)
    src = _write(tmp_path / name, pixels)
    item = swap_image_file(_pipeline(), src, tmp_path / "out" / name)
    assert item.status == "swapped" and item.format_in == item.format_out
    out = cv2.imread(str(tmp_path / "out" / name), cv2.IMREAD_UNCHANGED)
    assert out.shape == pixels.shape and out.dtype == pixels.dtype
    if name.endswith(".png"):
        assert item.format_note is None
        assert np.array_equal(out[:8, :8], pixels[:8, :8])  # outside the face: exactly the input
        assert (out[60:100, 60:100] != pixels[60:100, 60:100]).any()  # the face changed
        if pixels.ndim == 3 and pixels.shape[2] == 4:
            assert np.array_equal(out[..., 3], pixels[..., 3])  # alpha put back
    else:
        assert "re-encoded" in item.format_note


@pytest.mark.parametrize("name", ["gray.png", "gray.jpg"])
def test_a_gray_target_gets_a_gray_face(tmp_path, name) -> None:
    gray = ODD_FILES[name](160)
    for layout, pixels in (("1ch", gray), ("3ch", np.repeat(gray[..., None], 3, axis=2))):
        src = _write(tmp_path / f"{layout}_{name}", pixels)
        out_path = tmp_path / "out" / f"{layout}_{name}.png"
        assert swap_image_file(_pipeline(), src, out_path).status == "swapped"
        out = cv2.imread(str(out_path), cv2.IMREAD_UNCHANGED).astype(int)
        if out.ndim == 3:
            assert np.abs(out - out.mean(axis=2, keepdims=True)).max() <= 1.5, layout  # chroma ~0
        assert out[60:100, 60:100].std() > 3


def test_a_changed_format_is_reported(tmp_path) -> None:
    src = _write(tmp_path / "rgba.png", _ramp(160, 4, np.uint16))
    item = swap_image_file(_pipeline(), src, tmp_path / "out.jpg")
    assert item.status == "swapped" and item.format_out == "JPEG 8-bit RGB"
    assert item.format_note.startswith("PNG 16-bit RGBA -> JPEG 8-bit RGB")


def test_a_decompression_bomb_in_a_folder_is_one_error_and_the_run_goes_on(tmp_path, png_bomb) -> None:
    folder = tmp_path / "targets"
    png_bomb(folder / "bomb.png")
    _write(folder / "face.png", _ramp(160, 3))
    source = _write(tmp_path / "source.png", _ramp(160, 3))
    report = RunReport(swapper="colourful", device="cpu", analyzer="stub", source=str(source),
                       target=str(folder), output=str(tmp_path / "out"))
    run_inference(SwapPipeline(_ColourfulSwapper(), _CentredFace()), source, folder, tmp_path / "out", report)
    items = {item.path.rsplit("/", 1)[-1]: item for item in report.inputs}
    assert items["bomb.png"].status == "error" and items["bomb.png"].error.startswith(
        "unreadable image: too many pixels (20000x20000")
    assert items["face.png"].status == "swapped" and report.ok
