"""Convert a released generator file into a checkpoint of this project.

    python scripts/convert_released.py G_mouth1_t38_post.pth pretrained/reliableswap_fs.ckpt

Input: a released FaceShifter/ReliableSwap generator (``G.``, ``iresnet.``, ``mouth_net.``,
``trans_matrix``). Output: a checkpoint with ``state_dict`` (``generator.*``, ``identity.*``) and
the ``reliableswap_config`` that ``test.py ckpt=...`` needs to rebuild the model, and that
``train.py init_weights=...`` uses to start fine-tuning from the released generator (the
discriminator starts fresh; the identity encoder comes from the registry as usual).

The converted model embeds identities with the project's FFHQ -> ArcFace warp
(``reliableswap.faces.alignment``); to run the released file exactly as published (its own
``trans_matrix`` alignment) pass it to ``test.py ckpt=`` directly instead.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reliableswap.io.atomic import atomic_open  # noqa: E402
from reliableswap.models.released import RELEASED_SIZE, ReleasedFaceShifter  # noqa: E402

log = logging.getLogger("convert_released")


def identity_config(with_fixer: bool) -> dict:
    arcface = {"_target_": "reliableswap.models.identity.build_arcface_encoder", "arch": "r100", "weights_path": None}
    if not with_fixer:
        return arcface
    return {
        "_target_": "reliableswap.models.identity.combined.build_combined_encoder",
        "identity": arcface,
        "fixer": {"_target_": "reliableswap.models.identity.fixernet.build_fixernet_encoder", "weights_path": None},
    }


def identity_state(model: ReleasedFaceShifter) -> dict[str, torch.Tensor]:
    """The released recognisers under the keys of our identity encoders."""
    arcface = {f"backbone.{k}": v for k, v in model.iresnet.state_dict().items()}
    if not model.with_fixer:
        return arcface
    state = {f"encoders.identity.{k}": v for k, v in arcface.items()}
    state.update({f"encoders.fixer.backbone.{k}": v for k, v in model.mouth_net.state_dict().items()})
    return state


def convert(src: Path, dst: Path) -> Path:
    from reliableswap.inference.loading import _tensors

    state = _tensors(torch.load(src, map_location="cpu", weights_only=True))
    model = ReleasedFaceShifter.from_state_dict(state)
    checkpoint = {
        "state_dict": {
            **{f"generator.{k}": v for k, v in model.G.state_dict().items()},
            **{f"identity.{k}": v for k, v in identity_state(model).items()},
        },
        "reliableswap_config": {
            "model": {"generator": {"_target_": "reliableswap.models.aei_net.AEINet", "_partial_": True,
                                    "size": RELEASED_SIZE, "width": 1.0}},
            "identity": identity_config(model.with_fixer),
            "data": {"size": RELEASED_SIZE},
            "converted_from": str(src.name),
        },
        "global_step": 0,
    }
    with atomic_open(dst, "wb") as handle:
        torch.save(checkpoint, handle)
    log.info("wrote %s (%s, identity dim %d)", dst, "ReliableSwap" if model.with_fixer else "FaceShifter", model.G.id_dim)
    return dst


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("released", type=Path, help="released generator file (.pth)")
    parser.add_argument("output", type=Path, help="checkpoint to write (.ckpt)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return convert(args.released, args.output)


if __name__ == "__main__":
    main()
