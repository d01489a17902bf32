"""``nas-scaling grid``: train every planned (alpha, beta, gamma), rank them, extrapolate phi = 1..N.

Every candidate is one Optuna trial (written when finished) and one MLflow child run under a parent
run for the grid. Rerunning with the same study name resumes: finished candidates are not trained
again, and a candidate whose MLflow run finished but whose trial was never written (a crash between
the two writes) is restored from MLflow instead of retrained.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas_scaling.cost import Budget
from nas_scaling.errors import UserError
from nas_scaling.scaling.grid import (
    DEFAULT_MAX_CANDIDATES,
    DEFAULT_STEP,
    DEFAULT_TOLERANCE,
    Candidate,
    FamilyMember,
    GridPlan,
    extrapolate_family,
    plan_grid,
)
from nas_scaling.search.executors import ExecutionOptions
from nas_scaling.search.study import completed_by_key, open_study, record_trial, safe_study_name
from nas_scaling.search.work import TaskResult, TrainTask
from nas_scaling.spec import NetworkSpec, network_to_compact, save_spec, spec_to_dict
from nas_scaling.tracking import Tracker, finite_numbers, open_parent_run

if TYPE_CHECKING:
    from nas_scaling.proxies.prescreen import PrescreenOptions

__all__ = ["GridOptions", "GridResult", "RankedCandidate", "default_study_name", "run_grid"]


@dataclass(frozen=True, kw_only=True)
class GridOptions(ExecutionOptions):
    budget: Budget
    step: float = DEFAULT_STEP
    tolerance: float = DEFAULT_TOLERANCE
    max_candidates: int | None = DEFAULT_MAX_CANDIDATES
    seeds: int = 1
    seed: int = 0
    dataset: str = "digits"
    data_dir: str | None = None
    train: dict[str, Any] = field(default_factory=dict)
    """TrainConfig fields for the proxy runs (defaults: TrainConfig's)."""
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
    return safe_study_name(f"grid-{base.name}-{options.budget}-{options.dataset}")


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
    }


