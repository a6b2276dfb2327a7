"""HopeNet head pose (Ruiz et al. 2018), the *official* pose judge of the paper's FF++ protocol.

Architecture (natanielruiz/deep-head-pose ``hopenet.Hopenet``): a torchvision-layout ResNet50
trunk, global average pool, and three 66-bin classifiers ``fc_yaw``, ``fc_pitch``, ``fc_roll``.
The release also holds ``fc_finetune`` (2048 + 3 -> 3), defined but never used by the forward
pass; it is kept so the released file loads strictly (the module matches the manifest
``hopenet_resnet50_66bins`` key for key). Each bin is 3 degrees wide over [-99, 99); the angle is
the expected value of the softmax, ``3 * sum(softmax(logits) * idx) - 99`` (HopeNet's decoding).

Input: a face crop resized to 224 and ImageNet-normalised. HopeNet was trained on loose crops
(the detector box enlarged: 1/2 of the width on each side, 3/4 of the height above, 1/4 below, as in
deep-head-pose's test scripts). :meth:`HopeNetPoseEstimator.estimate` builds that crop from
dlib's aligned-crop box (:data:`~reliableswap.faces.calibration.FFHQ_FACE_BOX`) for FFHQ crops.

Weights: registry name ``hopenet`` (``pretrained/pose/hopenet_robust_alpha1.pkl``). Despite the
``.pkl`` suffix it is a ``torch.save``'d state dict (legacy, pre-zip format), which
``torch.load(weights_only=True)`` reads -- no arbitrary unpickling. The file itself is not
available in this workplace, so that was verified with a legacy-format state dict of the same
layout, not with the release.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reliableswap import weights

log = logging.getLogger(__name__)

__all__ = ["NUM_BINS", "HopeNet", "HopeNetPoseEstimator", "bins_to_degrees", "hopenet_crop_box"]

NUM_BINS = 66
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def bins_to_degrees(logits: Tensor) -> Tensor:
    """Expected angle in degrees from 66-bin logits ``(..., 66)``: ``3 * E[idx] - 99``."""
    idx = torch.arange(logits.shape[-1], dtype=logits.dtype, device=logits.device)
    return (F.softmax(logits, dim=-1) * idx).sum(-1) * 3.0 - 99.0


class HopeNet(nn.Module):
    """ResNet50 + three 66-bin angle heads; ``forward`` returns ``(yaw, pitch, roll)`` logits."""

    def __init__(self, num_bins: int = NUM_BINS) -> None:
        super().__init__()
        from torchvision.models.resnet import Bottleneck, resnet50

        trunk = resnet50(weights=None)
        # Same attribute names as deep-head-pose (torchvision's layout, without ``fc``).
        self.conv1, self.bn1, self.relu, self.maxpool = trunk.conv1, trunk.bn1, trunk.relu, trunk.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = trunk.layer1, trunk.layer2, trunk.layer3, trunk.layer4
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        width = 512 * Bottleneck.expansion
        self.fc_yaw = nn.Linear(width, num_bins)
        self.fc_pitch = nn.Linear(width, num_bins)
        self.fc_roll = nn.Linear(width, num_bins)
        self.fc_finetune = nn.Linear(width + 3, 3)  # unused by forward; part of the release

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc_yaw(x), self.fc_pitch(x), self.fc_roll(x)

    def angles(self, x: Tensor) -> Tensor:
        """``(B, 3)`` yaw, pitch, roll in degrees for normalised 224 crops."""
        return torch.stack([bins_to_degrees(t) for t in self.forward(x)], dim=-1)


def hopenet_crop_box(box: Sequence[float]) -> tuple[float, float, float, float]:
    """deep-head-pose's loose crop around a detector box ``(x0, y0, x1, y1)``."""
    x0, y0, x1, y1 = (float(v) for v in box[:4])
    w, h = x1 - x0, y1 - y0
    return (x0 - w / 2.0, y0 - 3.0 * h / 4.0, x1 + w / 2.0, y1 + h / 4.0)


class HopeNetPoseEstimator:
    """HopeNet with the released weights: RGB ``uint8`` images -> ``(N, 3)`` degrees.

    Angles follow HopeNet's (300W-LP/AFLW2000) convention, which is *not* 3DDFA-V2's; only compare
    numbers from the same backend.
    """

    def __init__(self, weights_path: str | os.PathLike[str] | None = None, device: str | torch.device = "cpu") -> None:
        path = weights.resolve("hopenet", weights_path)
        self.model = HopeNet()
        weights.load_into(self.model, weights.load_state_dict(path), source=str(path))
        self.device = torch.device(device)
        self.model.to(self.device).eval()
        mean = torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1)
        self._mean, self._std = mean.to(self.device), std.to(self.device)
        log.info("HopeNet loaded from %s", path)

    def _crop(self, rgb: np.ndarray, box: Sequence[float] | None) -> np.ndarray:
        import cv2

        from reliableswap.faces.calibration import ffhq_face_box

        h, w = rgb.shape[:2]
        if box is None:
            box = tuple(float(v) for v in ffhq_face_box(w, h))
        x0, y0, x1, y1 = hopenet_crop_box(box)
        # Affine warp (zero padding) instead of clipping, so the crop keeps its aspect ratio.
        m = np.array([[224.0 / (x1 - x0), 0.0, -x0 * 224.0 / (x1 - x0)],
                      [0.0, 224.0 / (y1 - y0), -y0 * 224.0 / (y1 - y0)]])
        return cv2.warpAffine(rgb, m, (224, 224), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))

    @torch.no_grad()
    def angles_batch(self, images: Sequence[np.ndarray], boxes: Sequence[Sequence[float] | None] | None = None) -> np.ndarray:
        """``(N, 3)`` yaw, pitch, roll; ``boxes=None`` means FFHQ-aligned crops."""
        if not len(images):
            return np.zeros((0, 3))
        boxes = boxes if boxes is not None else [None] * len(images)
        crops = np.stack([self._crop(np.asarray(im), b) for im, b in zip(images, boxes)])
        x = torch.from_numpy(crops).to(self.device).permute(0, 3, 1, 2).float() / 255.0
        return self.model.angles((x - self._mean) / self._std).double().cpu().numpy()
