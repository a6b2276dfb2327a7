"""The body of ``python train.py``: build everything from a Hydra config and run Lightning's fit loop."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import hydra
import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)

# Both are expected here and would only confuse users: the frozen identity encoder (and VGG) stay
# in eval mode on purpose, and checkpoints after the G and D steps are exactly what we want.
warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode at the start of training")
warnings.filterwarnings("ignore", message="Using ModelCheckpoint with manual optimization")


@dataclass
class TrainResult:
    run_dir: Path
    checkpoint_dir: Path
    last_checkpoint: Path | None
    final_grid: Path | None
    tensorboard_dir: Path | None
    global_step: int


@dataclass
class Run:
    """Everything one ``train.py`` run is made of, built from its config by :func:`build_run`."""

    datamodule: pl.LightningDataModule
    module: pl.LightningModule
    callbacks: list[pl.Callback]
    loggers: list
    trainer: pl.Trainer


class TrainUsageError(Exception):
    """A command-line mistake found before training starts (a checkpoint that is missing, damaged or
    of another model): ``train.py`` prints it in one line and exits 2."""


def _read_state(path: Path | str, what: str) -> dict:
    """The ``state_dict`` of a ``train.py`` checkpoint, read safely; :class:`TrainUsageError` otherwise."""
    from reliableswap.inference.loading import read_checkpoint

    try:
        checkpoint = read_checkpoint(Path(path))
    except (FileNotFoundError, ValueError) as exc:  # ValueError: CheckpointReadError
        raise TrainUsageError(f"{what}: {exc}") from None
    state = checkpoint.get("state_dict") if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise TrainUsageError(f"{what}: {path} is not a checkpoint of train.py (no state_dict)")
    return state


def check_resume_checkpoint(module: pl.LightningModule, path: Path | str) -> None:
    """:class:`TrainUsageError` (one line) unless ``ckpt_path`` is a readable checkpoint of this very model."""
    from reliableswap import weights

    problem = weights.state_mismatch(module, _read_state(path, "ckpt_path"), source=f"ckpt_path={path}")
    if problem:
        raise TrainUsageError(f"{problem} (resume with the config the checkpoint was trained with)")


def _instantiate_dict(cfg: DictConfig | None) -> list:
    if not cfg:
        return []
    return [hydra.utils.instantiate(c) for c in cfg.values() if c is not None and "_target_" in c]


def build_run(cfg: DictConfig) -> Run:
    """DataModule, LightningModule (with ``init_weights`` loaded), callbacks, loggers and Trainer of ``cfg``."""
    # _convert_="all": plain dicts/lists reach the modules, so their saved hyper-parameters load
    # with torch.load(weights_only=True) when resuming (no OmegaConf classes in checkpoints).
    datamodule = hydra.utils.instantiate(cfg.data, seed=cfg.seed, _convert_="all")
    module = build_module(cfg)
    if cfg.get("init_weights"):
        load_init_weights(module, cfg.init_weights)
    if cfg.get("ckpt_path"):
        check_resume_checkpoint(module, cfg.ckpt_path)
    callbacks = _instantiate_dict(cfg.get("callbacks"))
    loggers = _instantiate_dict(cfg.get("logger"))
    # SIGTERM / Ctrl-C: finish the step, save last.ckpt (reliableswap.lightning.interrupt)
    from reliableswap.lightning.interrupt import SaveLastOnInterrupt

    trainer: pl.Trainer = hydra.utils.instantiate(
        cfg.trainer, callbacks=[*callbacks, SaveLastOnInterrupt()], logger=loggers or False
    )
    return Run(datamodule, module, callbacks, loggers, trainer)


def build_module(cfg: DictConfig) -> pl.LightningModule:
    """The LightningModule of ``cfg.model`` with the collaborators the config names.

    Each of the identity encoder (``cfg.identity``), the perceptual network
    (``loss.perceptual``), the generator objective (``loss.generator_loss``), the triplet loss
    weights (``loss.triplet``) and the loss weights (``loss.weights``) is passed only when the
    config sets it, so a module that needs none of them (FixerNet) takes no argument for it.
    """
    loss = cfg.get("loss") or {}
    parts = {
        "identity_encoder": cfg.get("identity"),
        "perceptual": loss.get("perceptual"),
        "generator_loss": loss.get("generator_loss"),
    }
    extra = {name: hydra.utils.instantiate(node) for name, node in parts.items() if node is not None}
    for name, key in (("loss_weights", "weights"), ("triplet_loss_weights", "triplet")):
        if loss.get(key) is not None:
            extra[name] = OmegaConf.to_container(loss[key], resolve=True)
    module = hydra.utils.instantiate(cfg.model, _convert_="all", **extra)
    module.build_config = build_config_of(cfg)
    return module


def build_config_of(cfg: DictConfig) -> dict:
    """The plain-dict subset of a training config needed to rebuild the module for inference."""
    keep = {key: cfg[key] for key in ("model", "identity", "loss") if key in cfg}
    keep["data"] = {"size": int(cfg.data.size)}
    return OmegaConf.to_container(OmegaConf.create(keep), resolve=True)


def load_init_weights(module: pl.LightningModule, path: Path | str) -> list[str]:
    """Start from another checkpoint's weights (fine-tuning), not its training state.

    ``path`` is a file, or the name of a weight-registry entry (e.g. ``demo_reference``), which
    is resolved and checked against its registered sha256. Every sub-network the file holds
    (``generator.*``, ``discriminator.*``, any float precision) is loaded strictly; the identity
    encoder keeps the configured pretrained weights. Returns the parts loaded;
    :class:`TrainUsageError` (one line) for a missing, damaged or mismatching file.
    """
    from reliableswap import weights

    if str(path) in weights.REGISTRY:
        path = weights.verify(str(path))
    state = _read_state(path, "init_weights")
    loaded = []
    for part in ("generator", "discriminator"):
        sub = {k[len(part) + 1 :]: v for k, v in state.items() if k.startswith(part + ".")}
        if sub:
            problem = weights.state_mismatch(getattr(module, part), sub, source=f"init_weights={path} [{part}.*]")
            if problem:
                raise TrainUsageError(problem)
            weights.load_into(getattr(module, part), sub, source=f"{path} [{part}.*]")
            loaded.append(part)
    if not loaded:
        raise TrainUsageError(f"init_weights: {path} holds no generator.*/discriminator.* weights to initialise from")
    log.info("initialised %s from %s", " and ".join(loaded), path)
    return loaded


def log_global_batch(per_process: int, trainer: pl.Trainer) -> int:
    """Log and return the global batch: samples per optimizer step over all processes.

    ``per_process`` is ``data.batch_size`` (one GPU / process). The trainer resolves
    ``devices=-1`` / ``"auto"`` and the nodes into ``trainer.world_size`` (``num_devices x
    num_nodes`` under DDP, 1 on a single device), so the line is exact also on SLURM.
    """
    world, accumulate = int(trainer.world_size), int(trainer.accumulate_grad_batches)
    total = int(per_process) * world * accumulate
    log.info(
        "global batch %d = data.batch_size %d per process x %d process(es) (trainer.world_size: %d device(s) "
        "x %d node(s), as resolved by the trainer) x accumulate_grad_batches %d",
        total, int(per_process), world, int(trainer.num_devices), int(trainer.num_nodes), accumulate,
    )
    return total


def train(cfg: DictConfig) -> TrainResult:
    pl.seed_everything(cfg.seed, workers=True)
    run_dir = Path(cfg.paths.output_dir)

    run = build_run(cfg)
    datamodule, module, callbacks, loggers, trainer = (
        run.datamodule, run.module, run.callbacks, run.loggers, run.trainer
    )

    counts = ", ".join(
        f"{name} {sum(p.numel() for p in child.parameters()) / 1e6:.2f}M"
        for name, child in module.named_children()
        if any(True for _ in child.parameters())
    )
    log.info("run dir: %s | parameters: %s", run_dir, counts)
    log_global_batch(cfg.data.batch_size, trainer)
    # weights_only=True: a resumed checkpoint is read without running arbitrary pickle code.
    trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"), weights_only=True)

    ckpt_dir = run_dir / "checkpoints"
    last = ckpt_dir / "last.ckpt"
    grid = next((c.last_png for c in callbacks if getattr(c, "last_png", None)), None)
    tb_dir = next((Path(lg.log_dir) for lg in loggers if isinstance(lg, pl.loggers.TensorBoardLogger)), None)
    result = TrainResult(
        run_dir=run_dir,
        checkpoint_dir=ckpt_dir,
        last_checkpoint=last if last.is_file() else None,
        final_grid=grid,
        tensorboard_dir=tb_dir,
        global_step=trainer.global_step,
    )
    log.info("finished at step %d", result.global_step)
    log.info("TensorBoard logs: %s  (view with: tensorboard --logdir %s)", tb_dir, tb_dir)
    log.info("last checkpoint: %s", result.last_checkpoint)
    for label, path in _written_files(trainer, callbacks, result):
        log.info("%s: %s", label, path)
    return result


def _written_files(trainer: pl.Trainer, callbacks: list, result: TrainResult) -> list[tuple[str, Path]]:
    """The files and folders the callbacks wrote in this run (those that exist), labelled."""
    from reliableswap.lightning.callbacks import SwapGridLogger
    from reliableswap.lightning.health import HealthMonitor

    root = Path(trainer.default_root_dir)
    found = [("health records", root / c.jsonl) for c in callbacks if isinstance(c, HealthMonitor) and c.jsonl]
    found += [("swap grids", root / c.png_dir) for c in callbacks if isinstance(c, SwapGridLogger) and c.png_dir]
    if result.final_grid is not None:
        found.append(("final swap grid", Path(result.final_grid)))
    return [(label, path) for label, path in found if path.exists()]
