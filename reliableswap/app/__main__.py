"""``python -m reliableswap.app ckpt=CKPT|baseline=copy_target [port=7860] [host=127.0.0.1] [share=false]``.

Hydra composes ``configs/app.yaml``; ``--help`` lists every option. Usage errors (no or two
swappers, a missing checkpoint, an unquoted non-ASCII path) are one line on stderr and exit 2;
Ctrl-C / SIGTERM stop the server.
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from reliableswap.apps.entry import CONFIGS, configs_dir
from reliableswap.config import refuse_null_groups, refuse_unquoted_non_ascii, register_resolvers

APP = "python -m reliableswap.app"

register_resolvers()


@hydra.main(version_base="1.3", config_path=CONFIGS, config_name="app")
def main(cfg: DictConfig) -> None:
    from reliableswap.app.server import AppUsageError, serve

    from reliableswap.weights import weights_error_in

    try:
        code = serve(cfg)
    except AppUsageError as exc:
        print(f"{APP}: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except Exception as exc:
        missing = weights_error_in(exc)  # e.g. parser=bisenet without its file: which, where, how to get it
        if missing is None:
            raise
        print(f"{APP}: error: {' '.join(str(missing).split())}", file=sys.stderr)
        raise SystemExit(2) from None
    if code:
        print(f"{APP}: stopped; this server's uploads and results are removed", file=sys.stderr)
        raise SystemExit(code)


def run() -> None:
    """Console entry point (``reliableswap-app``): the same as ``python -m reliableswap.app``."""
    configs_dir()
    refuse_unquoted_non_ascii(APP)
    refuse_null_groups(APP, ("parser",))
    main()


if __name__ == "__main__":
    run()
