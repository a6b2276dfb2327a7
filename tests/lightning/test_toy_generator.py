"""A new generator plugs in through a model file, a loss file and configs alone.

``toy_generator.ToyMaskGenerator`` has an extra output (a mask) and no ``attributes`` method;
``toy_loss.ToyMaskLoss`` reads the mask and runs one extra pass of its own. Both are wired only
through config nodes, built by ``build_module`` (what ``train.py`` runs) and trained by the
unmodified ``FaceSwapModule`` under a Lightning ``Trainer``. The test fails when the module runs a
pass of its own choosing (a cycle pass counts as a second generator call, an attribute pass
raises), hard-codes an objective, or drops the objective's terms from the logs.
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from omegaconf import OmegaConf
from toy_generator import ToyIdentity, ToyMaskGenerator
from toy_loss import ToyMaskLoss
from torch.utils.data import DataLoader, Dataset

from reliableswap.lightning.swap_module import FaceSwapModule
from reliableswap.apps.train import build_module

SIZE = 16


def _target(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _config(mask_consistency: float) -> OmegaConf:
    return OmegaConf.create(
        {
            "data": {"size": SIZE},
            "identity": {"_target_": _target(ToyIdentity)},
            "model": {
                "_target_": "reliableswap.lightning.swap_module.FaceSwapModule",
                "generator": {"_target_": _target(ToyMaskGenerator), "_partial_": True, "size": "${data.size}"},
                "discriminator": {
                    "_target_": "reliableswap.models.discriminator.MultiScalePatchDiscriminator",
                    "base_channels": 4,
                    "num_layers": 2,
                    "num_scales": 1,
                },
                "lr": 1e-3,
                "channels_last": False,
            },
            "loss": {
                "weights": {"mask_area": 0.1, "mask_consistency": mask_consistency},
                "generator_loss": {"_target_": _target(ToyMaskLoss), "_partial_": True},
                "perceptual": None,
            },
        }
    )


class _Pairs(Dataset):
    """Random pairs as the face-pair datasets yield them (dicts; the module builds the record)."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, index: int) -> dict:
        g = torch.Generator().manual_seed(index)
        return {
            "source": torch.rand(3, SIZE, SIZE, generator=g) * 2 - 1,
            "target": torch.rand(3, SIZE, SIZE, generator=g) * 2 - 1,
            "same": torch.tensor(index % 2 == 0),
            "source_id": f"person{index}",
        }


def _fit(module: FaceSwapModule, tmp_path) -> pl.Trainer:
    trainer = pl.Trainer(
        max_steps=2, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=str(tmp_path),
    )
    trainer.fit(module, train_dataloaders=DataLoader(_Pairs(), batch_size=4))
    return trainer


def test_a_toy_mask_generator_trains_through_configs_alone(tmp_path):
    pl.seed_everything(0)
    module = build_module(_config(mask_consistency=1.0))
    assert isinstance(module, FaceSwapModule)
    assert isinstance(module.generator, ToyMaskGenerator) and isinstance(module.g_loss, ToyMaskLoss)
    assert module.hparams["loss_weights"]["mask_consistency"] == 1.0
    before = {k: v.clone() for k, v in module.generator.state_dict().items()}

    trainer = _fit(module, tmp_path)

    assert trainer.global_step == 2
    # one main pass per step, plus exactly the extra pass the toy objective asked for
    assert module.generator.calls == {"forward": 2, "mask": 2}
    logged = set(trainer.logged_metrics)
    assert {"train/g_mask_area", "train/g_mask_consistency", "train/g_total", "train/d_loss"} <= logged
    assert not any(name in logged for name in ("train/g_cycle", "train/g_attribute", "train/g_feature_matching"))
    after = module.generator.state_dict()
    assert not torch.equal(after["paint.weight"], before["paint.weight"])  # the generator was trained
    assert not torch.equal(after["mask_head.0.weight"], before["mask_head.0.weight"])
    # only the main pass over real targets moved the BatchNorm statistics (the extra pass is frozen)
    assert int(after["mask_head.1.num_batches_tracked"]) == 2


def test_the_objective_alone_decides_to_skip_its_extra_pass(tmp_path):
    pl.seed_everything(0)
    module = build_module(_config(mask_consistency=0.0))
    trainer = _fit(module, tmp_path)
    assert module.generator.calls == {"forward": 2, "mask": 0}
    assert "train/g_mask_consistency" not in trainer.logged_metrics and "train/g_mask_area" in trainer.logged_metrics
