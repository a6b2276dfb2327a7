"""Occluder-aware blend masks: one synthetic test per clause of the rule, the hull, real labels."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reliableswap.data.parsing_dataset import read_label_map
from reliableswap.faces.parsing.labels import ID, NAMES, region_mask
from reliableswap.faces.parsing.landmark_parser import LandmarkFaceParser, fill_polygons
from supervision.blend import blend_masks
from supervision.masks import FACE_PARTS, OCCLUDERS, face_blend_mask, face_hull_mask

log = logging.getLogger(__name__)

S = 40


def _scene() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A' and B label maps (1, 40, 40) and B's hull (1, 1, 40, 40); coordinates are (row, col).

    A': skin rows 8:36 x cols 2:38 (wider than B's hull), hair above, glasses frame on row 15,
        eyes, lips, inner mouth rows 26:28.
    B:  skin rows 10:36 x cols 6:34, a fringe (hair) down to row 12, a glasses frame on row 19,
        a "hand" (background label) at rows 30:34 x cols 7:12 inside the hull, inner mouth rows 31:33.
    hull_b: rows 8:36 x cols 6:34.
    """
    a = torch.zeros(1, S, S, dtype=torch.long)
    a[:, 8:36, 2:38] = ID["skin"]
    a[:, 2:8, 4:36] = ID["hair"]
    a[:, 14:17, 12:16] = ID["r_eye"]
    a[:, 14:17, 24:28] = ID["l_eye"]
    a[:, 15, 10:30] = torch.where(a[:, 15, 10:30] == ID["skin"], ID["eyeglasses"], a[:, 15, 10:30])
    a[:, 24:26, 14:26] = ID["u_lip"]
    a[:, 26:28, 15:25] = ID["mouth"]
    a[:, 28:30, 14:26] = ID["l_lip"]

    b = torch.zeros_like(a)
    b[:, 10:36, 6:34] = ID["skin"]
    b[:, 0:12, 4:36] = ID["hair"]
    b[:, 19, 8:32] = ID["eyeglasses"]
    b[:, 29:31, 14:26] = ID["u_lip"]
    b[:, 31:33, 15:25] = ID["mouth"]
    b[:, 33:35, 14:26] = ID["l_lip"]
    b[:, 30:34, 7:12] = ID["background"]  # a hand: the parser does not call it face
    hull = torch.zeros(1, 1, S, S)
    hull[..., 8:36, 6:34] = 1
    return a, b, hull


def test_b_hair_over_a_forehead_is_excluded_and_a_hair_never_pasted() -> None:
    a, b, hull = _scene()
    mask = face_blend_mask(a, b, hull)
    assert mask.shape == (1, 1, S, S) and mask.dtype == torch.float32
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    assert mask[0, 0, 9, 20] == 0 and mask[0, 0, 11, 30] == 0  # A's forehead under B's fringe
    assert mask[0, 0, 12, 20] == 1 and mask[0, 0, 22, 20] == 1  # A's skin below the fringe
    assert mask[0, 0, 2:8].sum() == 0  # A's hair
    assert mask[0, 0, 14, 13] == 1  # A's eye
    assert face_blend_mask(a, b, hull, mouth_dilate_px=0)[0, 0, 24, 20] == 1  # A's upper lip


def test_hand_inside_b_hull_is_excluded_background_outside_hull_is_kept() -> None:
    a, b, hull = _scene()
    mask = face_blend_mask(a, b, hull)
    assert mask[0, 0, 30:34, 7:12].sum() == 0  # the hand stays B's
    assert mask[0, 0, 22, 3] == 1 and mask[0, 0, 22, 36] == 1  # A wider than B: A' pixels stay
    assert mask[0, 0, 22, 7] == 1  # B's skin inside the hull is not an occluder
    without_hull = face_blend_mask(a, b, torch.zeros_like(hull))
    assert without_hull[0, 0, 30:34, 7:12].sum() == 4 * 5  # it is the hull clause that removes it


