"""Benchmark runner: swap a protocol's pairs, score them, and write the report.

``run(cfg, swapper, output_dir)`` is what ``test.py`` calls. It writes, under ``output_dir``:

- ``metrics.jsonl`` -- one JSON object per metric: protocol (with its parameters), model name,
  checkpoint, metric, backend + versions, values, status/note, samples scored (``num_samples``) of
  samples seen (``num_total``), seed, time, and provenance (:mod:`.provenance`: ``input_path``,
  ``pairs_sha256``, ``versions`` of torch/reliableswap, ``git_commit``).
  One line per metric so results of many runs can be concatenated and filtered with ``jq``;
- ``metrics.md`` -- the same as a Markdown table, with the protocol stated above it (the spec asks
  for the exact protocol next to every number);
- ``pairs.csv`` (the sampled pairs, hashed into ``pairs_sha256``) and ``dropped.csv`` (input
  images left out before pairing, with the reason);
- ``samples.png`` (``eval.save_grid``) -- labelled rows source | target | result, one column per
  pair with its ``pair_id`` above it;
- TensorBoard scalars ``eval/<protocol>/<metric>/<value>`` when ``eval.tensorboard_dir`` is set.

With ``eval.face_check`` (default on) every result is checked for a face by an independent
detector (:mod:`.face_check`): the first row is ``face_detection_rate`` and pose/expression are
scored only on results with a face (``num_samples`` of ``num_total``).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from reliableswap.evaluation.face_check import FaceCheck, face_check
from reliableswap.evaluation.metrics import MetricResult, SwapBatch, build_metrics, to_uint8
from reliableswap.evaluation.protocols import Protocol, build_protocol
from reliableswap.evaluation.provenance import provenance, write_dropped, write_pairs
from reliableswap.swapping import Swapper, resolve_device

log = logging.getLogger(__name__)

__all__ = ["format_markdown", "run", "save_grid"]


def _get(node: Any, key: str, default: Any = None) -> Any:
    getter = getattr(node, "get", None)
    return getter(key, default) if getter is not None else default


@torch.no_grad()
def _swap(swapper: Swapper, source: torch.Tensor, target: torch.Tensor, device: torch.device) -> torch.Tensor:
    out = swapper.swap(source.to(device), target.to(device))
    if out.shape != target.shape:
        raise ValueError(f"swapper '{swapper.name}' returned {tuple(out.shape)} for inputs {tuple(target.shape)}")
    return out.detach().float().cpu().clamp(-1.0, 1.0)


_FONT = cv2.FONT_HERSHEY_SIMPLEX
_ROW_LABELS = ("source", "target", "result")


def _text_cell(text: str, width: int, height: int, scale: float) -> np.ndarray:
    """A dark ``height x width`` RGB cell with ``text`` in white, left-aligned, vertically centred."""
    cell = np.full((height, width, 3), 40, np.uint8)
    (tw, th), _ = cv2.getTextSize(text, _FONT, scale, 1)
    cv2.putText(cell, text, (3, (height + th) // 2), _FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return cell


def save_grid(path: Path, rows: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]], max_samples: int = 8,
              pair_ids: list[int] | None = None) -> None:
    """Labelled PNG: one column per pair (``pair_id`` of ``pairs.csv`` on top), rows source | target | result.

    ``rows``: ``(source, target, result)`` batches, (B, 3, S, S) in [-1, 1]; ``pair_ids``: the ids
    of the columns (default 0, 1, ...). The labels sit in a header strip and a left column, so the
    images themselves are untouched.
    """
    from reliableswap.io.images import write_image_atomic

    src = torch.cat([r[0] for r in rows])[:max_samples]
    tgt = torch.cat([r[1] for r in rows])[:max_samples]
    swp = torch.cat([r[2] for r in rows])[:max_samples]
    n, size = src.shape[0], src.shape[-1]
    ids = list(pair_ids if pair_ids is not None else range(n))[:n]
    scale = max(0.3, min(0.8, size / 320))
    label_w = max(cv2.getTextSize(t, _FONT, scale, 1)[0][0] for t in (*_ROW_LABELS, "pair_id")) + 8
    head_h = cv2.getTextSize("0", _FONT, scale, 1)[0][1] + 10
    header = [_text_cell("pair_id", label_w, head_h, scale)]
    header += [_text_cell(f"#{i}" if size < 64 else f"pair {i}", size, head_h, scale) for i in ids]
    lines = [np.concatenate(header, axis=1)]
    for label, x in zip(_ROW_LABELS, (src, tgt, swp)):
        lines.append(np.concatenate([_text_cell(label, label_w, size, scale), *to_uint8(x)], axis=1))
    write_image_atomic(path, np.concatenate(lines, axis=0))


def format_markdown(records: list[dict[str, Any]]) -> str:
    """Markdown report: protocol line(s), then one table row per metric."""
    if not records:
        return "No metrics configured.\n"
    head = records[0]
    proto = ", ".join(f"{k}={v}" for k, v in head["protocol"].items() if v is not None)
    lines = [f"# Evaluation of `{head['model']}`", "", f"Protocol: {proto}", ""]
    if head.get("checkpoint"):
        lines += [f"Checkpoint: `{head['checkpoint']}`", ""]
    lines += [f"Input: `{head.get('input_path')}` ({head.get('num_dropped', 0)} images dropped, see dropped.csv); "
              f"pairs.csv sha256 `{head.get('pairs_sha256')}`; commit `{head.get('git_commit')}`", ""]
    lines += ["| metric | backend | values | samples (scored / seen) | status |", "|---|---|---|---|---|"]
    for r in records:
        values = ", ".join(f"{k} {v:.4g}" for k, v in r["values"].items()) or "-"
        status = r["status"] + (f": {r['note']}" if r["note"] else "")
        samples = f"{r['num_samples']} / {r.get('num_total', r['num_samples'])}"
        lines.append(f"| {r['metric']} | {r['backend']} | {values} | {samples} | {status.replace('|', '/')} |")
    backends = {json.dumps(r["backend_info"], sort_keys=True) for r in records}
    lines += ["", "Backends: " + "; ".join(sorted(backends)), ""]
    return "\n".join(lines)


def _records(results: list[MetricResult], protocol: Protocol, swapper: Swapper, checkpoint: str | None,
             origin: dict[str, Any]) -> list[dict[str, Any]]:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    desc = protocol.describe()
    return [{
        "protocol": desc, "model": swapper.name, "checkpoint": checkpoint, "metric": r.metric,
        "backend": r.backend, "values": r.values, "status": r.status, "note": r.note,
        "backend_info": r.backend_info, "num_samples": r.num_samples,
        "num_total": r.num_samples if r.num_total is None else r.num_total, "seed": desc.get("seed"),
        "size": swapper.size, "time": stamp, **origin,
    } for r in results]


def _face_rate(found: int, total: int, enabled: bool) -> MetricResult:
    """The ``face_detection_rate`` row: share of results in which the independent detector finds a face."""
    if not enabled:
        return MetricResult("face_detection_rate", FaceCheck.name, {}, 0, "skipped", "eval.face_check=false",
                            {"backend": FaceCheck.name}, total)
    if not total:
        return MetricResult("face_detection_rate", FaceCheck.name, {}, 0, "skipped", "no samples",
                            face_check().describe(), 0)
    return MetricResult("face_detection_rate", FaceCheck.name,
                        {"rate": found / total, "with_face": float(found), "total": float(total)}, total, "ok",
                        f"a face found in {found} of {total} results", face_check().describe(), total)


def _tensorboard(log_dir: str | Path, records: list[dict[str, Any]]) -> None:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(log_dir))
    try:
        for r in records:
            for key, value in r["values"].items():
                writer.add_scalar(f"eval/{r['protocol']['name']}/{r['metric']}/{key}", value, 0)
    finally:
        writer.close()


def _checker() -> FaceCheck:
    """The shared face check, or an ImportError saying how to run without it."""
    try:
        return face_check()
    except ImportError as exc:
        raise ImportError(f"{exc}; or turn the face check off with eval.face_check=false") from exc


def _write_outputs(output_dir: Path, records: list[dict[str, Any]]) -> None:
    with (output_dir / "metrics.jsonl").open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, sort_keys=True) + "\n")
    (output_dir / "metrics.md").write_text(format_markdown(records), encoding="utf-8")


def run(cfg: Any, swapper: Swapper, output_dir: str | Path) -> list[dict[str, Any]]:
    """Evaluate ``swapper`` on the protocol of ``cfg.eval``; returns the written records.

    ``cfg`` needs ``eval`` (protocol + ``metrics`` + ``batch_size``; optional ``face_check``,
    default true) and ``device``; an optional ``ckpt_path`` (or ``ckpt``, test.py's key) is
    recorded with the numbers.

    Raises:
        ImportError: ``eval.face_check`` without dlib (the ``faces`` extra).
    """
    ev = cfg.eval
    device = resolve_device(_get(cfg, "device", "cpu") or "cpu")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(swapper, torch.nn.Module):
        swapper.to(device).eval()
    protocol = build_protocol(ev)
    write_dropped(output_dir / "dropped.csv", protocol.dropped)
    origin = provenance(protocol, write_pairs(output_dir / "pairs.csv", protocol.pairs))
    checking = bool(_get(ev, "face_check", True))
    checker = _checker() if checking else None
    metrics = build_metrics(_get(ev, "metrics", []) or [], device=device)
    batch_size = int(_get(ev, "batch_size", 8))
    grid_n = int(_get(ev, "grid_samples", 8)) if _get(ev, "save_grid", True) else 0
    grid: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    t0, done, found = time.perf_counter(), 0, 0
    for source, target, pairs in protocol.batches(swapper.size, batch_size):
        swapped = _swap(swapper, source, target, device)
        batch = SwapBatch(source, target, swapped, [p.source_id for p in pairs], [p.target_id for p in pairs],
                          [p.source_key for p in pairs], [p.target_key for p in pairs])
        if checker is not None:
            batch.swap_face = checker.mask(batch.swap_rgb)
            found += int(batch.swap_face.sum())
        for m in metrics:
            m.update(batch)
        if sum(len(g[0]) for g in grid) < grid_n:
            grid.append((source, target, swapped))
        done += len(pairs)
        log.info("evaluated %d / %d pairs (%.1f s)", done, len(protocol.pairs), time.perf_counter() - t0)
    checkpoint = _get(cfg, "ckpt_path") or _get(cfg, "ckpt")
    results = [_face_rate(found, done, checking)] + [m.compute() for m in metrics]
    records = _records(results, protocol, swapper, str(checkpoint) if checkpoint else None, origin)
    _write_outputs(output_dir, records)
    if grid:
        save_grid(output_dir / "samples.png", grid, grid_n)
    tb = _get(ev, "tensorboard_dir")
    if tb:
        _tensorboard(tb, records)
    for r in records:
        log.info("%s [%s] %s %s", r["metric"], r["backend"], r["status"], r["values"] or r["note"])
    return records