def run_grid(
    base: NetworkSpec,
    options: GridOptions,
    *,
    tracker: Tracker,
    output: Path | None = None,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> GridResult:
    """Plan, train (resuming), rank, extrapolate; write ``output`` (JSON) and its PNG plot."""
    import json

    if options.seeds < 1:
        raise UserError(f"seeds must be a positive integer, got {options.seeds!r}")
    screen = options.prescreen
    plan = plan_grid(base, options.budget, step=options.step, tolerance=options.tolerance,
                     max_candidates=options.max_candidates if screen is None else screen.samples)
    screened: dict[str, dict[str, float]] = {}  # candidate key -> proxy scores and rank
    if screen is not None:
        from nas_scaling.proxies.prescreen import prescreen_plan

        plan, screened = prescreen_plan(plan, screen, dataset=options.dataset, data_dir=options.data_dir,
                                        seed=options.seed, log=log)
    log(
        f"grid: base {base.name} ({plan.base_macs / 1e6:.3g} MFLOPs multiply-adds, {plan.base_params:,} params), "
        f"budget {options.budget} = {plan.target_factor:.3g}x; {plan.considered} grid points within "
        f"{options.tolerance:.0%} in theory, {plan.considered - plan.dropped_real} in real MACs, "
        f"{plan.considered - plan.dropped_real - plan.duplicates} distinct networks; training {len(plan.candidates)}"
    )
    study_name = options.study or default_study_name(base, options)
    study = open_study(study_name, options.storage, config=_study_config(base, options))
    done = completed_by_key(study)

    parent_id, made = open_parent_run(tracker, study_name, {"kind": "grid-parent", "study": study_name})
    if made:
        tracker.log(parent_id, params={
            "base": base.name, "budget": str(options.budget), "dataset": options.dataset, "step": options.step,
            "tolerance": options.tolerance, "seeds": options.seeds, "executor": options.executor,
            **{f"train_{k}": v for k, v in options.train.items()},
        })
    children = {
        r.tags.get("candidate"): r
        for r in tracker.find_runs({"kind": "grid", "study": study_name})
        if r.status == "FINISHED"
    }
    by_key = {c.key: c for c in plan.candidates}
    scratch = tempfile.TemporaryDirectory(prefix="nas-scaling-grid-")  # spec files until MLflow copies them
    artifacts = Path(scratch.name)
    restored = 0
    failed = 0

    def params_of(c: Candidate) -> dict[str, object]:
        return {
            "alpha": c.alpha, "beta": c.beta, "gamma": c.gamma, "phi": 1, "budget": str(options.budget),
            "arch": network_to_compact(c.spec), "base": base.name, "dataset": options.dataset, "seeds": options.seeds,
            "resolution": c.spec.resolution,
        }

    def write_trial(c: Candidate, result: TaskResult, run_id: str | None) -> None:
        record_trial(
            study,
            params={"alpha": c.alpha, "beta": c.beta, "gamma": c.gamma},
            value=result.val_top1,
            state="complete" if result.status == "completed" else "fail",
            user_attrs={
                "key": c.key, "macs": c.macs, "params": c.params, "factor_real": c.factor_real,
                "factor_theoretical": c.factor_theoretical, "val_top1_std": result.val_top1_std,
                "val_top5": result.val_top5, "train_seconds": result.train_seconds, "reason": result.reason,
                "mlflow_run_id": run_id, "arch": network_to_compact(c.spec), **screened.get(c.key, {}),
            },
        )

    # Repair: MLflow finished a candidate but the process died before its trial was written.
    for key, run in children.items():
        if key in by_key and key not in done and "val_top1" in run.metrics:
            write_trial(by_key[key], TaskResult.completed_from_metrics(key, run.metrics), run.run_id)
            restored += 1
    done = completed_by_key(study)
    todo = [c for c in plan.candidates if c.key not in done]
    if len(todo) < len(plan.candidates):
        log(f"grid: resuming study {study_name!r}: {len(plan.candidates) - len(todo)} candidates already trained")

    def on_result(result: TaskResult) -> None:
        nonlocal failed
        c = by_key[result.key]
        run_id = tracker.start_run(f"{study_name}/{c.key}", tags={"kind": "grid", "study": study_name,
                                                                   "candidate": c.key}, parent_id=parent_id)
        tracker.log(run_id, params=params_of(c), metrics={
            **result.metrics(), "macs": float(c.macs), "params": float(c.params), "factor_real": c.factor_real,
            "factor_theoretical": c.factor_theoretical, **finite_numbers(screened.get(c.key, {})),
        }, tags={"status_reason": result.reason or "", "node": result.node})
        tracker.log_artifact(run_id, save_spec(c.spec, artifacts / c.key / "spec.yaml"))
        tracker.end_run(run_id, "FINISHED" if result.status == "completed" else "FAILED")
        write_trial(c, result, run_id)
        if result.status != "completed":
            failed += 1
            log(f"grid: candidate {c.key} failed: {result.reason}")
        if bar is not None:
            bar.update(1)
            if result.val_top1 is not None:
                bar.set_postfix_str(f"{c.key} val_top1={result.val_top1:.3f}")

    executor = options.make_executor(max_concurrent=len(todo) or None)
    seeds = tuple(options.seed + i for i in range(options.seeds))
    tasks = [
        TrainTask(c.key, spec_to_dict(c.spec), options.dataset, dict(options.train), seeds, options.data_dir)
        for c in todo
    ]
    bar = None
    if options.progress and tasks:
        from tqdm import tqdm

        bar = tqdm(total=len(tasks), desc="grid", unit="candidate", file=sys.stderr, dynamic_ncols=True)
    try:
        executor.run(tasks, on_result)
    except BaseException:
        tracker.end_run(parent_id, "KILLED")
        scratch.cleanup()
        raise
    finally:
        if bar is not None:
            bar.close()

    completed = completed_by_key(study)
    ranked = []
    for c in plan.candidates:
        trial = completed.get(c.key)
        if trial is None:
            ranked.append(RankedCandidate(c, None, None, None, None, "failed", None))
            continue
        ua = trial.user_attrs
        ranked.append(RankedCandidate(c, trial.value, ua.get("val_top1_std"), ua.get("val_top5"),
                                      ua.get("train_seconds"), "completed", ua.get("mlflow_run_id")))
    ranked.sort(key=lambda r: (r.val_top1_mean is None, -(r.val_top1_mean or 0.0), r.candidate.macs))
    best = ranked[0]
    if best.val_top1_mean is None:
        tracker.end_run(parent_id, "FAILED")
        raise UserError(f"every grid candidate failed to train; see the failed trials of study {study_name!r}")
    bc = best.candidate
    family = extrapolate_family(base, alpha=bc.alpha, beta=bc.beta, gamma=bc.gamma, phi_max=options.phi_max)
    result = GridResult(
        study_name, str(options.budget), plan, ranked, best, family, len(tasks), restored, failed, parent_id, None
    )
    data = result.to_json()
    scratch.cleanup()
    json_path = output if output is not None else Path(tempfile.mkdtemp(prefix="nas-scaling-grid-")) / "grid.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    plot_path = json_path.with_suffix(".png")
    _plot(result, plot_path, str(options.budget))
    tracker.log(parent_id, params={"best_alpha": bc.alpha, "best_beta": bc.beta, "best_gamma": bc.gamma},
                metrics={"best_val_top1": best.val_top1_mean or 0.0, "candidates": float(len(ranked)),
                         "failed": float(failed)})
    tracker.log_artifact(parent_id, json_path)
    tracker.log_artifact(parent_id, plot_path)
    tracker.end_run(parent_id, "FINISHED")
    return replace(result, plot=plot_path)


def _plot(result: GridResult, path: Path, budget: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    done = [r for r in result.ranked if r.val_top1_mean is not None]
    xs = [r.candidate.macs / 1e6 for r in done]
    ys = [100 * (r.val_top1_mean or 0.0) for r in done]
    errs = [100 * (r.val_top1_std or 0.0) for r in done]
    left.errorbar(xs, ys, yerr=errs, fmt="o", capsize=3, label="candidates (phi = 1)")
    b = result.best
    left.plot([b.candidate.macs / 1e6], [100 * (b.val_top1_mean or 0.0)], "r*", markersize=15,
              label=f"best: alpha={b.candidate.alpha:g}, beta={b.candidate.beta:g}, gamma={b.candidate.gamma:g}")
    for r in done:
        left.annotate(f"{r.candidate.alpha:g}/{r.candidate.beta:g}/{r.candidate.gamma:g}",
                      (r.candidate.macs / 1e6, 100 * (r.val_top1_mean or 0.0)), fontsize=7,
                      textcoords="offset points", xytext=(4, 4))
    left.axvline(result.plan.base_macs * result.plan.target_factor / 1e6, color="gray", ls="--",
                 label=f"budget {budget}")
    left.set_xlabel("MFLOPs (multiply-adds)")
    left.set_ylabel("validation top-1 (%)")
    left.set_title("Grid candidates: accuracy vs cost (labels: alpha/beta/gamma)")
    left.legend(fontsize=8)
    phis = [m.phi for m in result.family]
    right.semilogy(phis, [m.macs / 1e6 for m in result.family], "o-", label="MFLOPs (multiply-adds)")
    right.semilogy(phis, [m.params / 1e6 for m in result.family], "s--", label="M params")
    right.set_xlabel("phi (compound coefficient)")
    right.set_ylabel("millions (log scale)")
    right.set_title("Extrapolated family phi = 0..N")
    right.legend(fontsize=8)
    right.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
