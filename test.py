"""Swap images/videos and evaluate checkpoints.

Not implemented yet: inference and the evaluation protocols are tracked in the project's issue
on ``python test.py``. Until then this entry point says so and exits with status 2.
"""

from __future__ import annotations

import sys


def main() -> int:
    sys.stderr.write(
        "test.py: not implemented yet (swapping and evaluation are planned; "
        "see README 'Roadmap'). Train with: python train.py experiment=demo\n"
    )
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
