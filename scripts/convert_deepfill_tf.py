"""Convert the official DeepFill v2 TensorFlow checkpoint into a PyTorch state dict.

Usage::

    python scripts/convert_deepfill_tf.py CKPT_DIR OUT.pth

``CKPT_DIR`` is the unpacked release folder (e.g. ``release_celeba_hq_256_deepfill_v2/`` with
``checkpoint``, ``snap-*.index``, ``snap-*.data-*``) or a checkpoint prefix. The variables under
``inpaint_net/`` are read with TensorFlow's checkpoint reader (TensorFlow is needed for this
script only), kernels ``[k, k, cin, cout]`` are transposed to ``[cout, cin, k, k]``, names map
``inpaint_net/a/b/kernel`` -> ``a.b.weight`` (see :func:`supervision.deepfill.tf_to_torch_state_dict`),
the result is checked strictly against :class:`supervision.deepfill.DeepFillV2Generator` and
saved with ``torch.save`` (plain tensors, loadable with ``weights_only=True``).

``CKPT_DIR`` may also be a ``.pth``/``.pt`` file in the layout of the common PyTorch port
(nipponjo/deepfillv2-pytorch ``model/networks_tf.py``, optionally wrapped as ``{"G": ...}``):
its keys are renamed with :func:`supervision.deepfill.port_to_torch_state_dict`
(``<layer>.conv.weight`` -> ``<layer>.weight``, ``<up>.conv.conv.weight`` ->
``<up>.<up>_conv.weight``); no TensorFlow is needed for that path.

Exit status 2 with a one-line message when TensorFlow is missing, the checkpoint cannot be read,
or its variables do not match the network.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reliableswap.weights import state_mismatch
from supervision.deepfill import (
    TF_SCOPE,
    DeepFillV2Generator,
    port_to_torch_state_dict,
    tf_to_torch_state_dict,
)

log = logging.getLogger("convert_deepfill_tf")


def read_tf_checkpoint(ckpt: str | Path, scope: str = TF_SCOPE) -> dict[str, np.ndarray]:
    """All variables under ``scope`` of a TF checkpoint (folder or prefix) as numpy arrays.

    Raises:
        ImportError: TensorFlow is not installed.
        ValueError: no checkpoint could be found at ``ckpt``.
    """
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise ImportError("TensorFlow is required to read the DeepFill v2 TF checkpoint (pip install tensorflow)") from exc
    path = Path(ckpt)
    prefix = tf.train.latest_checkpoint(str(path)) if path.is_dir() else str(path)
    if not prefix:
        raise ValueError(f"no TensorFlow checkpoint found in {path}")
    reader = tf.train.load_checkpoint(prefix)
    names = [n for n in reader.get_variable_to_shape_map() if n.startswith(scope + "/")]
    return {n: reader.get_tensor(n) for n in sorted(names)}


def convert(ckpt: str | Path, out: str | Path) -> dict[str, torch.Tensor]:
    """Read, map, strictly check against the network and save; return the state dict."""
    if Path(ckpt).is_file() and Path(ckpt).suffix in (".pth", ".pt"):
        loaded = torch.load(Path(ckpt), map_location="cpu", weights_only=True)
        if not isinstance(loaded, dict):
            raise ValueError(f"{ckpt}: expected a state dict, got {type(loaded).__name__}")
        state = port_to_torch_state_dict(loaded)
    else:
        state = tf_to_torch_state_dict(read_tf_checkpoint(ckpt))
    problem = state_mismatch(DeepFillV2Generator(), state, source=str(ckpt))
    if problem:
        raise ValueError(problem)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, out)
    log.info("wrote %d tensors (%d parameters) to %s", len(state), sum(v.numel() for v in state.values()), out)
    return state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ckpt", help="TF release folder (with a 'checkpoint' file), TF checkpoint prefix, or a PyTorch-port .pth")
    parser.add_argument("out", help="output .pth (PyTorch state dict)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        convert(args.ckpt, args.out)
    except (ImportError, ValueError, OSError) as exc:
        print(f"convert_deepfill_tf: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
