"""Face analyzers (dlib, SCRFD, the factory): real faces on real photos, one Face record with 5
keypoints (and 68 landmarks when asked), largest first, nothing in noise, strict input."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("dlib", reason="dlib not installed (pip install 'reliableswap[faces]')")
pytest.importorskip("face_recognition_models", reason="pip install 'reliableswap[faces]'")

from reliableswap.faces.calibration import ffhq_face_box  # noqa: E402
from reliableswap.faces.dlib_analyzer import DlibAnalyzer  # noqa: E402
from reliableswap.faces.face import ALIGNED_BOX_SCORE, Face, FaceAnalyzer, five_from_68  # noqa: E402
from reliableswap.faces.factory import build_face_analyzer  # noqa: E402
from reliableswap.io.images import read_rgb  # noqa: E402


@pytest.fixture(scope="module")
def analyzer() -> DlibAnalyzer:
    return DlibAnalyzer(detect_max_side=256)


@pytest.fixture(scope="module")
def celeba_rgb(celeba_images: Path) -> list[np.ndarray]:
    return [read_rgb(p) for p in sorted(celeba_images.glob("*.jpg"))[:5]]


def _assert_plausible_face(face, shape: tuple[int, ...]) -> None:
    assert isinstance(face, Face) and face.kps.shape == (5, 2)
    lm = face.landmarks68
    assert lm.shape == (68, 2) and lm.dtype == np.float32
    assert (lm >= 0).all() and (lm[:, 0] < shape[1]).all() and (lm[:, 1] < shape[0]).all()
    # iBUG anatomy: brows above eyes above nose tip above mouth above chin; right eye left of left eye.
    assert lm[17:27, 1].mean() < lm[36:48, 1].mean() < lm[30, 1] < lm[48:68, 1].mean() < lm[8, 1]
    assert lm[36:42, 0].mean() < lm[42:48, 0].mean()


def test_protocol(analyzer: DlibAnalyzer) -> None:
    assert isinstance(analyzer, FaceAnalyzer)


def test_one_face_per_aligned_crop(analyzer: DlibAnalyzer, celeba_rgb: list[np.ndarray]) -> None:
    for rgb in celeba_rgb:
        faces = analyzer.detect(rgb)
        assert len(faces) == 1
        assert faces[0].score > 0
        _assert_plausible_face(faces[0], rgb.shape)
        # FFHQ alignment puts the eye centres near the template's (0.38, 0.48) / (0.62, 0.48).
        size = rgb.shape[0]
        assert np.allclose(faces[0].landmarks68[36:42].mean(0) / size, [0.38, 0.48], atol=0.05)
        assert np.allclose(faces[0].landmarks68[42:48].mean(0) / size, [0.62, 0.48], atol=0.05)


def test_downscaled_detection_maps_back(celeba_rgb: list[np.ndarray]) -> None:
    rgb = celeba_rgb[0]
    full = DlibAnalyzer(detect_max_side=None).detect(rgb)[0]
    small = DlibAnalyzer(detect_max_side=128).detect(rgb)[0]
    assert np.abs(full.box - small.box).max() < 0.06 * rgb.shape[0]
    assert np.abs(full.landmarks68 - small.landmarks68).mean() < 4.0


def test_two_faces_largest_first(analyzer: DlibAnalyzer, shared_data: Path) -> None:
    path = shared_data / "wild" / "_edge_cases" / "obama_and_biden_two_faces.jpg"
    if not path.is_file():
        pytest.skip(f"two-face photo not found at {path}")
    rgb = read_rgb(path)
    faces = DlibAnalyzer(detect_max_side=1024).detect(rgb)
    # Obama and Biden; a child at the bottom right is a third, much smaller face.
    assert len(faces) >= 2
    areas = [f.area for f in faces]
    assert areas == sorted(areas, reverse=True)
    assert areas[1] > 1.5 * (areas[2] if len(areas) > 2 else 0.0)
    centres_x = sorted(float(f.box[[0, 2]].mean()) for f in faces[:2])
    assert centres_x[1] - centres_x[0] > 0.1 * rgb.shape[1]  # two different people, side by side
    for face in faces[:2]:
        _assert_plausible_face(face, rgb.shape)
        x0, y0, x1, y1 = face.box
        inside = (face.landmarks68[:, 0] > x0 - 0.2 * (x1 - x0)) & (face.landmarks68[:, 0] < x1 + 0.2 * (x1 - x0))
        assert inside.all()


@pytest.mark.parametrize("kind", ["blank", "noise"])
def test_no_face(analyzer: DlibAnalyzer, kind: str) -> None:
    rng = np.random.default_rng(0)
    img = np.full((256, 256, 3), 127, np.uint8) if kind == "blank" else rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    assert analyzer.detect(img) == []


@pytest.mark.parametrize(
    "bad", [np.zeros((64, 64), np.uint8), np.zeros((64, 64, 4), np.uint8), np.zeros((64, 64, 3), np.float32)]
)
def test_rejects_non_rgb_uint8(analyzer: DlibAnalyzer, bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="uint8 RGB"):
        analyzer.detect(bad)


def test_aligned_box_fallback_is_explicit(celeba_rgb: list[np.ndarray], caplog: pytest.LogCaptureFixture) -> None:
    rgb = celeba_rgb[0]
    # A detector that cannot fire (huge threshold) forces the fallback path on a real crop.
    strict = DlibAnalyzer(detect_max_side=256, threshold=100.0)
    assert strict.detect(rgb) == []  # off by default: never silent
    fallback = DlibAnalyzer(detect_max_side=256, threshold=100.0, assume_aligned_box=True)
    with caplog.at_level(logging.WARNING, logger="reliableswap.faces.fallback"):
        faces = fallback.detect(rgb)
    assert len(faces) == 1 and faces[0].score == ALIGNED_BOX_SCORE
    assert "assuming FFHQ alignment" in caplog.text and fallback.num_assumed == 1
    assert np.allclose(faces[0].box, ffhq_face_box(rgb.shape[0]))
    detected = DlibAnalyzer(detect_max_side=256).detect(rgb)[0]
    # The template box is where dlib would have found the face: landmarks agree within a few px.
    assert np.abs(faces[0].landmarks68 - detected.landmarks68).mean() < 4.0
    # Non-square input is not an FFHQ crop: no fallback.
    assert fallback.detect(np.ascontiguousarray(rgb[:, :400])) == []


def test_scrfd_analyzer(celeba_rgb: list[np.ndarray], shared_weight: Callable[[str], Path], analyzer: DlibAnalyzer) -> None:
    pytest.importorskip("insightface", reason="pip install 'reliableswap[onnx]'")
    from reliableswap.faces.scrfd import ScrfdAnalyzer

    scrfd = ScrfdAnalyzer(weights_path=shared_weight("detection/scrfd_500m_kps.onnx"), landmarks68=True)
    assert isinstance(scrfd, FaceAnalyzer)
    for rgb in celeba_rgb[:3]:
        faces = scrfd.detect(rgb)
        assert len(faces) == 1 and 0 < faces[0].score <= 1
        _assert_plausible_face(faces[0], rgb.shape)
        ref = analyzer.detect(rgb)[0]
        assert np.abs(faces[0].landmarks68 - ref.landmarks68).mean() < 4.0
    assert scrfd.detect(np.full((256, 256, 3), 127, np.uint8)) == []


def test_dlib_keypoints_are_the_five_points_of_the_68(analyzer: DlibAnalyzer, celeba_rgb: list[np.ndarray]) -> None:
    face = analyzer.detect(celeba_rgb[0])[0]
    assert face.kps.dtype == np.float64
    np.testing.assert_allclose(face.kps, five_from_68(face.landmarks68))
    assert analyzer.name == "dlib_hog" and face.box.shape == (4,)


@pytest.fixture(scope="module")
def scrfd_weights(shared_weight: Callable[[str], Path]) -> Path:
    pytest.importorskip("insightface", reason="pip install 'reliableswap[onnx]'")
    return shared_weight("detection/scrfd_500m_kps.onnx")


def test_scrfd_gives_five_keypoints_and_68_landmarks_only_when_asked(
    scrfd_weights: Path, celeba_rgb: list[np.ndarray], analyzer: DlibAnalyzer
) -> None:
    from reliableswap.faces.scrfd import ScrfdAnalyzer

    plain = ScrfdAnalyzer(weights_path=scrfd_weights)
    rich = ScrfdAnalyzer(weights_path=scrfd_weights, landmarks68=True)
    assert isinstance(plain, FaceAnalyzer) and plain.name == "scrfd_500m_kps"
    rgb = celeba_rgb[1]
    (f5,), (f68,) = plain.detect(rgb), rich.detect(rgb)
    assert f5.landmarks68 is None and f5.kps.shape == (5, 2)
    np.testing.assert_array_equal(f5.kps, f68.kps)  # the landmarks do not change the detection
    np.testing.assert_array_equal(f5.box, f68.box)
    # SCRFD's keypoints and the 5 points of dlib's 68 describe the same face (within a few px)
    dlib_face = analyzer.detect(rgb)[0]
    assert np.abs(f5.kps[:2] - dlib_face.kps[:2]).max() < 0.03 * rgb.shape[0]  # eye centres
    with pytest.raises(ValueError, match="uint8 RGB"):
        plain.detect(rgb.astype(np.float32))


def test_scrfd_min_size_drops_small_faces(scrfd_weights: Path, celeba_rgb: list[np.ndarray]) -> None:
    from reliableswap.faces.scrfd import ScrfdAnalyzer

    rgb = celeba_rgb[0]
    assert ScrfdAnalyzer(weights_path=scrfd_weights, min_size=rgb.shape[0] + 1).detect(rgb) == []


def test_factory_backends(scrfd_weights: Path, celeba_rgb: list[np.ndarray], caplog: pytest.LogCaptureFixture) -> None:
    dlib = build_face_analyzer("dlib", dlib={"detect_max_side": 256})
    assert isinstance(dlib, DlibAnalyzer) and dlib.name == "dlib_hog"
    scrfd = build_face_analyzer("scrfd", scrfd={"weights_path": str(scrfd_weights)})
    assert scrfd.name == "scrfd_500m_kps"
    with caplog.at_level(logging.INFO, logger="reliableswap.faces.factory"):
        auto = build_face_analyzer("auto", scrfd={"weights_path": str(scrfd_weights)})
    assert auto.name == "scrfd_500m_kps" and "SCRFD" in caplog.text
    for a in (dlib, scrfd, auto):
        faces = a.detect(celeba_rgb[0])
        assert len(faces) == 1 and isinstance(faces[0], Face) and faces[0].kps.shape == (5, 2)
    with pytest.raises(ValueError, match="unknown face analyzer backend"):
        build_face_analyzer("mtcnn")


def test_factory_auto_falls_back_to_dlib_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="reliableswap.faces.factory"):
        auto = build_face_analyzer("auto", scrfd={"weights_path": str(tmp_path / "missing.onnx")},
                                   dlib={"detect_max_side": 256})
    assert isinstance(auto, DlibAnalyzer)
    assert "falling back to dlib" in caplog.text


@pytest.mark.parametrize("backend", ["auto", "scrfd", "dlib"])
def test_factory_gives_68_landmarks_when_the_parser_needs_them(
    backend: str, scrfd_weights: Path, celeba_rgb: list[np.ndarray]
) -> None:
    """Issue 10, kind 16: parser=landmarks with the default analyzer (auto -> SCRFD) must work."""
    a = build_face_analyzer(backend, scrfd={"weights_path": str(scrfd_weights)}, dlib={"detect_max_side": 256},
                            needs_landmarks68=True)
    assert a.landmarks68
    (face,) = a.detect(celeba_rgb[0])
    assert face.landmarks68 is not None and face.landmarks68.shape == (68, 2)
    if backend != "dlib":  # SCRFD predicts them only when asked
        assert not build_face_analyzer(backend, scrfd={"weights_path": str(scrfd_weights)}).landmarks68