def test_glasses_are_an_occluder_by_default_and_face_on_request() -> None:
    a, b, hull = _scene()
    occluder = face_blend_mask(a, b, hull)
    assert occluder[0, 0, 15, 11] == 0 and occluder[0, 0, 15, 20] == 0  # A's frame is not pasted
    assert occluder[0, 0, 19, 8:32].sum() == 0  # B's frame is not pasted over
    assert occluder[0, 0, 18, 20] == 1 and occluder[0, 0, 20, 20] == 1  # A's skin around B's frame
    face = face_blend_mask(a, b, hull, eyeglasses="face")
    assert face[0, 0, 15, 11] == 1 and face[0, 0, 15, 20] == 1
    assert face[0, 0, 19, 8:32].sum() == 24  # B's glasses inside the hull are not an occluder either
    with pytest.raises(ValueError, match="eyeglasses"):
        face_blend_mask(a, b, hull, eyeglasses="lens")  # type: ignore[arg-type]


def test_mouth_from_b_removes_both_inner_mouths_dilated() -> None:
    a, b, hull = _scene()
    mask = face_blend_mask(a, b, hull, mouth_dilate_px=2)
    assert mask[0, 0, 26:28, 15:25].sum() == 0  # A''s squeezed teeth are not pasted
    assert mask[0, 0, 31:33, 15:25].sum() == 0  # B's mouth is kept
    assert mask[0, 0, 25, 20] == 0 and mask[0, 0, 24, 20] == 0  # dilated by 2 px into A's lip
    assert mask[0, 0, 23, 20] == 1  # 3 px away: pasted
    assert face_blend_mask(a, b, hull, mouth_dilate_px=0)[0, 0, 25, 20] == 1
    legacy_mouth = face_blend_mask(a, b, hull, mouth_from_b=False)
    assert legacy_mouth[0, 0, 26:28, 15:25].sum() == 2 * 10  # A''s mouth pasted
    assert legacy_mouth[0, 0, 31:33, 15:25].sum() == 2 * 10  # B's mouth under A''s skin: A' wins


def test_face_glasses_no_mouth_rule_no_hull_is_the_legacy_mask() -> None:
    a, b, hull = _scene()
    for erode_px, feather_px in ((0, 0), (2, 0), (1, 3)):
        new = face_blend_mask(a, b, torch.zeros_like(hull), eyeglasses="face", mouth_from_b=False,
                              erode_px=erode_px, feather_px=feather_px)
        assert torch.equal(new, blend_masks(a, b, erode_px=erode_px, feather_px=feather_px))


def test_valid_erode_and_feather() -> None:
    a, b, hull = _scene()
    base = face_blend_mask(a, b, hull)
    valid = torch.zeros(1, 1, S, S)
    valid[..., 20:] = 1
    with_valid = face_blend_mask(a, b, hull, valid_a=valid)
    assert with_valid[..., :20].sum() == 0 and torch.equal(with_valid[..., 20:], base[..., 20:])
    eroded = face_blend_mask(a, b, hull, erode_px=1)
    assert eroded.sum() < base.sum() and torch.all(eroded <= base)
    feathered = face_blend_mask(a, b, hull, feather_px=2)
    assert ((feathered > 0) & (feathered < 1)).any() and feathered.max() <= 1
    with pytest.raises(ValueError, match="valid_a"):
        face_blend_mask(a, b, hull, valid_a=valid[..., :10])
    with pytest.raises(ValueError, match="hull_b"):
        face_blend_mask(a, b, hull[0])


