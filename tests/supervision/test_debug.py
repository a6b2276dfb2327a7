"""Debug sheets: one row per synthesized image, with the quality verdict written under it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from supervision.debug import stage_tile


def test_verdicts_add_text_rows_in_their_colour() -> None:
    stages = {"a": torch.zeros(2, 3, 32, 32), "b": torch.ones(2, 3, 32, 32)}
    plain = stage_tile(stages, [("AB", 0), ("BA", 1)], cell=64)
    noted = stage_tile(stages, [("AB", 0), ("BA", 1)], cell=64,
                       notes=["accepted", "REJECTED warp_fold: warp folds over 0.0100 of the pasted face (> 0.0)"])
    assert noted.shape[0] > plain.shape[0] and noted.shape[1] == plain.shape[1]
    red = (noted[..., 0] > 150) & (noted[..., 1] < 80) & (noted[..., 2] < 80)
    green = (noted[..., 1] > 80) & (noted[..., 0] < 60) & (noted[..., 2] < 60)
    assert red.sum() > 20 and green.sum() > 5
    rows_red = np.nonzero(red.any(axis=1))[0]
    assert rows_red.min() > noted.shape[0] // 2  # the rejection is written under the second row


def test_notes_must_match_rows() -> None:
    with pytest.raises(ValueError, match="notes"):
        stage_tile({"a": torch.zeros(1, 3, 8, 8)}, [("AB", 0)], notes=["a", "b"])
