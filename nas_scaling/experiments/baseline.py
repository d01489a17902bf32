"""Handcrafted baselines: train zoo entries or spec files with the grid's proxy schedule.

Each network goes through :func:`~nas_scaling.search.work.run_task`, the same unit of work as a grid
candidate, so its validation accuracy is measured identically, and becomes one MLflow run tagged
``kind=handcrafted`` with the param and metric names of grid runs (so ``nas-scaling compare`` can
put both in one table).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas_scaling.errors import UserError
from nas_scaling.search.work import TrainTask, run_task
from nas_scaling.spec import NetworkSpec, network_to_compact, save_spec, spec_to_dict
from nas_scaling.tracking import Tracker

__all__ = ["BaselineOptions", "BaselineResult", "run_baselines"]


@dataclass(frozen=True)
class BaselineOptions:
    dataset: str = "digits"
    data_dir: str | None = None
    seeds: int = 1
    seed: int = 0
    train: dict[str, Any] = field(default_factory=dict)
    """TrainConfig fields of the proxy runs (the grid's by default)."""


@dataclass(frozen=True)
class BaselineResult:
    name: str
    arch: str
    status: str
    reason: str | None
    val_top1: float | None
    val_top1_std: float | None
    val_top5: float | None
    macs: int
    params: int
    resolution: int
    train_seconds: float
    run_id: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "status": self.status, "reason": self.reason, "val_top1": self.val_top1,
            "val_top1_std": self.val_top1_std, "val_top5": self.val_top5, "macs": self.macs,
            "params": self.params, "resolution": self.resolution, "train_seconds": round(self.train_seconds, 3),
            "arch": self.arch, "run_id": self.run_id,
        }


def run_baselines(
    specs: Sequence[NetworkSpec],
    options: BaselineOptions,
    *,
    tracker: Tracker,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> list[BaselineResult]:
    """Train each spec (already adapted to the dataset) and log it as a ``kind=handcrafted`` run."""
    from nas_scaling.cost import count_cost

    if options.seeds < 1:
        raise UserError(f"seeds must be a positive integer, got {options.seeds!r}")
    seeds = tuple(options.seed + i for i in range(options.seeds))
    folder = Path(tempfile.mkdtemp(prefix="nas-scaling-baseline-"))
    results = []
    for i, spec in enumerate(specs):
        cost = count_cost(spec)
        arch = network_to_compact(spec)
        log(f"baseline: training {spec.name} ({cost.macs / 1e6:.3g} MFLOPs multiply-adds, {cost.params:,} params, "
            f"{spec.resolution}x{spec.resolution}) on {options.dataset}")
        task = TrainTask(spec.name, spec_to_dict(spec), options.dataset, dict(options.train), seeds, options.data_dir)
        result = run_task(task)
        run_id = tracker.start_run(spec.name, tags={"kind": "handcrafted", "dataset": options.dataset})
        tracker.log(run_id, params={
            "arch": arch, "name": spec.name, "dataset": options.dataset, "seeds": options.seeds,
            "resolution": spec.resolution, **{f"train_{k}": v for k, v in options.train.items()},
        }, metrics={**result.metrics(), "macs": float(cost.macs), "params": float(cost.params)},
            tags={"status_reason": result.reason or "", "node": result.node})
        tracker.log_artifact(run_id, save_spec(spec, folder / str(i) / "spec.yaml"))
        tracker.end_run(run_id, "FINISHED" if result.status == "completed" else "FAILED")
        if result.status != "completed":
            log(f"baseline: {spec.name} {result.status}: {result.reason}")
        results.append(BaselineResult(
            spec.name, arch, result.status, result.reason, result.val_top1, result.val_top1_std, result.val_top5,
            cost.macs, cost.params, spec.resolution, result.train_seconds, run_id,
        ))
    return results
