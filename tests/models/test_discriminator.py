"""Multi-scale PatchGAN: official layout and multi-scale outputs."""

from __future__ import annotations

import torch

from reliableswap.manifests import diff_state_dict
from reliableswap.models.discriminator import MultiScalePatchDiscriminator


def test_discriminator_matches_manifest(manifest):
    entry = manifest("multiscale_patch_discriminator")
    model = MultiScalePatchDiscriminator()
    diff = diff_state_dict(model.state_dict(), entry)
    assert diff.ok, str(diff)
    assert sum(p.numel() for p in model.parameters()) == entry["num_params"] == 8_299_587


def test_outputs_per_scale_with_intermediate_features():
    model = MultiScalePatchDiscriminator(base_channels=8)
    outputs = model(torch.randn(2, 3, 128, 128))
    assert len(outputs) == 3
    assert all(len(feats) == 5 for feats in outputs)
    logits = [feats[-1] for feats in outputs]
    assert all(t.shape[:2] == (2, 1) for t in logits)
    sizes = [t.shape[-1] for t in logits]
    assert sizes[0] > sizes[1] > sizes[2]  # full resolution first, then coarser scales
