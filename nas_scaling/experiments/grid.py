"""``nas-scaling grid``: train every planned (alpha, beta, gamma), rank them, extrapolate phi = 1..N.

Every candidate is one Optuna trial (written when finished) and one MLflow child run under a parent
run for the grid. Rerunning with the same study name resumes: finished candidates are not trained
again, and a candidate whose MLflow run finished but whose trial was never written (a crash between
the two writes) is restored from MLflow instead of retrained.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas_scaling.cost import Budget
from nas_scaling.errors import UserError
from nas_scaling.experiments.grid_plan import (
    DEFAULT_MAX_CANDIDATES,
    DEFAULT_STEP,
    DEFAULT_TOLERANCE,
    Candidate,
    FamilyMember,
    GridPlan,
    extrapolate_family,
    plan_grid,
)
from nas_scaling.experiments.inputs import DataOptions, dataset_label, dataset_ref
from nas_scaling.experiments.records import Planned
from nas_scaling.experiments.session import StudySession
from nas_scaling.search.executors import ExecutionOptions
from nas_scaling.search.outcomes import Outcome
from nas_scaling.search.study import safe_study_name
from nas_scaling.search.work import TrainTask
from nas_scaling.spec import NetworkSpec, network_to_compact, spec_to_dict
from nas_scaling.tracking import Tracker

if TYPE_CHECKING:
    from nas_scaling.experiments.prescreen import PrescreenOptions

__all__ = ["GridOptions", "GridResult", "RankedCandidate", "default_study_name", "run_grid", "write_grid_outputs"]


@dataclass(frozen=True, kw_only=True)
class GridOptions(ExecutionOptions, DataOptions):
    budget: Budget
    step: float = DEFAULT_STEP
    tolerance: float = DEFAULT_TOLERANCE
    max_candidates: int | None = DEFAULT_MAX_CANDIDATES
    seeds: int = 1
    phi_max: int = 7
    prescreen: PrescreenOptions | None = None
    """Plan up to ``samples`` candidates (instead of ``max_candidates``), train the proxy's top ``train_top``."""


@dataclass(frozen=True)
class RankedCandidate:
    candidate: Candidate
    val_top1_mean: float | None
    val_top1_std: float | None
    val_top5: float | None
    train_seconds: float | None
    status: str
    run_id: str | None


@dataclass(frozen=True)
class GridResult:
    study: str
    budget: str
    plan: GridPlan
    ranked: list[RankedCandidate]
    best: RankedCandidate
    family: list[FamilyMember]
    trained: int
    restored: int
    failed: int
    parent_run_id: str
    plot: Path | None

    def to_json(self) -> dict[str, Any]:
        b = self.best.candidate
        return {
            "study": self.study,
            "budget": self.budget,
            "target_factor": self.plan.target_factor,
            "base_macs": self.plan.base_macs,
            "base_params": self.plan.base_params,
            "best": {"alpha": b.alpha, "beta": b.beta, "gamma": b.gamma},
            "candidates": [
                {
                    "alpha": r.candidate.alpha, "beta": r.candidate.beta, "gamma": r.candidate.gamma,
                    "factor_theoretical": r.candidate.factor_theoretical, "factor_real": r.candidate.factor_real,
                    "macs": r.candidate.macs, "params": r.candidate.params, "resolution": r.candidate.spec.resolution,
                    "val_top1_mean": r.val_top1_mean, "val_top1_std": r.val_top1_std, "status": r.status,
                }
                for r in self.ranked
            ],
            "family": [
                {"phi": m.phi, "depth": m.depth, "width": m.width, "resolution": m.resolution, "params": m.params,
                 "macs": m.macs}
                for m in self.family
            ],
            "trained": self.trained,
            "restored": self.restored,
            "failed": self.failed,
        }


def default_study_name(base: NetworkSpec, options: GridOptions) -> str:
    return safe_study_name(f"grid-{base.name}-{options.budget}-{dataset_label(options.dataset)}")


def _study_config(base: NetworkSpec, options: GridOptions) -> dict[str, Any]:
    """What must match for a study to be resumed (candidates trained the same way)."""
    return {
        "kind": "grid",
        "base": network_to_compact(base),
        "budget": str(options.budget),
        "dataset": options.dataset,
        "seeds": options.seeds,
        "seed": options.seed,
        "train": {k: v for k, v in sorted(options.train.items()) if k not in ("threads", "concurrent_trials")},
        **({"subset": options.subset} if options.subset != 1.0 else {}),
    }


