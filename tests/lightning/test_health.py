"""Training health monitor: identity sensitivity, the no-swap warning, and a monitored tiny run."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from reliableswap.lightning.health import HealthMonitor, identity_sensitivity, no_swap_reason
from reliableswap.models.aei_net import AEINet
from tests.lightning.test_swap_module import ToyIdentity, make_module


def faces(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, 32, 32, generator=g) * 2 - 1


def test_sensitivity_is_zero_for_a_dead_identity_path_and_positive_after_the_fix():
    torch.manual_seed(0)
    identity = ToyIdentity()
    source, target = faces(4, 0), faces(4, 1)
    dead = AEINet(id_dim=8, size=32, width=1 / 32).eval()
    with torch.no_grad():
        for layer in dead.identity_layers():
            for p in layer.parameters():
                p.zero_()
    assert identity_sensitivity(dead, identity, source, target) == 0.0
    fixed = AEINet(id_dim=8, size=32, width=1 / 32, identity_init="unit").eval()
    assert identity_sensitivity(fixed, identity, source, target) > 1e-3


def test_unit_identity_init_makes_the_identity_branch_as_large_as_the_features_it_modulates():
    z = nn.functional.normalize(torch.randn(64, 128), dim=1)
    for init, low, high in (("faceshifter", 0.0, 0.01), ("unit", 0.5, 2.0)):
        model = AEINet(id_dim=128, size=32, width=1 / 8, identity_init=init)
        gamma = model.generator.AADBlk1.AAD1.fc1(z)
        assert low <= float(gamma.std()) <= high, init


def test_no_swap_reason_flags_dead_paths_and_target_copies_only():
    assert "ignores the identity" in no_swap_reason(0.0, 0.8, 0.0, 0.0, 0.025, 1e-3)
    assert "nearer their target" in no_swap_reason(0.05, 0.8, 0.1, 0.025, 0.025, 1e-3)
    assert no_swap_reason(0.05, 0.5, 0.7, 0.3, 0.025, 1e-3) is None  # a swap
    assert no_swap_reason(0.05, None, None, None, None, 1e-3) is None  # no judge: sensitivity only


class CopyTarget(nn.Module):
    """A 'generator' that returns its target: the failure the monitor exists to catch."""

    def forward(self, target: torch.Tensor, z_id: torch.Tensor):
        return target + 0 * z_id.sum(), []


def _stub_trainer(tmp_path):
    return SimpleNamespace(default_root_dir=str(tmp_path), loggers=[], is_global_zero=True, global_step=0)


def test_the_no_swap_warning_fires_on_a_copy_of_the_target(tmp_path, caplog):
    module = make_module()
    module.generator = CopyTarget()
    monitor = HealthMonitor(judge={"backend": "encoder", "encoder": ToyIdentity()}, pose=False, warn_after_steps=10, num_pairs=6)
    ids = [f"p{i}" for i in range(6)]
    monitor._pairs = (faces(6, 0), faces(6, 1), ids, ids)
    with caplog.at_level(logging.WARNING, logger="reliableswap.lightning.health"):
        monitor._record(_stub_trainer(tmp_path), module, step=5)  # before warn_after_steps: quiet
        assert not [r for r in caplog.records if "no swap" in r.message]
        monitor._record(_stub_trainer(tmp_path), module, step=10)
    assert [r for r in caplog.records if "no swap at step 10" in r.message]
    lines = [json.loads(x) for x in (tmp_path / "health.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [5, 10]
    assert lines[-1]["identity_sensitivity"] == 0.0 and "no_swap" in lines[-1]
    assert lines[-1]["id_distance_to_target"] < 1e-6  # the judge sees the target itself


def test_a_saturated_discriminator_is_reported(caplog):
    monitor = HealthMonitor(saturated_d_loss=0.05, saturated_steps=3)
    with caplog.at_level(logging.WARNING, logger="reliableswap.lightning.health"):
        for step, d in enumerate([0.5, 0.01, 0.01, 0.2, 0.01, 0.01, 0.01, 0.01]):
            monitor._check_saturation(d, step)
    assert len([r for r in caplog.records if "saturated" in r.message]) == 1  # steps 4..7, once


@pytest.mark.usefixtures("celeba_images")
def test_monitored_tiny_run_logs_health_with_an_independent_judge(tmp_path, shared_weight):
    pytest.importorskip("dlib")
    shared_weight("recognition/mobilefacenet_arcface.pt")
    from tests.apps.test_train import _train

    result = _train(tmp_path, "trainer.max_steps=2", "callbacks.health.every_n_steps=1", "callbacks.health.num_pairs=4",
                    "callbacks.health.pose=false", "data.val_fraction=0.01")
    records = [json.loads(x) for x in (result.run_dir / "health.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [0, 1, 2]
    for r in records:
        assert r["identity_sensitivity"] > 0  # the FaceShifter init's up1 already reads z_id
        assert 0.0 <= r["id_top1"] <= 1.0 and r["id_distance_to_source"] > 0 and "d_real" in r
    assert sorted((result.run_dir / "grids").glob("step_*.png"))
