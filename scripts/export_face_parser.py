#!/usr/bin/env python
"""Export the face parser of an ``experiment=face_parser`` checkpoint as the shipped weights file.

    python scripts/export_face_parser.py <run>/checkpoints/last.ckpt assets/face_parser_unet.pt

Writes a float16 state dict of :class:`reliableswap.faces.parsing.unet.FaceParsingUNet` (loads with
``torch.load(weights_only=True)``) atomically and prints one machine-readable line with its size
and sha256 (put the sha256 into the ``face_parser_unet`` entry of ``reliableswap/weights/__init__.py``).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
from pathlib import Path

from reliableswap.lightning.parser_module import export_face_parser


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path, help="Lightning checkpoint of experiment=face_parser")
    parser.add_argument("output", type=Path, help="weights file to write (e.g. assets/face_parser_unet.pt)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not args.checkpoint.is_file():
        parser.error(f"checkpoint not found: {args.checkpoint}")
    if args.output.is_dir():
        parser.error(f"output {args.output} is a folder: give the file to write")
    try:
        export_face_parser(args.checkpoint, args.output)
    except Exception as exc:  # noqa: BLE001 - any unreadable or foreign file: one line, exit 2
        parser.error(f"{args.checkpoint} is not a Lightning checkpoint of experiment=face_parser "
                     f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})")
    digest = hashlib.sha256(args.output.read_bytes()).hexdigest()
    line = f"export=face_parser path={args.output} bytes={args.output.stat().st_size} sha256={digest}"
    print(line, flush=True)
    return digest


if __name__ == "__main__":
    main()
