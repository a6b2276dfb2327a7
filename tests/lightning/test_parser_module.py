"""FaceParserModule: pooled IoU, the Dice term, a few training steps that lower the loss, export."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from reliableswap.faces.parsing.labels import ID
from reliableswap.faces.parsing.unet import network_from_state
from reliableswap.lightning.parser_module import FaceParserModule, export_face_parser, pooled_iou, soft_dice_loss


def test_pooled_iou_counts_groups_over_all_pixels() -> None:
    target = torch.zeros(2, 4, 4, dtype=torch.long)
    target[0, :2] = ID["l_eye"]
    target[1, :2] = ID["r_eye"]
    pred = target.clone()
    pred[1, :2] = ID["l_eye"]  # wrong side: still "eyes"
    pred[1, 2, 0] = ID["r_eye"]
    ious = pooled_iou(pred, target)
    assert abs(ious["eyes"] - 16 / 17) < 1e-6
    assert ious["hair"] != ious["hair"]  # absent everywhere: NaN


def test_soft_dice_matches_a_one_hot_reference() -> None:
    torch.manual_seed(0)
    logits = torch.randn(2, 19, 8, 8)
    target = torch.randint(0, 5, (2, 8, 8))
    probs = logits.softmax(1)
    onehot = F.one_hot(target, 19).permute(0, 3, 1, 2).float()
    inter, total = (probs * onehot).sum((0, 2, 3)), probs.sum((0, 2, 3)) + onehot.sum((0, 2, 3))
    present = onehot.sum((0, 2, 3)) > 0
    ref = 1 - ((2 * inter + 1) / (total + 1))[present].mean()
    assert torch.allclose(soft_dice_loss(logits, target), ref, atol=1e-6)


class _Data(pl.LightningDataModule):
    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        labels = torch.zeros(8, 32, 32, dtype=torch.uint8)
        for i in range(8):
            x = int(torch.randint(4, 20, (1,), generator=g))
            labels[i, 8:24, x : x + 8] = ID["nose"]
        image = torch.where(labels[:, None] > 0, 230, 20).expand(-1, 3, -1, -1).to(torch.uint8)
        self.items = [{"image": image[i], "labels": labels[i]} for i in range(8)]
        self.augment = None

    def train_dataloader(self):
        return torch.utils.data.DataLoader(self.items, batch_size=4)


def test_training_lowers_the_loss_and_export_round_trips(tmp_path: Path) -> None:
    module = FaceParserModule(widths=(8, 8, 16, 16, 16), lr=1e-2, warmup_steps=1)
    data = _Data()
    batch = torch.utils.data.default_collate(data.items[:4])
    trainer = pl.Trainer(max_steps=30, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=tmp_path)
    module.eval()
    with torch.no_grad():
        images, labels = module._images(batch)
        before = F.cross_entropy(module(images), labels).item()
    trainer.fit(module, datamodule=data)
    module.eval()
    with torch.no_grad():
        after = F.cross_entropy(module(images), labels).item()
    assert after < 0.5 * before
    ckpt = tmp_path / "m.ckpt"
    trainer.save_checkpoint(ckpt)
    out = tmp_path / "parser.pt"
    state = export_face_parser(ckpt, out)
    assert all(v.dtype == torch.float16 for v in state.values() if v.is_floating_point())
    loaded = torch.load(out, weights_only=True)
    net = network_from_state({k: v.float() for k, v in loaded.items()})
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in loaded.items()})
