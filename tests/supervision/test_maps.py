"""Per-pair artifact maps: written atomically without pickle, read back at the stored precision."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from supervision.maps import load_maps, save_maps


def test_round_trip(tmp_path):
    mask = torch.zeros(2, 1, 8, 8)
    mask[0, 0, 2:6, 2:6] = 1.0
    mask[1, 0, :, :4] = 0.5
    yy, xx = torch.meshgrid(torch.arange(8.0), torch.arange(8.0), indexing="ij")
    grid = torch.stack([xx, yy], -1).expand(2, -1, -1, -1) + 0.25
    path = tmp_path / "maps.npz"
    save_maps(path, {"mask": mask, "drop": torch.zeros_like(mask), "grid": grid})
    maps = load_maps(path)
    assert maps["mask"].shape == (2, 8, 8) and maps["grid"].shape == (2, 8, 8, 2)
    assert np.allclose(maps["mask"], mask[:, 0].numpy(), atol=1 / 255)
    assert np.allclose(maps["grid"], grid.numpy(), atol=1e-2)
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temp file left


def test_pickled_content_is_refused(tmp_path):
    path = tmp_path / "maps.npz"
    np.savez(path, mask=np.array([object()], dtype=object))
    with pytest.raises(ValueError):
        load_maps(path)