def _plan(base: NetworkSpec, options: GridOptions, log: Callable[[str], None]) -> tuple[GridPlan, list[Planned]]:
    """The grid's candidates (prescreened when asked) as the session's planned candidates."""
    screen = options.prescreen
    plan = plan_grid(base, options.budget, step=options.step, tolerance=options.tolerance,
                     max_candidates=options.max_candidates if screen is None else screen.samples)
    screened: dict[str, dict[str, float]] = {}  # candidate key -> proxy scores and rank
    if screen is not None:
        from nas_scaling.experiments.prescreen import prescreen_plan

        plan, screened = prescreen_plan(plan, screen, dataset=options.dataset, data_dir=options.data_dir,
                                        seed=options.seed, log=log)
    planned = [
        Planned(
            c.key, c.spec, c.macs, c.params, trial_params={"alpha": c.alpha, "beta": c.beta, "gamma": c.gamma},
            run_params={"alpha": c.alpha, "beta": c.beta, "gamma": c.gamma, "phi": 1, "budget": str(options.budget),
                        "base": base.name, "dataset": options.dataset, "seeds": options.seeds,
                        "subset": options.subset},
            known={"factor_real": c.factor_real, "factor_theoretical": c.factor_theoretical,
                   **screened.get(c.key, {})},
        )
        for c in plan.candidates
    ]
    return plan, planned


def run_grid(
    base: NetworkSpec,
    options: GridOptions,
    *,
    tracker: Tracker,
    output: Path | None = None,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> GridResult:
    """Plan, train (resuming), rank, extrapolate; with ``output``, write the JSON and its plot there."""
    if options.seeds < 1:
        raise UserError(f"seeds must be a positive integer, got {options.seeds!r}")
    plan, planned = _plan(base, options, log)
    log(
        f"grid: base {base.name} ({plan.base_macs / 1e6:.3g} MFLOPs multiply-adds, {plan.base_params:,} params), "
        f"budget {options.budget} = {plan.target_factor:.3g}x; {plan.considered} grid points within "
        f"{options.tolerance:.0%} in theory, {plan.considered - plan.dropped_real} in real MACs, "
        f"{plan.considered - plan.dropped_real - plan.duplicates} distinct networks; training {len(plan.candidates)}"
    )
    study_name = options.study or default_study_name(base, options)
    session = StudySession(
        study_name, kind="grid", tracker=tracker, config=_study_config(base, options), storage=options.storage,
        dataset=dataset_ref(options.dataset, subset=options.subset, seed=options.seed),
        parent_params={
            "base": base.name, "budget": str(options.budget), "dataset": options.dataset, "step": options.step,
            "data_dir": options.data_dir or "", "resolution": base.resolution, "in_channels": base.in_channels,
            "subset": options.subset,
            "tolerance": options.tolerance, "seeds": options.seeds, "executor": options.executor,
            **{f"train_{k}": v for k, v in options.train.items()},
        },
        progress=options.progress, log=log,
    )
    with session:
        for line in options.inputs:
            log(f"grid: {line}")
        todo = session.restore(planned)
        seeds = tuple(options.seed + i for i in range(options.seeds))
        tasks = [TrainTask(p.key, spec_to_dict(p.spec), options.dataset, dict(options.train), seeds, options.data_dir,
                           options.subset) for p in todo]
        session.run(options.make_executor(max_concurrent=len(todo) or None), planned, tasks)
        session.close_progress()
        result = _rank(base, options, plan, session, trained=len(tasks))
        if result.best.val_top1_mean is None:
            session.fail(f"every grid candidate failed to train; see the failed trials of study {study_name!r}")
        files = write_grid_outputs(result, output) if output is not None else []
        bc = result.best.candidate
        session.finish(params={"best_alpha": bc.alpha, "best_beta": bc.beta, "best_gamma": bc.gamma},
                       metrics={"best_val_top1": result.best.val_top1_mean or 0.0,
                                "candidates": float(len(result.ranked)), "failed": float(result.failed)},
                       artifacts=files)
    return replace(result, plot=files[1] if files else None)


def _rank(
    base: NetworkSpec, options: GridOptions, plan: GridPlan, session: StudySession, *, trained: int
) -> GridResult:
    completed = session.completed()
    ranked = []
    for c in plan.candidates:
        record = completed.get(c.key)
        if record is None:
            ranked.append(RankedCandidate(c, None, None, None, None, "failed", None))
            continue
        ranked.append(RankedCandidate(c, record.val_top1, record.val_top1_std, record.val_top5, record.train_seconds,
                                      "completed", record.mlflow_run_id))
    ranked.sort(key=lambda r: (r.val_top1_mean is None, -(r.val_top1_mean or 0.0), r.candidate.macs))
    best = ranked[0]
    bc = best.candidate
    family = extrapolate_family(base, alpha=bc.alpha, beta=bc.beta, gamma=bc.gamma, phi_max=options.phi_max)
    failed = sum(1 for r in session.records.values() if r.outcome is not Outcome.COMPLETE)
    return GridResult(session.name, str(options.budget), plan, ranked, best, family, trained, session.restored,
                      failed, session.parent_id, None)


def write_grid_outputs(result: GridResult, output: Path) -> list[Path]:
    """``output`` (the result as JSON), the PNG plot and ``best.yaml`` (the chosen candidate's spec) beside
    it; returns the three paths."""
    import json

    from nas_scaling.experiments.plots import plot_grid
    from nas_scaling.spec import save_spec

    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    plot = output.with_suffix(".png")
    plot_grid(result, plot)
    return [output, plot, save_spec(result.best.candidate.spec, output.with_name("best.yaml"))]


