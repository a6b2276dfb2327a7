"""Training health monitor: does the model swap faces yet, judged by networks it never trained with?

A loss going down is not a swap. The most common failure of face-swap training is a generator
that ignores the identity vector and returns (a blur of) the target; every loss term but identity
is happy with that. Every ``every_n_steps`` this callback swaps a fixed set of pairs of *held-out*
people (the data module's validation identities, never trained on) and records:

- ``health/id_top1``, ``health/id_distance_to_source`` -- identity retrieval of the swap among
  the set's sources, with an *independent* recognizer (dlib's descriptor by default, offline;
  ``cosface`` or any encoder node via ``judge``), next to the same numbers for the copy-target
  baseline (``health/baseline/*``, logged once);
- ``health/identity_sensitivity`` -- ``mean |G(t, E(s)) - G(t, E(t))|`` over the set, pixels in
  [-1, 1]: how much the output depends on the identity vector at all. 0 = dead identity path;
- ``health/pose_error_deg``, ``health/expression_error`` -- 3DDFA-V2 head-pose (L2 of yaw/pitch/
  roll differences, degrees) and expression-coefficient error of swap vs target (skipped, once
  with the reason, when the 3DDFA-V2 weights are missing);
- ``health/d_real``, ``health/d_fake`` -- the discriminator's mean score of the real targets and
  the swaps of the set, and ``health/d_loss_mean`` (training D loss over the last interval): the
  D/G balance.

It warns in the log when, after ``warn_after_steps``, the model is a no-swap copy of the target
(identity sensitivity below ``min_sensitivity``, or swaps nearer their target's identity than their
source's with retrieval at chance level), and when D has been saturated (mean D loss below
``saturated_d_loss``) for ``saturated_steps``. Each record goes to TensorBoard and, as one JSON
line, to ``<run dir>/health.jsonl`` (the study script reads it).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch import Tensor

log = logging.getLogger(__name__)

__all__ = ["HealthMonitor", "identity_sensitivity", "no_swap_reason"]


@torch.no_grad()
def identity_sensitivity(generator: Any, identity: Any, source: Tensor, target: Tensor) -> float:
    """``mean |G(t, E(s)) - G(t, E(t))|`` (pixels in [-1, 1]); 0 when G ignores its identity input."""
    z_source, z_target = identity(source), identity(target)
    swapped, _ = generator(target, z_source)
    own, _ = generator(target, z_target)
    return float((swapped - own).abs().mean())


def no_swap_reason(
    sensitivity: float,
    distance_to_source: float | None,
    distance_to_target: float | None,
    top1: float | None,
    chance: float | None,
    min_sensitivity: float,
) -> str | None:
    """Why a model counts as a no-swap copy of the target, or ``None`` when it does not.

    Dead identity path: ``sensitivity < min_sensitivity``. Copy of the target: the judge puts the
    swaps nearer their target than their source, and retrieval is no better than twice chance.
    """
    if sensitivity < min_sensitivity:
        return f"identity sensitivity {sensitivity:.2e} < {min_sensitivity:g}: the output ignores the identity vector"
    if None not in (distance_to_source, distance_to_target, top1, chance):
        if distance_to_target < distance_to_source and top1 <= 2 * chance:  # type: ignore[operator]
            return (
                f"swaps are nearer their target ({distance_to_target:.3f}) than their source "
                f"({distance_to_source:.3f}) and top-1 retrieval {top1:.3f} is at chance ({chance:.3f})"
            )
    return None


class HealthMonitor(pl.Callback):
    """See the module docstring. ``judge``: ``dlib`` | ``cosface`` | a Hydra node of an identity
    encoder (``{"backend": "encoder", "encoder": {...}}``); ``pose: false`` skips 3DDFA-V2."""

    def __init__(
        self,
        every_n_steps: int = 500,
        num_pairs: int = 40,
        seed: int = 0,
        batch_size: int = 20,
        judge: str | Mapping[str, Any] = "dlib",
        pose: bool = True,
        warn_after_steps: int = 2000,
        min_sensitivity: float = 1e-3,
        saturated_d_loss: float = 0.05,
        saturated_steps: int = 1000,
        jsonl: str | None = "health.jsonl",
    ) -> None:
        self.every_n_steps = int(every_n_steps)
        self.num_pairs = int(num_pairs)
        self.seed = int(seed)
        self.batch_size = int(batch_size)
        self.judge = judge
        self.pose = bool(pose)
        self.warn_after_steps = int(warn_after_steps)
        self.min_sensitivity = float(min_sensitivity)
        self.saturated_d_loss = float(saturated_d_loss)
        self.saturated_steps = int(saturated_steps)
        self.jsonl = jsonl
        self._pairs: tuple[Tensor, Tensor, list[str], list[str]] | None = None
        self._d_losses: list[float] = []
        self._saturated_since: int | None = None
        self._last_step: int | None = None
        self.records: list[dict[str, Any]] = []
        self.baseline: dict[str, float] = {}

    # -- the fixed held-out set ------------------------------------------------------------------
    def _load_pairs(self, trainer: pl.Trainer) -> tuple[Tensor, Tensor, list[str], list[str]] | None:
        datamodule = getattr(trainer, "datamodule", None)
        if datamodule is None or not hasattr(datamodule, "heldout_pairs"):
            log.warning("health monitor off: the data module has no held-out pairs (heldout_pairs)")
            return None
        try:
            pairs = datamodule.heldout_pairs(self.num_pairs, seed=self.seed)
        except ValueError as exc:
            log.warning("health monitor off: %s", exc)
            return None
        items = [pairs[i] for i in range(len(pairs))]
        source = torch.stack([it["source"] for it in items])
        target = torch.stack([it["target"] for it in items])
        return source, target, [it["source_id"] for it in items], [it["source_path"] for it in items]

    def _metrics(self) -> list[Any]:
        from reliableswap.evaluation.metrics import ExpressionError, TDDFAPoseError, build_metrics, id_retrieval_node, node_of

        specs: list[Any] = [id_retrieval_node(self.judge, topk=[1])]
        if self.pose:
            specs += [node_of(TDDFAPoseError), node_of(ExpressionError)]
        return build_metrics(specs)

    def _judge_set(self, source: Tensor, target: Tensor, swap: Tensor, ids: list[str], keys: list[str]) -> dict[str, float]:
        """Judge swaps of the held-out set with fresh metrics (so each record stands alone)."""
        from reliableswap.evaluation.metrics import SwapBatch

        metrics = self._metrics()
        for lo in range(0, len(ids), self.batch_size):
            sl = slice(lo, lo + self.batch_size)
            target_keys = [f"t{i}" for i in range(lo, lo + len(ids[sl]))]
            batch = SwapBatch(source[sl], target[sl], swap[sl], ids[sl], target_keys, keys[sl], target_keys)
            for metric in metrics:
                metric.update(batch)
        out: dict[str, float] = {}
        for metric in metrics:
            result = metric.compute()
            if result.status != "ok":
                if not self.baseline:  # say it once, at the first record
                    log.warning("health monitor: %s skipped (%s)", result.metric, result.note)
                continue
            v = result.values
            if result.metric == "id_retrieval":
                out["id_top1"] = v["top1"]
                out["id_chance"] = v["chance_top1"]
                out["id_distance_to_source"] = _retrieval_distance(v)
                out["id_distance_to_target"] = metric.distance_to(target)  # same scale, swaps not re-described
            elif result.metric == "pose_error":
                out["pose_error_deg"] = v["l2"]
            elif result.metric == "expression_error":
                out["expression_error"] = v["l2"]
        return out

    # -- one record --------------------------------------------------------------------------------
    @torch.no_grad()
    def measure(self, pl_module: pl.LightningModule, step: int) -> dict[str, Any]:
        """Swap the held-out set with ``pl_module`` (eval mode) and judge it; one record."""
        assert self._pairs is not None
        source, target, ids, keys = self._pairs
        was_training = pl_module.training
        pl_module.eval()
        try:
            device = pl_module.device
            swaps, sens, d_real, d_fake = [], [], [], []
            for lo in range(0, source.shape[0], self.batch_size):
                s = source[lo : lo + self.batch_size].to(device)
                t = target[lo : lo + self.batch_size].to(device)
                swap = pl_module.swap(s, t)
                swaps.append(swap.float().cpu())
                sens.append(identity_sensitivity(pl_module.generator, pl_module.identity, s, t) * s.shape[0])
                d_real.append(_mean_score(pl_module.discriminator(t)) * s.shape[0])
                d_fake.append(_mean_score(pl_module.discriminator(swap)) * s.shape[0])
        finally:
            pl_module.train(was_training)
        swap = torch.cat(swaps)
        n = source.shape[0]
        record: dict[str, Any] = {"step": int(step), "identity_sensitivity": float(sum(sens) / n)}
        record.update(self._judge_set(source, target, swap, ids, keys))
        record["d_real"] = float(sum(d_real) / n)
        record["d_fake"] = float(sum(d_fake) / n)
        if self._d_losses:
            record["d_loss_mean"] = float(np.mean(self._d_losses))
        return record

    def _baseline(self) -> dict[str, float]:
        """The copy-target baseline on the same set (what a no-swap model scores)."""
        assert self._pairs is not None
        source, target, ids, keys = self._pairs
        base = self._judge_set(source, target, target, ids, keys)
        base["identity_sensitivity"] = 0.0
        return base

    # -- Lightning hooks ---------------------------------------------------------------------------
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        # The judges run OpenCV in this process; a thread pool started here makes the DataLoader
        # workers forked later (validation) deadlock inside OpenCV. Serial OpenCV costs ~nothing.
        import cv2

        cv2.setNumThreads(1)
        self._pairs = self._load_pairs(trainer)
        if self._pairs is None:
            return
        self.baseline = self._baseline()
        log.info(
            "health monitor: %d held-out pairs every %d steps; copy-target baseline %s",
            self._pairs[0].shape[0], self.every_n_steps, _fmt(self.baseline),
        )
        self._log(trainer, {f"baseline/{k}": v for k, v in self.baseline.items()}, trainer.global_step)
        self._record(trainer, pl_module, trainer.global_step)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx: int) -> None:
        if self._pairs is None:
            return
        step = trainer.global_step
        d_loss = trainer.callback_metrics.get("train/d_loss")
        if d_loss is not None:
            self._d_losses.append(float(d_loss))
            self._check_saturation(float(d_loss), step)
        if step % self.every_n_steps == 0 and step != self._last_step:
            self._record(trainer, pl_module, step)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._pairs is not None and trainer.global_step != self._last_step:
            self._record(trainer, pl_module, trainer.global_step)

    def _check_saturation(self, d_loss: float, step: int) -> None:
        if d_loss >= self.saturated_d_loss:
            self._saturated_since = None
            return
        if self._saturated_since is None:
            self._saturated_since = step
        elif step - self._saturated_since == self.saturated_steps:
            log.warning(
                "health: the discriminator has been saturated (D loss < %g) for %d steps: it no longer "
                "pulls the generator; consider a lower model.lr_d or a smaller adversarial weight",
                self.saturated_d_loss, self.saturated_steps,
            )

    def _record(self, trainer: pl.Trainer, pl_module: pl.LightningModule, step: int) -> None:
        self._last_step = step
        record = self.measure(pl_module, step)
        self._d_losses = []
        self.records.append(record)
        self._log(trainer, {k: v for k, v in record.items() if k != "step"}, step)
        log.info("health at step %d: %s", step, _fmt(record))
        if step >= self.warn_after_steps:
            reason = no_swap_reason(
                record["identity_sensitivity"], record.get("id_distance_to_source"), record.get("id_distance_to_target"),
                record.get("id_top1"), record.get("id_chance"), self.min_sensitivity,
            )
            if reason:
                log.warning("health: no swap at step %d -- the model returns the target: %s", step, reason)
                record["no_swap"] = reason
        if self.jsonl:
            path = Path(trainer.default_root_dir) / self.jsonl
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(record, sort_keys=True) + "\n")

    @staticmethod
    def _log(trainer: pl.Trainer, values: Mapping[str, float], step: int) -> None:
        scalars = {f"health/{k}": float(v) for k, v in values.items() if isinstance(v, (int, float))}
        for logger in trainer.loggers:
            logger.log_metrics(scalars, step=step)


def _retrieval_distance(values: Mapping[str, float]) -> float:
    """Mean distance of swaps to their reference from ``id_retrieval`` values (dlib: Euclidean;
    encoders: 1 - cosine)."""
    return values["distance_to_source"] if "distance_to_source" in values else 1.0 - values["cosine_to_source"]


def _mean_score(outputs: Any) -> float:
    """Mean of a (multi-scale) discriminator's final maps: each scale's last output tensor."""
    finals = [o[-1] if isinstance(o, (list, tuple)) else o for o in outputs]
    return float(torch.stack([f.float().mean() for f in finals]).mean())


def _fmt(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())
