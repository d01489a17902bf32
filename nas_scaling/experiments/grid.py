"""``nas-scaling grid``: train every planned (alpha, beta, gamma), rank them, extrapolate phi = 1..N.

Every candidate is one Optuna trial (written when finished) and one MLflow child run under a parent
run for the grid. Rerunning with the same study name resumes: finished candidates are not trained
again, and a candidate whose MLflow run finished but whose trial was never written (a crash between
the two writes) is restored from MLflow instead of retrained.
"""

from __future__ import annotations

import contextlib
import math
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
from nas_scaling.search.executors import ExecutionOptions, Executor
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
    approximately: bool = False
    """The budget as the paper's "approximately" (within ``tolerance`` either side) instead of an upper limit."""
    seeds: int = 1
    phi_max: int = 7
    prescreen: PrescreenOptions | None = None
    """Plan up to ``samples`` candidates (instead of ``max_candidates``), train the proxy's top ``train_top``."""


TIED_WITHIN = 2.0
"""Candidates within this many standard errors of the difference from the best are tied with it."""


@dataclass(frozen=True)
class RankedCandidate:
    candidate: Candidate
    val_top1_mean: float | None
    val_top1_std: float | None
    val_top5: float | None
    train_seconds: float | None
    status: str
    run_id: str | None
    val_images: int = 0
    seeds: int = 1

    @property
    def standard_error(self) -> float | None:
        """Standard error of the mean validation top-1: the binomial noise of ``val_images`` images
        plus the spread over seeds (sample variance / seeds); None when not trained or the count is unknown."""
        p = self.val_top1_mean
        if p is None or not self.val_images:
            return None
        seed_var = (self.val_top1_std or 0.0) ** 2 * self.seeds / (self.seeds - 1) if self.seeds > 1 else 0.0
        return math.sqrt(p * (1 - p) / self.val_images + seed_var / self.seeds)

    def tied_with(self, best: RankedCandidate) -> bool:
        """Whether this candidate's accuracy is within :data:`TIED_WITHIN` standard errors of ``best``'s."""
        if self.val_top1_mean is None or best.val_top1_mean is None:
            return False
        se, best_se = self.standard_error, best.standard_error
        if se is None or best_se is None:
            return self.val_top1_mean == best.val_top1_mean
        return best.val_top1_mean - self.val_top1_mean <= TIED_WITHIN * math.hypot(se, best_se)


