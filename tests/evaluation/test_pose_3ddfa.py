"""3DDFA-V2 pose/expression judge: the camera decomposition and the angle signs are real.

The decomposition is checked twice: on synthetic rotations (exact round trip) and on real faces
through geometry the network cannot fake -- mirroring an image must negate yaw and roll and keep
pitch, rotating it in-plane must shift roll by that angle, the yaw sign must agree with where
dlib's 5 landmarks put the nose, and frontal photos must give a small yaw.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from reliableswap import weights
from reliableswap.evaluation.pose_3ddfa import (
    ALIGNED_ROI,
    PoseExpression,
    TDDFAPoseEstimator,
    decompose_camera,
    roi_from_box,
    roi_from_landmarks,
    rotation_to_angles,
)
from reliableswap.io.images import read_rgb


def _rot(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """The documented convention R = Rz(roll) @ Ry(-yaw) @ Rx(pitch), degrees."""
    y, p, r = np.radians([-yaw, pitch, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ ry @ rx


# -- pure geometry (no weights) -----------------------------------------------------------------

@pytest.mark.parametrize("angles", [(0, 0, 0), (30, -10, 5), (-70, 25, -20), (10, 60, 40)])
def test_decompose_round_trip(angles: tuple[float, float, float]) -> None:
    rot = _rot(*angles)
    cam = np.hstack([0.0012 * rot, np.array([[60.0], [74.0], [-66.0]])])
    cam[2, :3] = [5.0, -3.0, 1.0]  # the unused third row must not matter
    scale, r, t = decompose_camera(cam.ravel())
    assert scale == pytest.approx(0.0012)
    np.testing.assert_allclose(t, [60.0, 74.0, -66.0])
    np.testing.assert_allclose(r[:2], rot[:2], atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0)
    np.testing.assert_allclose(rotation_to_angles(r), angles, atol=1e-9)


def test_mirror_negates_yaw_and_roll_in_the_convention() -> None:
    # Mirroring the image is x -> -x in the camera frame and x -> -x in the model frame.
    m = np.diag([-1.0, 1.0, 1.0])
    yaw, pitch, roll = rotation_to_angles(m @ _rot(25, -12, 8) @ m)
    assert (yaw, pitch, roll) == pytest.approx((-25, -12, -8))


def test_decompose_orthonormalises_noisy_rows() -> None:
    rot = _rot(20, 5, -3)
    noisy = rot[:2] + np.array([[0.01, -0.02, 0.0], [0.0, 0.015, 0.01]])
    _, r, _ = decompose_camera(np.hstack([np.vstack([noisy, rot[2]]), np.zeros((3, 1))]))
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(rotation_to_angles(r), (20, 5, -3), atol=1.5)


def test_rois_are_square_and_follow_3ddfa_convention() -> None:
    roi = roi_from_box((100, 100, 200, 200))
    assert roi[2] - roi[0] == pytest.approx(158) and roi[3] - roi[1] == pytest.approx(158)
    assert (roi[0] + roi[2]) / 2 == pytest.approx(150) and (roi[1] + roi[3]) / 2 == pytest.approx(164)
    lm = roi_from_landmarks(np.array([[0.0, 100.0, 50.0], [0.0, 50.0, 80.0]]))
    assert lm[2] - lm[0] == pytest.approx(100 * np.sqrt(2)) and (lm[1] + lm[3]) / 2 == pytest.approx(40)
    x0, y0, x1, y1 = ALIGNED_ROI
    assert x0 + x1 == pytest.approx(1.0) and x1 - x0 == pytest.approx(y1 - y0)


def test_missing_weights_error_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(weights.MissingWeightsError, match="3DDFA"):
        TDDFAPoseEstimator(onnx_path=tmp_path / "nope.onnx")


# -- the real network -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def estimator(shared_weight: Callable[[str], Path]) -> TDDFAPoseEstimator:
    pytest.importorskip("onnxruntime")
    return TDDFAPoseEstimator(
        onnx_path=shared_weight("pose_expression/3ddfa_v2_mb05_120x120.onnx"),
        stats_path=shared_weight("pose_expression/3ddfa_v2_param_mean_std_62d.npz"),
        threads=1,
    )


@pytest.fixture(scope="module")
def celeba_256(celeba_images: Path) -> list[np.ndarray]:
    """60 aligned crops (every 16th file), resized to 256 as in the triplet builder."""
    files = sorted(celeba_images.glob("*.jpg"))[::16][:60]
    return [cv2.resize(read_rgb(f), (256, 256), interpolation=cv2.INTER_AREA) for f in files]


def _angles(est: TDDFAPoseEstimator, images: list[np.ndarray]) -> np.ndarray:
    return est.angles_batch(images)


def test_aligned_faces_plausible(estimator: TDDFAPoseEstimator, celeba_256: list[np.ndarray]) -> None:
    results = estimator.estimate_batch(celeba_256)
    a = np.stack([r.angles for r in results])
    assert np.isfinite(a).all()
    assert (np.abs(a[:, 0]) < 90).all() and (np.abs(a[:, 1]) < 60).all() and (np.abs(a[:, 2]) < 45).all()
    # FFHQ alignment levels the eyes: roll stays small; faces are mostly near-frontal.
    assert np.median(np.abs(a[:, 2])) < 4
    assert np.median(np.abs(a[:, 0])) < 20
    r = results[0]
    assert isinstance(r, PoseExpression)
    assert r.expression.shape == (10,) and r.shape.shape == (40,) and r.rotation.shape == (3, 3)
    exp = np.stack([x.expression for x in results])
    assert np.isfinite(exp).all() and exp.std(axis=0).min() > 0  # expressions actually vary


def test_horizontal_flip_negates_yaw_and_roll(estimator: TDDFAPoseEstimator, celeba_256: list[np.ndarray]) -> None:
    a = _angles(estimator, celeba_256)
    f = _angles(estimator, [np.ascontiguousarray(x[:, ::-1]) for x in celeba_256])
    err = np.abs(np.stack([a[:, 0] + f[:, 0], a[:, 1] - f[:, 1], a[:, 2] + f[:, 2]], axis=1))
    print("flip |yaw+yaw'|, |pitch-pitch'|, |roll+roll'| mean", err.mean(0).round(2), "max", err.max(0).round(2))
    assert (err.mean(axis=0) < 2.5).all()
    assert np.median(err, axis=0).max() < 2.0
    # and the test is not vacuous: the faces do turn both ways
    assert a[:, 0].min() < -5 and a[:, 0].max() > 5


def test_in_plane_rotation_shifts_roll(estimator: TDDFAPoseEstimator, celeba_256: list[np.ndarray]) -> None:
    imgs = celeba_256[:20]
    base = _angles(estimator, imgs)
    for deg in (-10.0, 10.0):  # OpenCV: positive = counter-clockwise on screen
        m = cv2.getRotationMatrix2D((127.5, 127.5), deg, 1.0)
        rot = _angles(estimator, [cv2.warpAffine(x, m, (256, 256), borderMode=cv2.BORDER_REFLECT) for x in imgs])
        d = rot - base
        print(f"rotate {deg:+.0f}: mean delta (yaw, pitch, roll)", d.mean(0).round(2))
        assert d[:, 2].mean() == pytest.approx(deg, abs=1.5)
        assert np.abs(d[:, :2].mean(axis=0)).max() < 1.5


def test_resolution_invariance(estimator: TDDFAPoseEstimator, celeba_images: Path) -> None:
    files = sorted(celeba_images.glob("*.jpg"))[3::40][:20]
    big = [read_rgb(f) for f in files]
    assert big[0].shape[:2] == (512, 512)
    small = [cv2.resize(x, (256, 256), interpolation=cv2.INTER_AREA) for x in big]
    d = np.abs(_angles(estimator, big) - _angles(estimator, small))
    print("512 vs 256 mean |delta| (yaw, pitch, roll)", d.mean(0).round(2), "max", d.max(0).round(2))
    assert d.mean() < 1.0 and d.max() < 5.0


def test_yaw_sign_matches_dlib_landmarks(estimator: TDDFAPoseEstimator, celeba_256: list[np.ndarray]) -> None:
    """yaw > 0 means the nose points to the image's left: check against dlib's 5 points."""
    dlib = pytest.importorskip("dlib")
    frm = pytest.importorskip("face_recognition_models")
    predictor = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
    offsets = []
    for img in celeba_256:
        s = predictor(img, dlib.rectangle(54, 79, 201, 226))  # the aligned face region at 256
        p = np.array([[s.part(i).x, s.part(i).y] for i in range(5)], dtype=np.float64)
        eye_a, eye_b = p[:2].mean(axis=0), p[2:4].mean(axis=0)
        offsets.append((p[4, 0] - (eye_a[0] + eye_b[0]) / 2) / np.linalg.norm(eye_a - eye_b))
    yaw = _angles(estimator, celeba_256)[:, 0]
    corr = np.corrcoef(yaw, offsets)[0, 1]
    print("corr(yaw, nose x offset) =", round(float(corr), 3))
    assert corr < -0.6


def test_wild_photos_with_detector_boxes(estimator: TDDFAPoseEstimator, shared_data: Path) -> None:
    pytest.importorskip("dlib")
    from reliableswap.faces.dlib_detector import DlibDetector

    detector = DlibDetector()
    frontal = ["barack_obama/1.jpg", "joe_biden/2.jpg", "paul_rudd/1.jpg"]
    turned = {"angelina_jolie/1.jpg": -1, "kit_harington/2.jpg": +1}  # sign of yaw (looked at)
    yaws = {}
    for name in frontal + list(turned):
        path = shared_data / "wild" / name
        if not path.is_file():
            pytest.skip(f"{path} missing")
        rgb = read_rgb(path)
        faces = detector.detect(rgb)
        assert faces, name
        x0, y0, x1, y1 = (float(v) for v in faces[0][0])
        yaws[name] = estimator.estimate(rgb, (x0, y0, x1, y1)).yaw
    print("wild yaw:", {k: round(v, 1) for k, v in yaws.items()})
    assert all(abs(yaws[n]) < 8 for n in frontal)
    assert all(np.sign(yaws[n]) == s and abs(yaws[n]) > 10 for n, s in turned.items())


def test_refine_agrees_and_batch_matches_single(
    estimator: TDDFAPoseEstimator, celeba_256: list[np.ndarray], shared_weight: Callable[[str], Path]
) -> None:
    refined = TDDFAPoseEstimator(
        onnx_path=shared_weight("pose_expression/3ddfa_v2_mb05_120x120.onnx"),
        stats_path=shared_weight("pose_expression/3ddfa_v2_param_mean_std_62d.npz"),
        bases_path=shared_weight("pose_expression/3ddfa_v2_bfm68_bases_and_param_stats.json"),
        refine=True, threads=1,
    )
    imgs = celeba_256[:15]
    a = _angles(estimator, imgs)
    d = np.abs(a - _angles(refined, imgs))
    print("fixed aligned ROI vs landmark-refined ROI mean |delta|", d.mean(0).round(2))
    assert d.mean() < 1.5  # the fixed ROI is where 3DDFA-V2's own tracking crop lands
    np.testing.assert_allclose(estimator.estimate(imgs[0]).angles, a[0])
    with pytest.raises(ValueError):
        estimator.estimate(imgs[0].astype(np.float32))
    with pytest.raises(ValueError):
        estimator.estimate_batch(imgs[:2], boxes=[None])