def test_rule_holds_on_random_label_maps() -> None:
    """Every clause as an invariant on label noise over all 19 classes, batched."""
    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, len(NAMES), (4, 32, 32), generator=g)
    b = torch.randint(0, len(NAMES), (4, 32, 32), generator=g)
    hull = (torch.rand(4, 1, 32, 32, generator=g) > 0.5).float()
    mask = face_blend_mask(a, b, hull, mouth_dilate_px=0)
    assert torch.all(mask <= region_mask(a, FACE_PARTS))  # mouth removed again by mouth_from_b
    assert (mask * region_mask(b, OCCLUDERS)).sum() == 0
    assert (mask * hull * (1 - region_mask(b, FACE_PARTS + ("mouth",)))).sum() == 0
    assert (mask * (region_mask(a, ("mouth",)) + region_mask(b, ("mouth",)))).sum() == 0
    # Nothing else is removed: A' face parts on B face parts / outside the hull on non-occluders stay.
    keep = region_mask(a, FACE_PARTS) * (1 - region_mask(b, OCCLUDERS + ("mouth",)))
    keep = keep * (1 - region_mask(a, ("mouth",))) * (1 - hull * (1 - region_mask(b, FACE_PARTS)))
    assert torch.equal(mask, keep)
    # Batched == per image.
    single = torch.cat([face_blend_mask(a[i : i + 1], b[i : i + 1], hull[i : i + 1]) for i in range(4)])
    assert torch.equal(face_blend_mask(a, b, hull), single)


def _landmarks(size: int, batch: int, seed: int = 0) -> torch.Tensor:
    """Plausible jittered 68-point faces: jaw arc, brows, nose, eyes, lips."""
    g = torch.Generator().manual_seed(seed)
    t = torch.linspace(0.1, 0.9, 17) * torch.pi
    jaw = torch.stack([0.5 - 0.3 * torch.cos(t), 0.45 + 0.35 * torch.sin(t)], 1)
    brows = torch.stack([torch.cat([torch.linspace(0.28, 0.45, 5), torch.linspace(0.55, 0.72, 5)]),
                         torch.full((10,), 0.40)], 1)
    nose = torch.cat([torch.stack([torch.full((4,), 0.5), torch.linspace(0.46, 0.60, 4)], 1),
                      torch.stack([torch.linspace(0.45, 0.55, 5), torch.full((5,), 0.63)], 1)])
    angles = torch.linspace(0, 2 * torch.pi, 7)[:-1] + torch.pi
    eye = torch.stack([0.05 * torch.cos(angles), 0.02 * torch.sin(angles)], 1)
    eyes = torch.cat([eye + torch.tensor([0.38, 0.47]), eye + torch.tensor([0.62, 0.47])])
    outer_t = torch.linspace(0, 2 * torch.pi, 13)[:-1]
    outer = torch.stack([0.5 - 0.1 * torch.cos(outer_t), 0.74 - 0.04 * torch.sin(outer_t)], 1)
    inner_t = torch.linspace(0, 2 * torch.pi, 9)[:-1]
    inner = torch.stack([0.5 - 0.07 * torch.cos(inner_t), 0.74 - 0.01 * torch.sin(inner_t)], 1)
    lm = torch.cat([jaw, brows, nose, eyes, outer, inner]) * size
    return lm + torch.randn(batch, 68, 2, generator=g) * 0.01 * size


def test_face_hull_is_the_landmark_parser_skin_polygon() -> None:
    lm = _landmarks(96, 3)
    hull = face_hull_mask(lm, 96)
    assert hull.shape == (3, 1, 96, 96) and hull.dtype == torch.float32
    assert set(hull.unique().tolist()) == {0.0, 1.0}
    skin = fill_polygons(LandmarkFaceParser().polygons(lm)["skin"], 96, 96)
    assert torch.equal(hull[:, 0].bool(), skin)
    # Every part the landmark parser draws lies in the hull; the hull reaches above the brows.
    parsed = LandmarkFaceParser().parse(torch.zeros(3, 3, 96, 96), lm) > 0
    assert torch.all(hull[:, 0].bool() | ~parsed)
    taller = face_hull_mask(lm, 96, forehead=0.6)
    assert torch.all(taller >= hull) and taller.sum() > hull.sum()
    with pytest.raises(ValueError, match="landmarks"):
        face_hull_mask(lm[:, :60], 96)


# --------------------------------------------------------------------------------------------
# Real CelebAMask-HQ ground truth
# --------------------------------------------------------------------------------------------


