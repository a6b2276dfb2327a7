"""Time one full FaceShifter training iteration on the current device.

One iteration = G forward with identity embedding, attribute pass of the result, cycle pass,
generator losses, G backward + Adam step, then the D step: exactly what ``train.py`` runs per
step, minus Lightning's logging. Prints the median of ``--repeats`` timed iterations after
``--warmup`` untimed ones as one machine-readable line:

    bench=train_step device=cpu batch=2 size=256 width=1.0 precision=fp32 median_s=... img_per_s=...

Examples:
    python scripts/bench_train_step.py --size 256 --batch 2 --width 1.0
    python scripts/bench_train_step.py --size 256 --batch 16 --precision bf16 --device cuda
    python scripts/bench_train_step.py --identity arcface_r100   # any configs/identity option
    python scripts/bench_train_step.py --experiment demo --batch 4   # an experiment's own model and losses
    python scripts/bench_train_step.py --experiment demo --batch 4 --compile   # torch.compile G and D
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hydra import compose, initialize_config_dir  # noqa: E402

from reliableswap.config import register_resolvers  # noqa: E402
from reliableswap.apps.train import build_module  # noqa: E402
from reliableswap.data.batch import TrainingBatch  # noqa: E402

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiment", default=None, help="compose configs/experiment/NAME first (its model, losses, size)")
    parser.add_argument("--size", type=int, default=None, help="square image size (default 256, or the experiment's)")
    parser.add_argument("--batch", type=int, default=2, help="batch size (default 2)")
    parser.add_argument("--width", type=float, default=None, help="AEI-Net width multiplier (default 1.0 = released model, or the experiment's)")
    parser.add_argument("--d-width", type=int, default=None, help="discriminator base channels (default 64, or the experiment's)")
    parser.add_argument("--identity", default=None, help="configs/identity option (default mobilefacenet, or the experiment's)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the generator and the discriminator")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--channels-last", action="store_true", help="NHWC memory format (CUDA)")
    parser.add_argument("--same-fraction", type=float, default=0.0, help="fraction of same-identity samples")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides, e.g. loss=faceshifter_vgg")
    return parser.parse_args(argv)


def _optimizers(configured: object) -> list:
    """The optimizers of ``configure_optimizers()`` with or without schedulers."""
    if isinstance(configured, tuple) and len(configured) == 2 and isinstance(configured[0], list):
        return list(configured[0])
    return list(configured)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> str:
    args = parse_args(argv)
    register_resolvers()
    plain = args.experiment is None  # without an experiment, the flags' defaults describe the released model
    chosen = {
        "identity": args.identity or ("mobilefacenet" if plain else None),
        "data.size": args.size or (256 if plain else None),
        "model.generator.width": args.width or (1.0 if plain else None),
        "model.discriminator.base_channels": args.d_width or (64 if plain else None),
    }
    overrides = [f"experiment={args.experiment}"] if args.experiment else []
    overrides += [f"{k}={v}" for k, v in chosen.items() if v is not None]
    overrides += [f"model.channels_last={str(args.channels_last).lower()}", *args.overrides]
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides, return_hydra_config=True)
    device = torch.device(args.device)
    module = build_module(cfg).to(device).train()
    if args.channels_last and device.type == "cuda":
        module.generator.to(memory_format=torch.channels_last)
        module.discriminator.to(memory_format=torch.channels_last)
    opt_g, opt_d, *_ = _optimizers(module.configure_optimizers())
    if args.compile:
        module.generator = torch.compile(module.generator)
        module.discriminator = torch.compile(module.discriminator)
    size = int(cfg.data.size)

    torch.manual_seed(0)
    n_same = int(round(args.same_fraction * args.batch))
    batch = TrainingBatch(
        source=torch.rand(args.batch, 3, size, size, device=device) * 2 - 1,
        target=torch.rand(args.batch, 3, size, size, device=device) * 2 - 1,
        same=torch.arange(args.batch, device=device) < n_same,
    )
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if args.precision == "bf16" else nullcontext()

    def iteration() -> None:
        with autocast:
            module.train_iteration(batch, opt_g, opt_d, torch.Tensor.backward)
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(args.warmup):
        iteration()
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        iteration()
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu({torch.get_num_threads()}threads)"
    line = (
        f"bench=train_step device={name.replace(' ', '_')} experiment={args.experiment or 'none'} batch={args.batch} "
        f"size={size} width={cfg.model.generator.width} identity={cfg.identity._target_.rsplit('.', 1)[-1]} "
        f"precision={args.precision} compile={str(args.compile).lower()} overrides={','.join(args.overrides) or 'none'} "
        f"median_s={median:.4f} img_per_s={args.batch / median:.3f}"
    )
    print(line, flush=True)
    return line


if __name__ == "__main__":
    main()
