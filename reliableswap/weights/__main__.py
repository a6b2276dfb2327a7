"""``python -m reliableswap.weights [list | fetch NAME... | --all | verify [NAME...]]``: see :mod:`.fetch`."""

import sys

from reliableswap.weights.fetch import main

if __name__ == "__main__":
    sys.exit(main())