def _filled_outline(region: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) bool -> pixels between the region's extremes along their row *and* column.

    A stand-in for the landmark hull when only labels are known: holes in the face (a hand, a
    strand of hair across the cheek) are inside it, the background around the face is not.
    """

    def between(x: torch.Tensor, dim: int) -> torch.Tensor:
        x = x.to(torch.uint8)
        forward = torch.cummax(x, dim=dim).values
        backward = torch.cummax(x.flip(dim), dim=dim).values.flip(dim)
        return (forward & backward).bool()

    return between(region, -1) & between(region, -2)


def test_real_labels_never_paste_over_occluders(celeba_images: Path) -> None:
    mask_dir = celeba_images.parent / "masks"
    paths = [p for p in sorted(celeba_images.glob("*.jpg")) if (mask_dir / f"{p.stem}.png").is_file()][:21]
    if len(paths) < 21:
        pytest.skip(f"need 21 labelled CelebAMask-HQ images in {celeba_images}, found {len(paths)}")
    labels = torch.stack([torch.from_numpy(read_label_map(mask_dir / f"{p.stem}.png").astype(np.int64)) for p in paths])
    labels = F.interpolate(labels[:, None].float(), size=(256, 256), mode="nearest")[:, 0].long()
    labels_a, labels_b = labels[1:], labels[:-1]  # 20 pairs: A = image i + 1, B = image i
    hull_b = _filled_outline(region_mask(labels_b, FACE_PARTS + ("mouth",)) > 0).float()

    mask = face_blend_mask(labels_a, labels_b, hull_b)
    legacy = blend_masks(labels_a, labels_b)
    area = mask.sum(dim=(1, 2, 3))
    assert torch.all(area > 0.05 * 256 * 256), area  # a real face is still pasted in every pair
    on_b = (mask * region_mask(labels_b, ("hair", "hat", "cloth"))).sum(dim=(1, 2, 3)) / area
    on_a_hair = (mask * region_mask(labels_a, ("hair",))).sum(dim=(1, 2, 3)) / area
    assert on_b.max() == 0 and on_a_hair.max() == 0
    assert (mask * hull_b * (1 - region_mask(labels_b, FACE_PARTS + ("mouth",)))).sum() == 0
    assert torch.all(mask <= legacy)  # the new rule only removes pixels from the legacy mask

    # The check is not vacuous: the legacy rule pastes over B's cloth in these very pairs.
    assert (legacy * region_mask(labels_b, ("hair", "hat", "cloth"))).sum() > 0
    legacy_on_b = (legacy * region_mask(labels_b, OCCLUDERS)).sum() / legacy.sum()
    removed = 1 - mask.sum() / legacy.sum()
    log.info("real labels, 20 pairs: legacy mask on B occluders %.4f, new rule removes %.4f of the legacy area",
             float(legacy_on_b), float(removed))


def test_mouth_labels_outside_the_inner_lips_are_not_mouths() -> None:
    """A moustache the parser calls "mouth" (above the lips) is pasted over, not kept from B."""
    from supervision.masks import face_blend_mask, inner_mouth_region

    size = 64
    lm = torch.zeros(1, 68, 2)
    inner = torch.tensor([[24.0, 44], [28, 42], [32, 42], [36, 42], [40, 44], [36, 46], [32, 46], [28, 46]])
    lm[0, 60:68] = inner
    region = inner_mouth_region(lm, size, dilate_px=2)
    assert region[0, 0, 44, 32] == 1 and region[0, 0, 30, 32] == 0
    labels_a = torch.full((1, size, size), 1)
    labels_b = torch.full((1, size, size), 1)
    labels_b[:, 43:46, 26:38] = 10  # B's real inner mouth
    labels_b[:, 34:38, 26:38] = 10  # a moustache labelled "mouth"
    hull = torch.zeros(1, 1, size, size)
    plain = face_blend_mask(labels_a, labels_b, hull, mouth_dilate_px=0)
    limited = face_blend_mask(labels_a, labels_b, hull, mouth_dilate_px=0, mouth_region=region)
    assert plain[0, 0, 36, 32] == 0 and limited[0, 0, 36, 32] == 1  # moustache now pasted over
    assert limited[0, 0, 44, 32] == 0  # the real mouth is still B's
    unknown = inner_mouth_region(torch.full((1, 68, 2), float("nan")), size)
    assert bool((unknown == 1).all())
