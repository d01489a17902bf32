"""The unit of work every executor runs: train one candidate spec, once per seed.

Plain data in (picklable, for Ray workers), plain data out. Failures of the candidate itself (a spec
that does not build, a non-finite loss, out of memory) become a failed result with the reason;
they never escape to the executor.
"""

from __future__ import annotations

import socket
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypedDict

from nas_scaling.search.outcomes import TaskStatus

__all__ = ["TaskResult", "TrainTask", "run_task"]


@dataclass(frozen=True)
class TrainTask:
    key: str
    spec: dict[str, Any]
    """The candidate as :func:`~nas_scaling.spec.spec_to_dict` wrote it."""
    dataset: str
    train: dict[str, Any]
    """:class:`~nas_scaling.training.TrainConfig` fields (the seed is overridden per seed)."""
    seeds: tuple[int, ...] = (0,)
    data_dir: str | None = None
    subset: float = 1.0
    """Stratified fraction of the training split to train on (picked by the first seed: the same
    images for every candidate of a study)."""


@dataclass(frozen=True)
class TaskResult:
    key: str
    status: TaskStatus
    reason: str | None = None
    val_top1: float | None = None
    """Mean over seeds of the final validation top-1."""
    val_top1_std: float | None = None
    val_top5: float | None = None
    val_loss: float | None = None
    train_seconds: float = 0.0
    per_seed_top1: tuple[float, ...] = field(default_factory=tuple)
    node: str = ""
    """Where it ran: the Ray node id under Ray, the host name otherwise."""
    epochs: int = 0
    """Epochs trained (of the last seed): fewer than asked when stopped early."""
    val_images: int = 0
    """Validation images every score was measured on (for its standard error); 0 when unknown."""
    started_at: float = 0.0
    """When the worker began the task (seconds since the epoch, ``time.time()``); 0 when unknown."""
    import_seconds: float = 0.0
    """Of the task's time, importing torch and the training code (0 in a worker that has them already)."""
    load_seconds: float = 0.0
    """Of ``train_seconds``, loading the dataset (near 0 in a worker that has it cached)."""

    def metrics(self) -> dict[str, float]:
        out = {"train_seconds": self.train_seconds}
        if self.val_images:
            out["val_images"] = float(self.val_images)
        for name in ("val_top1", "val_top1_std", "val_top5", "val_loss"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


class _Timing(TypedDict):
    started_at: float
    import_seconds: float
    load_seconds: float


def run_task(task: TrainTask, *, report: Callable[[int, float], None] | None = None) -> TaskResult:
    """Train ``task``'s spec once per seed; ``report(epoch, val_top1)`` sees every epoch."""
    started_at = time.time()
    began = time.perf_counter()
    import torch

    from nas_scaling.data import load_dataset
    from nas_scaling.models import build_model
    from nas_scaling.spec import spec_from_dict
    from nas_scaling.training import EpochReport, TrainConfig, seed_everything, train

    start = time.perf_counter()
    timing = _Timing(started_at=started_at, import_seconds=start - began, load_seconds=0.0)
    host = socket.gethostname()
    top1: list[float] = []
    top5: list[float] = []
    losses: list[float] = []
    epochs = 0
    try:
        spec = spec_from_dict(task.spec)
        data = load_dataset(
            task.dataset, resolution=spec.resolution, in_channels=spec.in_channels,
            data_dir=None if task.data_dir is None else Path(task.data_dir), subset=task.subset,
            seed=task.seeds[0] if task.seeds else 0,
        )
        timing["load_seconds"] = time.perf_counter() - start
        base_config = TrainConfig(**task.train)
        for seed in task.seeds:
            seed_everything(seed)
            model = build_model(spec)
            callback = None
            if report is not None:
                def callback(r: EpochReport) -> None:
                    report(r.epoch, r.val_top1)  # type: ignore[misc]
            result = train(model, data, replace(base_config, seed=seed), report=callback)
            if result.status != "completed" or result.val_top1 is None:
                stopped = result.status == "stopped"
                return TaskResult(task.key, TaskStatus(result.status), result.reason or "training did not complete",
                                  val_top1=result.val_top1 if stopped else None,
                                  val_top5=result.val_top5 if stopped else None,
                                  train_seconds=time.perf_counter() - start, node=host, epochs=result.epochs_run,
                                  **timing)
            epochs = result.epochs_run
            top1.append(result.val_top1)
            top5.append(result.val_top5 or 0.0)
            losses.append(result.val_loss or 0.0)
    except torch.cuda.OutOfMemoryError as exc:
        return TaskResult(task.key, TaskStatus.FAILED, f"out of memory: {exc}".splitlines()[0],
                          train_seconds=time.perf_counter() - start, node=host, **timing)
    except Exception as exc:  # a candidate that cannot be trained is a failed trial, not a crash
        return TaskResult(task.key, TaskStatus.FAILED, f"{type(exc).__name__}: {exc}".splitlines()[0],
                          train_seconds=time.perf_counter() - start, node=host, **timing)
    return TaskResult(
        task.key,
        TaskStatus.COMPLETED,
        None,
        val_top1=statistics.fmean(top1),
        val_top1_std=statistics.pstdev(top1) if len(top1) > 1 else 0.0,
        val_top5=statistics.fmean(top5),
        val_loss=statistics.fmean(losses),
        train_seconds=time.perf_counter() - start,
        per_seed_top1=tuple(top1),
        node=host,
        epochs=epochs,
        val_images=len(data.val),  # type: ignore[arg-type]
        **timing,
    )
