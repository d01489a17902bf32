"""Handcrafted baselines: train zoo entries or spec files with the grid's proxy schedule.

Each network goes through :func:`~nas_scaling.search.work.run_task`, the same unit of work as a grid
candidate, so its validation accuracy is measured identically, in a
:class:`~nas_scaling.experiments.session.StudySession` (a rerun restores what finished), and becomes
one MLflow run tagged ``kind=handcrafted`` with the param and metric names of grid runs (so
``nas-scaling compare`` can put both in one table).
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from nas_scaling.errors import UserError
from nas_scaling.experiments.inputs import dataset_ref
from nas_scaling.experiments.records import Planned
from nas_scaling.experiments.session import StudySession
from nas_scaling.search.executors import LocalExecutor
from nas_scaling.search.outcomes import Outcome
from nas_scaling.search.study import safe_study_name
from nas_scaling.search.work import TrainTask
from nas_scaling.spec import NetworkSpec, network_to_compact, spec_to_dict
from nas_scaling.tracking import Tracker

__all__ = ["BaselineOptions", "BaselineResult", "StudyInputs", "run_baselines", "study_inputs", "study_name"]


@dataclass(frozen=True)
class BaselineOptions:
    dataset: str = "digits"
    data_dir: str | None = None
    subset: float = 1.0
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
    in_channels: int = 1

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "status": self.status, "reason": self.reason, "val_top1": self.val_top1,
            "val_top1_std": self.val_top1_std, "val_top5": self.val_top5, "macs": self.macs,
            "params": self.params, "resolution": self.resolution, "in_channels": self.in_channels,
            "train_seconds": round(self.train_seconds, 3),
            "arch": self.arch, "run_id": self.run_id,
        }


def study_name(options: BaselineOptions) -> str:
    """Baselines trained the same way share a study: a rerun restores the networks already trained."""
    config = json.dumps([options.dataset, options.seeds, options.seed, sorted(options.train.items()),
                         *([options.subset] if options.subset != 1.0 else [])], default=str)
    return safe_study_name(f"baseline-{options.dataset}-{hashlib.sha256(config.encode()).hexdigest()[:8]}")


def run_baselines(
    specs: Sequence[NetworkSpec],
    options: BaselineOptions,
    *,
    tracker: Tracker,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> list[BaselineResult]:
    """Train each spec (already adapted to the dataset) as a ``kind=handcrafted`` run; networks that
    an earlier run of the same baselines finished are restored, not trained again."""
    from nas_scaling.cost import count_cost

    if options.seeds < 1:
        raise UserError(f"seeds must be a positive integer, got {options.seeds!r}")
    seeds = tuple(options.seed + i for i in range(options.seeds))
    planned = []
    for spec in specs:
        cost = count_cost(spec)
        planned.append(Planned(
            safe_study_name(f"{spec.name}-{network_to_compact(spec)}")[:200], spec, cost.macs, cost.params,
            run_params={"name": spec.name, "dataset": options.dataset, "seeds": options.seeds, "subset": options.subset,
                        **{f"train_{k}": v for k, v in options.train.items()}},
            tags={"dataset": options.dataset}))
    session = StudySession(study_name(options), kind="handcrafted", tracker=tracker, config={}, storage=None,
                           dataset=dataset_ref(options.dataset, subset=options.subset, seed=options.seed),
                           progress=False, unit="network", log=log)
    with session:
        todo = {p.key for p in session.restore(planned)}
        for p in planned:
            if p.key in todo:
                log(f"baseline: training {p.spec.name} ({p.macs / 1e6:.3g} MFLOPs multiply-adds, {p.params:,} "
                    f"params, {p.spec.in_channels}x{p.spec.resolution}x{p.spec.resolution}) on {options.dataset}")
                task = TrainTask(p.key, spec_to_dict(p.spec), options.dataset, dict(options.train), seeds,
                                 options.data_dir, options.subset)
                session.run(LocalExecutor(), [p], [task])
    results = []
    for p in planned:
        record = session.records[p.key]
        if record.outcome is not Outcome.COMPLETE:
            log(f"baseline: {p.spec.name} {record.outcome.value}: {record.reason}")
        results.append(BaselineResult(
            p.spec.name, record.arch, record.result().status.value, record.reason, record.val_top1,
            record.val_top1_std, record.val_top5, p.macs, p.params, p.spec.resolution, record.train_seconds,
            record.mlflow_run_id or "", p.spec.in_channels,
        ))
    return results


@dataclass(frozen=True)
class StudyInputs:
    """How a grid or search study trained its candidates, read back from its MLflow parent run."""

    study: str
    kind: str
    dataset: str
    data_dir: str | None
    resolution: int | None
    subset: float
    train: dict[str, Any]


def study_inputs(tracker: Tracker, study: str) -> StudyInputs:
    """The inputs and proxy training of ``study`` (``baseline --like``), from its parent run."""
    import yaml

    parents = [r for r in tracker.find_runs({"study": study})
               if r.parent_id is None and r.tags.get("kind", "").endswith("-parent")]
    if not parents:
        raise UserError(f"no study {study!r} in the MLflow store (its grid or search parent run); "
                        "see 'nas-scaling compare' for the studies it holds")
    run = min(parents, key=lambda r: (r.start_time, r.run_id))
    params = run.params

    def value(text: str) -> Any:
        return yaml.safe_load(text) if text not in ("", "None") else None

    resolution = value(params.get("resolution", ""))
    return StudyInputs(
        study, run.tags.get("kind", "").removesuffix("-parent"), params.get("dataset", "digits"),
        params.get("data_dir") or None, resolution if isinstance(resolution, int) else None,
        float(value(params.get("subset", "")) or 1.0),
        {k.removeprefix("train_"): value(v) for k, v in params.items() if k.startswith("train_")},
    )
