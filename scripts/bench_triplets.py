"""Triplet synthesis throughput: pairs per second end to end and seconds per pair per stage.

Builds ``--pairs`` triplets from the shared CelebAMask-HQ faces (or ``--input``) into a temporary
folder with the configured backends (offline defaults) and prints one machine-readable line per
figure:

    bench=triplets figure=end_to_end device=cpu pairs=24 batch=8 size=256 pairs_per_s=...
    bench=triplets figure=stage stage=reenact device=cpu s_per_pair=...

Extra Hydra overrides of configs/build_triplets.yaml may follow, e.g. ``builder/reenactor=lia``.
``--official-random`` times the original pipeline's networks (LIA, DML-CSR at 473, DeepFill v2,
GPEN-BFR-512) with random weights in their release layouts, the quality filter off.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hydra import compose, initialize_config_dir  # noqa: E402

from reliableswap import paths  # noqa: E402
from reliableswap.config import register_resolvers  # noqa: E402
from supervision.build_triplets import build  # noqa: E402

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"


def main(argv: list[str] | None = None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=None, help="faces folder (default: shared CelebAMask-HQ images)")
    parser.add_argument("--pairs", type=int, default=24)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--official-random", action="store_true",
                        help="time the original pipeline's networks (LIA, DML-CSR, DeepFill v2, GPEN) with random "
                             "weights in their release layouts (no quality filter; images are meaningless)")
    parser.add_argument("--gpen-size", type=int, default=512, choices=(256, 512), help="with --official-random")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of configs/build_triplets.yaml")
    args = parser.parse_args(argv)
    source = args.input or paths.data_dir() / "celebamask_hq_1k" / "images"
    register_resolvers()
    with tempfile.TemporaryDirectory() as out:
        extra: list[str] = []
        if args.official_random:
            from supervision.random_backends import NO_QUALITY_FILTER, official_overrides, write_random_official_weights

            files = write_random_official_weights(Path(out) / "weights", gpen_size=args.gpen_size)
            extra = [*official_overrides(files, gpen_size=args.gpen_size), *NO_QUALITY_FILTER]
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            cfg = compose(
                config_name="build_triplets",
                overrides=[
                    f"input={source}", f"output={out}/triplets", f"num_pairs={args.pairs}", f"batch_size={args.batch}",
                    f"device={args.device}", f"settings.size={args.size}", *extra, *args.overrides,
                ],
            )
        summary = build(cfg)
    done = summary["built"] + summary["failed"]
    lines = [
        f"bench=triplets figure=end_to_end backends={'official_random' if args.official_random else 'config'} "
        f"device={args.device} pairs={done} built={summary['built']} "
        f"batch={args.batch} size={args.size} pairs_per_s={summary['pairs_per_s']}"
    ]
    for key, seconds in summary.items():
        if key.startswith("stage_s/"):
            lines.append(
                f"bench=triplets figure=stage stage={key.split('/', 1)[1]} device={args.device} "
                f"s_per_pair={seconds / max(done, 1):.4f}"
            )
    for line in lines:
        print(line, flush=True)
    return lines


if __name__ == "__main__":
    main()
