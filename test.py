"""Swap faces into images, folders and videos, or evaluate a swapper (Hydra entry point).

    python test.py ckpt=CKPT source=IMAGE target=IMAGE|DIR|VIDEO output=PATH [device=cuda] [faces=all]
    python test.py ckpt=CKPT eval=folder eval.input=DIR output=DIR
    python test.py baseline=copy_target eval=folder output=DIR

``python test.py --help`` lists every option; configs/test.yaml holds the defaults. The work is
done in :mod:`reliableswap.apps.test`; the entry point itself is
:func:`reliableswap.apps.entry.swap` (also installed as ``reliableswap-swap``).
"""

from reliableswap.apps.entry import swap

if __name__ == "__main__":
    swap()
