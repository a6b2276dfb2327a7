"""dlib face-descriptor judge: separates real people, says "no face" honestly, and its
fixed-box mode for aligned crops agrees with detection."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from reliableswap.evaluation.identity_dlib import (
    SAME_PERSON_THRESHOLD,
    DlibFaceDescriptor,
    face_distance,
)
from reliableswap.faces.calibration import FFHQ_FACE_BOX
from reliableswap.io.images import read_rgb


def test_face_distance_broadcasts_and_propagates_nan() -> None:
    a = np.zeros(128)
    b = np.zeros((3, 128))
    b[1, 0] = 0.3
    b[2] = np.nan
    d = face_distance(a, b)
    assert d.shape == (3,) and d[0] == 0 and d[1] == pytest.approx(0.3) and np.isnan(d[2])
    assert isinstance(face_distance(a, b[1]), float)


def test_missing_dlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dlib", None)  # makes `import dlib` raise ImportError
    with pytest.raises(ImportError, match=r"reliableswap\[faces\]"):
        DlibFaceDescriptor()


def test_rejects_bad_mode() -> None:
    with pytest.raises(ValueError):
        DlibFaceDescriptor(box_mode="center")  # type: ignore[arg-type]


def _require_dlib() -> None:
    pytest.importorskip("dlib", reason="dlib not installed (pip install 'reliableswap[faces]')")
    pytest.importorskip("face_recognition_models", reason="pip install 'reliableswap[faces]'")


@pytest.fixture(scope="module")
def descriptor() -> DlibFaceDescriptor:
    _require_dlib()
    return DlibFaceDescriptor()


@pytest.fixture(scope="module")
def aligned_descriptor() -> DlibFaceDescriptor:
    _require_dlib()
    return DlibFaceDescriptor(box_mode="aligned")


def test_wild_same_person_closer_than_different(descriptor: DlibFaceDescriptor, shared_data: Path) -> None:
    files = sorted(p for p in (shared_data / "wild").glob("*/*") if not p.parent.name.startswith("_"))
    if len(files) < 10:
        pytest.skip("too few wild photos")
    people = [p.parent.name for p in files]
    emb = descriptor.describe_batch([read_rgb(p) for p in files])
    found = ~np.isnan(emb[:, 0])
    assert found.mean() >= 0.9, [str(f) for f, ok in zip(files, found) if not ok]
    dist = face_distance(emb[:, None], emb[None])
    same = np.array([[a == b for b in people] for a in people])
    iu = np.triu_indices(len(files), 1)
    d, s = dist[iu], same[iu]
    ok = ~np.isnan(d)
    d_same, d_diff = d[s & ok], d[~s & ok]
    print(
        f"\n{len(files)} photos of {len(set(people))} people: same-person pairs {len(d_same)} "
        f"mean {d_same.mean():.3f} max {d_same.max():.3f} (<0.6: {np.mean(d_same < 0.6):.0%}); "
        f"different {len(d_diff)} mean {d_diff.mean():.3f} min {d_diff.min():.3f} "
        f"(>=0.6: {np.mean(d_diff >= 0.6):.0%})"
    )
    assert len(d_same) >= 8
    assert np.mean(d_same < SAME_PERSON_THRESHOLD) >= 0.8
    assert np.mean(d_diff >= SAME_PERSON_THRESHOLD) >= 0.95
    assert d_same.mean() < d_diff.mean() - 0.25
    # identity retrieval: every photo's nearest other photo is the same person (where one exists)
    np.fill_diagonal(dist, np.inf)
    has_mate = same.sum(axis=1) > 1
    nearest = np.nanargmin(np.where(np.isnan(dist), np.inf, dist), axis=1)
    acc = np.mean(same[np.arange(len(files)), nearest][has_mate & found])
    print(f"top-1 retrieval among photos with a same-person mate: {acc:.0%}")
    assert acc >= 0.8


def test_no_face_gives_none_and_nan_row(descriptor: DlibFaceDescriptor, shared_data: Path) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (300, 300, 3), dtype=np.uint8)
    flat = np.full((256, 256, 3), 128, dtype=np.uint8)
    assert descriptor.describe(noise) is None
    assert descriptor.describe(flat) is None
    photo = shared_data / "wild" / "barack_obama" / "1.jpg"
    if photo.is_file():  # real content but no upright face: the frontal detector must say so
        rgb = read_rgb(photo)
        assert descriptor.describe(np.ascontiguousarray(rgb[::-1])) is None
        batch = descriptor.describe_batch([rgb, flat])
        assert batch.shape == (2, 128) and np.isfinite(batch[0]).all() and np.isnan(batch[1]).all()
        np.testing.assert_allclose(batch[0], descriptor.describe(rgb))  # batch == single
    with pytest.raises(ValueError):
        descriptor.describe(flat.astype(np.float32))


def test_aligned_box_mode_agrees_with_detection(
    descriptor: DlibFaceDescriptor, aligned_descriptor: DlibFaceDescriptor, celeba_images: Path
) -> None:
    files = sorted(celeba_images.glob("*.jpg"))[::50][:20]
    big = [read_rgb(f) for f in files]
    imgs = [cv2.resize(x, (256, 256), interpolation=cv2.INTER_AREA) for x in big]
    fixed = aligned_descriptor.describe_batch(imgs)
    detected = descriptor.describe_batch(imgs)
    assert np.isfinite(fixed).all()  # never drops a sample
    d_mode = face_distance(fixed, detected)
    d_res = face_distance(fixed, aligned_descriptor.describe_batch(big))
    d_flip = face_distance(fixed, aligned_descriptor.describe_batch([np.ascontiguousarray(x[:, ::-1]) for x in imgs]))
    d_other = face_distance(fixed, np.roll(fixed, 1, axis=0))  # different photos, different people
    print(
        f"\naligned box vs HOG box: mean {np.nanmean(d_mode):.3f} max {np.nanmax(d_mode):.3f} "
        f"(HOG missed {int(np.isnan(d_mode).sum())}/{len(imgs)}); 256 vs 512 mean {d_res.mean():.3f}; "
        f"mirror mean {d_flip.mean():.3f}; different faces mean {d_other.mean():.3f}"
    )
    assert np.nanmean(d_mode) < 0.15
    assert d_res.mean() < 0.15 and d_flip.mean() < 0.3
    assert d_other.mean() > 0.6
    # the fixed box is where HOG finds aligned faces
    x0, y0, x1, y1 = FFHQ_FACE_BOX
    assert x0 + x1 == pytest.approx(1.0)
    box = descriptor.face_box(imgs[0])
    assert box is not None and abs(box[0] / 256 - x0) < 0.08 and abs(box[3] / 256 - y1) < 0.08
