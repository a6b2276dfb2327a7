"""Export a training checkpoint's generator and discriminator as a small float16 weights file.

The demo starts from such a file (``init_weights=demo_reference``): only the weights of
``generator.*`` and ``discriminator.*`` are kept (no optimizer state, no identity encoder, which
comes from its own pretrained file), floats stored as float16 (half the size; they are loaded
back into float32 modules). The run's model/identity/data config (``reliableswap_config``) is kept
too, so the file also swaps as it is: ``python test.py ckpt=assets/demo_reference.pt ...`` and
``python -m reliableswap.app ckpt=assets/demo_reference.pt``. Prints the file's sha256 for the
weight registry:

    python scripts/export_reference.py RUN/checkpoints/step_0004000.ckpt assets/demo_reference.pt
    -> export=reference parts=generator,discriminator tensors=... bytes=... sha256=...
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reliableswap.io.atomic import atomic_open  # noqa: E402
from reliableswap.weights import file_sha256, load_state_dict  # noqa: E402

PARTS = ("generator.", "discriminator.")


def export(checkpoint: Path, output: Path) -> str:
    state = load_state_dict(checkpoint)
    kept = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in state.items() if k.startswith(PARTS)}
    if not kept:
        raise SystemExit(f"export_reference: {checkpoint} has no generator.*/discriminator.* tensors")
    stored = torch.load(checkpoint, map_location="cpu", weights_only=True).get("reliableswap_config")
    payload = {"state_dict": kept}
    if isinstance(stored, dict):  # train.py's checkpoints carry it: the export then swaps on its own
        payload["reliableswap_config"] = {k: stored[k] for k in ("model", "identity", "data") if k in stored}
    with atomic_open(output, "wb") as handle:
        torch.save(payload, handle)
    parts = sorted({k.split(".", 1)[0] for k in kept})
    line = (f"export=reference parts={','.join(parts)} tensors={len(kept)} bytes={output.stat().st_size} "
            f"sha256={file_sha256(output)}")
    print(line, flush=True)
    return line


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path, help="a Lightning checkpoint of a swap training run")
    parser.add_argument("output", type=Path, help="the .pt file to write")
    args = parser.parse_args(argv)
    if not args.checkpoint.is_file():
        parser.exit(2, f"export_reference: no checkpoint at {args.checkpoint}\n")
    return export(args.checkpoint, args.output)


if __name__ == "__main__":
    main()