@dataclass(frozen=True)
class GridResult:
    study: str
    budget: str
    plan: GridPlan
    ranked: list[RankedCandidate]
    best: RankedCandidate
    base: RankedCandidate
    """The base itself (phi = 0), trained under the same schedule: the control every gain is measured from."""
    family: list[FamilyMember]
    trained: int
    restored: int
    failed: int
    parent_run_id: str
    plot: Path | None

    def gain(self, r: RankedCandidate) -> float | None:
        """``r``'s validation top-1 minus the base's (phi = 0, same schedule)."""
        if r.val_top1_mean is None or self.base.val_top1_mean is None:
            return None
        return r.val_top1_mean - self.base.val_top1_mean

    @property
    def tied(self) -> list[RankedCandidate]:
        """The candidates other than the best whose accuracy is within noise of it
        (:meth:`RankedCandidate.tied_with`)."""
        return [r for r in self.ranked if r is not self.best and r.tied_with(self.best)]

    def _row(self, r: RankedCandidate) -> dict[str, Any]:
        c = r.candidate
        return {
            "alpha": c.alpha, "beta": c.beta, "gamma": c.gamma, "factor_theoretical": c.factor_theoretical,
            "factor_real": c.factor_real, "macs": c.macs, "params": c.params, "resolution": c.spec.resolution,
            "val_top1_mean": r.val_top1_mean, "val_top1_std": r.val_top1_std, "val_top1_se": r.standard_error,
            "val_images": r.val_images, "gain_over_base": self.gain(r), "tied_with_best": r.tied_with(self.best),
            "status": r.status,
        }

    def to_json(self) -> dict[str, Any]:
        b = self.best.candidate
        return {
            "study": self.study,
            "budget": self.budget,
            "budget_reading": "approximately" if self.plan.approximately else "at most",
            "tolerance": self.plan.tolerance,
            "target_factor": self.plan.target_factor,
            "base_macs": self.plan.base_macs,
            "base_params": self.plan.base_params,
            "best": {"alpha": b.alpha, "beta": b.beta, "gamma": b.gamma},
            "base": {k: v for k, v in self._row(self.base).items() if k not in ("gain_over_base", "tied_with_best")},
            "candidates": [self._row(r) for r in self.ranked],
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


def base_candidate(plan: GridPlan) -> Candidate:
    """The base as the grid point (1, 1, 1): the control, trained like every candidate."""
    return Candidate(1.0, 1.0, 1.0, 1.0, 1.0, plan.base_macs, plan.base_params, plan.base)


def _plan(
    base: NetworkSpec, options: GridOptions, log: Callable[[str], None], executor: Executor
) -> tuple[GridPlan, list[Planned]]:
    """The grid's candidates (prescreened when asked) and the base (phi = 0, the control) as the
    session's planned candidates. Once the grid is known to be plannable, ``executor`` is started,
    so that Ray's start-up overlaps the prescreening and the opening of the study."""
    screen = options.prescreen
    plan = plan_grid(base, options.budget, step=options.step, tolerance=options.tolerance,
                     max_candidates=options.max_candidates if screen is None else screen.samples,
                     approximately=options.approximately)
    executor.start()
    screened: dict[str, dict[str, float]] = {}  # candidate key -> proxy scores and rank
    if screen is not None:
        from nas_scaling.experiments.prescreen import prescreen_plan

        plan, screened = prescreen_plan(plan, screen, dataset=options.dataset, data_dir=options.data_dir,
                                        seed=options.seed, log=log)
    control = base_candidate(plan)
    candidates = [c for c in plan.candidates if c.key != control.key]  # a 1x budget may plan the base itself
    planned = [
        Planned(
            c.key, c.spec, c.macs, c.params, trial_params={"alpha": c.alpha, "beta": c.beta, "gamma": c.gamma},
            run_params={"alpha": c.alpha, "beta": c.beta, "gamma": c.gamma, "phi": 0 if c is control else 1,
                        "budget": str(options.budget),
                        "base": base.name, "dataset": options.dataset, "seeds": options.seeds,
                        "subset": options.subset},
            known={"factor_real": c.factor_real, "factor_theoretical": c.factor_theoretical,
                   **screened.get(c.key, {})},
            tags={"control": "base"} if c is control else {},
        )
        for c in [control, *candidates]
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
    with contextlib.closing(options.make_executor()) as executor:  # stopped after the session's last write
        return _run_grid(base, options, executor, tracker=tracker, output=output, log=log)


def _run_grid(
    base: NetworkSpec,
    options: GridOptions,
    executor: Executor,
    *,
    tracker: Tracker,
    output: Path | None,
    log: Callable[[str], None],
) -> GridResult:
    plan, planned = _plan(base, options, log, executor)
    log(
        f"grid: base {base.name} ({plan.base_macs / 1e6:.3g} MFLOPs multiply-adds, {plan.base_params:,} params), "
        f"budget {options.budget} = {plan.target_factor:.3g}x ({'approximately' if plan.approximately else 'at most'}"
        f"); {plan.considered} grid points up to {plan.target_factor * (1 + options.tolerance):.3g}x in theory, "
        f"{plan.considered - plan.dropped_real} {plan.window()} in real MACs, "
        f"{plan.considered - plan.dropped_real - plan.duplicates} distinct networks; "
        f"training {len(planned) - 1} and the base (phi = 0, the control)"
    )
    study_name = options.study or default_study_name(base, options)
    session = StudySession(
        study_name, kind="grid", tracker=tracker, config=_study_config(base, options), storage=options.storage,
        dataset=dataset_ref(options.dataset, subset=options.subset, seed=options.seed),
        parent_params={
            "base": base.name, "budget": str(options.budget), "dataset": options.dataset, "step": options.step,
            "data_dir": options.data_dir or "", "resolution": base.resolution, "in_channels": base.in_channels,
            "subset": options.subset,
            "tolerance": options.tolerance, "approximately": options.approximately, "seeds": options.seeds,
            "executor": options.executor,
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
        session.run(executor, planned, tasks)
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

    def ranked_one(c: Candidate) -> RankedCandidate:
        record = completed.get(c.key)
        if record is None:
            return RankedCandidate(c, None, None, None, None, "failed", None, seeds=options.seeds)
        return RankedCandidate(c, record.val_top1, record.val_top1_std, record.val_top5, record.train_seconds,
                               "completed", record.mlflow_run_id, record.val_images, options.seeds)

    control = ranked_one(base_candidate(plan))
    ranked = [ranked_one(c) for c in plan.candidates if c.key != control.candidate.key]
    ranked.sort(key=lambda r: (r.val_top1_mean is None, -(r.val_top1_mean or 0.0), r.candidate.macs))
    best = ranked[0] if ranked else control
    bc = best.candidate
    family = extrapolate_family(base, alpha=bc.alpha, beta=bc.beta, gamma=bc.gamma, phi_max=options.phi_max)
    failed = sum(1 for r in session.records.values() if r.outcome is not Outcome.COMPLETE)
    return GridResult(session.name, str(options.budget), plan, ranked, best, control, family, trained,
                      session.restored, failed, session.parent_id, None)


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


