"""How well do the zero-cost proxies rank a space? Score sampled networks, train some, correlate.

:func:`run_study` draws ``samples`` distinct feasible networks of a search space, scores each with
every proxy (and their ``vote``), trains the first ``train_top`` draws and reports each proxy's
Spearman rho and Kendall tau with the trained validation top-1. The trained ones are the first
draws, not the proxies' favourites: the draws are independent uniform draws from the space, so
the first K are an unbiased random subset, and a correlation measured on it says how the proxy
ranks the space rather than how it ranks its own top picks.

The study is a :class:`~nas_scaling.experiments.session.StudySession` of kind ``proxies``: an MLflow
parent run (the coefficients as metrics, the outputs as artifacts) and a child run per trained
candidate (its proxy scores, cost and accuracy). A rerun of the same study restores the candidates
whose runs finished instead of training them again, so an interrupted study loses nothing.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas_scaling.cost import Budget, count_cost
from nas_scaling.errors import UserError
from nas_scaling.experiments.inputs import dataset_label, dataset_ref
from nas_scaling.experiments.plots import plot_proxies
from nas_scaling.experiments.prescreen import Draw, Minibatches, proxy_values, sample_feasible, score_specs
from nas_scaling.experiments.records import Planned
from nas_scaling.experiments.session import StudySession
from nas_scaling.proxies.correlation import MIN_TRAINED, Correlation, correlate
from nas_scaling.proxies.registry import PROXIES
from nas_scaling.search.executors import make_executor
from nas_scaling.search.outcomes import TaskStatus
from nas_scaling.search.space import space_digest
from nas_scaling.search.study import safe_study_name
from nas_scaling.search.work import TaskResult, TrainTask
from nas_scaling.spec import NetworkSpec, spec_to_dict
from nas_scaling.tracking import MemoryTracker, finite_numbers

if TYPE_CHECKING:
    from nas_scaling.search.space import SearchSpace
    from nas_scaling.tracking import Tracker

__all__ = ["StudyResult", "run_study", "study_name", "write_outputs"]


@dataclass(frozen=True)
class StudyResult:
    space: str
    dataset: str
    budget: str
    seed: int
    train: dict[str, Any]
    executor: str
    study: str
    candidates: list[dict[str, Any]]
    """Every draw: index, arch, cost, each proxy's score, ``vote``, and (if trained) its accuracy."""
    correlations: list[Correlation]
    scoring_seconds: float
    training_seconds: float
    restored: int = 0
    """Trained candidates taken from an earlier run of the same study (not trained again)."""
    parent_run_id: str | None = None
    files: list[Path] = field(default_factory=list)
    full_train: dict[str, Any] | None = None
    """Fidelity: the full training the same networks also had (None: not measured)."""
    correlations_full: list[Correlation] = field(default_factory=list)
    """Fidelity: each proxy's, and the short training's (``short_training``), correlation with the
    accuracy after full training."""

    def to_json(self) -> dict[str, Any]:
        return {
            "space": self.space, "dataset": self.dataset, "budget": self.budget, "seed": self.seed,
            "train": self.train, "executor": self.executor, "study": self.study, "restored": self.restored,
            "mlflow_run_id": self.parent_run_id, "samples": len(self.candidates),
            "trained": sum(1 for c in self.candidates if c["val_top1"] is not None),
            "scoring_seconds": self.scoring_seconds, "training_seconds": self.training_seconds,
            "correlations": {c.proxy: {k: _finite_or_none(v) for k, v in c.__dict__.items() if k != "proxy"}
                             for c in self.correlations},
            "full_train": self.full_train,
            "correlations_full": {c.proxy: {k: _finite_or_none(v) for k, v in c.__dict__.items() if k != "proxy"}
                                  for c in self.correlations_full},
            "candidates": [{k: _finite_or_none(v) for k, v in c.items()} for c in self.candidates],
        }


def _finite_or_none(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def study_name(space: SearchSpace, budget: Budget, *, dataset: str, seed: int, train: dict[str, Any],
               batch_size: int, full_train: dict[str, Any] | None = None, subset: float = 1.0) -> str:
    """Names a correlation study by everything that decides its draws, scores and training, so a
    rerun of the same command finds its earlier runs and a changed one does not."""
    config = json.dumps([space_digest(space), str(budget), dataset, seed, batch_size,
                         {k: v for k, v in sorted(train.items()) if k != "threads"},
                         *([sorted(full_train.items())] if full_train is not None else []),
                         *([subset] if subset != 1.0 else [])], default=str)
    digest = hashlib.sha256(config.encode()).hexdigest()[:8]
    return safe_study_name(f"proxies-{space.name}-{dataset_label(dataset)}-{budget}-s{seed}-{digest}")


def run_study(
    space: SearchSpace,
    reference: NetworkSpec,
    budget: Budget,
    *,
    samples: int,
    train_top: int,
    dataset: str = "digits",
    data_dir: str | None = None,
    train: dict[str, Any] | None = None,
    seed: int = 0,
    executor: str = "local",
    cpus_per_trial: float = 1.0,
    batch_size: int = 64,
    progress: bool = True,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
    tracker: Tracker | None = None,
    study: str | None = None,
    output: Path | None = None,
    full_train: dict[str, Any] | None = None,
    subset: float = 1.0,
) -> StudyResult:
    """Draw, score with every proxy, train the first ``train_top`` draws, correlate; log it all to
    MLflow (``tracker``; in memory when None) and restore what an earlier run of the study trained;
    with ``output``, write (and log) :func:`write_outputs`' files."""
    if train_top > samples:
        raise UserError(f"--train-top must be at most --samples, got train-top {train_top} > samples {samples}")
    if train_top < MIN_TRAINED:
        raise UserError(f"--train-top must be at least {MIN_TRAINED} for a rank correlation, got {train_top}")
    train = dict(train or {})
    draws, scores, votes, scoring_seconds = _draw_and_score(space, reference, budget, samples=samples, seed=seed,
                                                            dataset=dataset, data_dir=data_dir,
                                                            batch_size=batch_size, log=log)
    log(f"proxies: scored in {scoring_seconds:.1f} s ({scoring_seconds / len(draws):.2f} s a network); "
        f"training the first {min(train_top, len(draws))} draws for {train.get('epochs', '?')} epoch(s)")
    name = study or study_name(space, budget, dataset=dataset, seed=seed, train=train, batch_size=batch_size,
                               full_train=full_train, subset=subset)
    trainings = {"c": train, **({"f": dict(full_train)} if full_train is not None else {})}
    planned = [
        Planned(f"{prefix}{i}", d.spec, d.macs, d.n_params, tags={"arch": d.arch, "training": prefix},
                run_params={"dataset": dataset, "budget": str(budget), "draw": i, "subset": subset},
                known={f"proxy_{k}": v for k, v in {**scores[i], "vote": votes[i]}.items()})
        for prefix in trainings for i, d in enumerate(draws[:train_top])
    ]
    session = StudySession(name, kind="proxies", tracker=tracker if tracker is not None else MemoryTracker(),
                           dataset=dataset_ref(dataset, subset=subset, seed=seed),
                           config={}, storage=None, progress=progress, unit="network", log=log, parent_params={
                               "space": space.name, "budget": str(budget), "dataset": dataset, "seed": seed,
                               "samples": samples, "train_top": train_top, "executor": executor,
                               "reference": reference.name, "proxy_batch": batch_size, "subset": subset,
                               **{f"train_{k}": v for k, v in train.items()},
                               **{f"full_{k}": v for k, v in (full_train or {}).items()}})
    with session:
        todo = session.restore(planned)
        tasks = [TrainTask(p.key, spec_to_dict(p.spec), dataset, dict(trainings[p.key[0]]), (seed,), data_dir, subset)
                 for p in todo]
        start = time.perf_counter()
        session.run(make_executor(executor, cpus_per_trial=cpus_per_trial, max_concurrent=len(tasks) or None),
                    planned, tasks)
        training_seconds = time.perf_counter() - start
        session.close_progress()
        results = {k: r.result() for k, r in session.records.items()}
        rows = _rows(draws, scores, votes, results)
        trained = [row for row in rows if row["val_top1"] is not None]
        correlations, correlations_full = _correlations(rows, fidelity=full_train is not None)
        result = StudyResult(space.name, dataset, str(budget), seed, train, executor, name, rows, correlations,
                             scoring_seconds, training_seconds, session.restored,
                             session.parent_id if tracker is not None else None, [], full_train, correlations_full)
        files = write_outputs(result, output) if output is not None else []
        session.finish(metrics={
            "trained": float(len(trained)), "scoring_seconds": scoring_seconds,
            **finite_numbers({f"spearman_{c.proxy}": c.spearman for c in correlations}),
            **finite_numbers({f"kendall_{c.proxy}": c.kendall for c in correlations}),
            **finite_numbers({f"full_spearman_{c.proxy}": c.spearman for c in correlations_full}),
            **finite_numbers({f"full_kendall_{c.proxy}": c.kendall for c in correlations_full}),
        }, artifacts=files)
    return replace(result, files=files)


def _draw_and_score(
    space: SearchSpace, reference: NetworkSpec, budget: Budget, *, samples: int, seed: int, dataset: str,
    data_dir: str | None, batch_size: int, log: Callable[[str], None],
) -> tuple[list[Draw], list[dict[str, float]], list[float], float]:
    """``samples`` distinct feasible draws, every proxy's score of each, their vote, the seconds it took."""
    draws = sample_feasible(space, reference, budget, samples, seed=seed, num_classes=reference.num_classes,
                            in_channels=reference.in_channels)
    if len(draws) < MIN_TRAINED:
        raise UserError(f"space {space.name!r} gave only {len(draws)} distinct networks under budget {budget}; "
                        "raise the budget or widen the space")
    if len(draws) < samples:
        log(f"proxies: only {len(draws)} distinct networks under budget {budget} were found (asked for {samples})")
    log(f"proxies: {len(draws)} networks of {space.name!r} under {budget} ({budget.resolve(count_cost(reference))}); "
        f"scoring them with {', '.join(PROXIES)}")
    batches = Minibatches(dataset, in_channels=reference.in_channels, batch_size=batch_size, seed=seed,
                          data_dir=data_dir)
    start = time.perf_counter()
    scores = score_specs([d.spec for d in draws], list(PROXIES), batches=batches, seed=seed)
    return draws, scores, proxy_values(scores, "vote"), time.perf_counter() - start


def _correlations(rows: list[dict[str, Any]], *, fidelity: bool) -> tuple[list[Correlation], list[Correlation]]:
    """Each proxy against the short training's accuracy; with ``fidelity``, each proxy and the short
    training (``short_training``) against the full training's accuracy."""
    trained = [row for row in rows if row["val_top1"] is not None]
    accuracy = [row["val_top1"] for row in trained]
    short = [correlate(p, [row[p] for row in trained], accuracy) for p in (*PROXIES, "vote")]
    if not fidelity:
        return short, []
    both = [row for row in trained if row.get("val_top1_full") is not None]
    full = [row["val_top1_full"] for row in both]
    return short, [correlate(p, [row[p] for row in both], full) for p in (*PROXIES, "vote")] + [
        correlate("short_training", [row["val_top1"] for row in both], full)]


def _accuracy(result: TaskResult | None) -> float | None:
    ok = result is not None and result.status == TaskStatus.COMPLETED
    return result.val_top1 if ok and result is not None else None


def _rows(draws: Sequence[Draw], scores: Sequence[dict[str, float]], votes: Sequence[float],
          results: dict[str, TaskResult]) -> list[dict[str, Any]]:
    full = any(k.startswith("f") for k in results)
    rows: list[dict[str, Any]] = []
    for i, (d, s, v) in enumerate(zip(draws, scores, votes, strict=True)):
        r = results.get(f"c{i}")
        ok = r is not None and r.status == TaskStatus.COMPLETED and r.val_top1 is not None
        rows.append({
            "index": i, "arch": d.arch, "resolution": d.spec.resolution, "macs": d.macs, "params": d.n_params,
            **s, "vote": v, "trained": r is not None, "val_top1": r.val_top1 if ok and r else None,
            "train_seconds": r.train_seconds if r else None, "status": r.status.value if r else None,
            "reason": r.reason if r else None,
            **({} if not full else {"val_top1_full": _accuracy(results.get(f"f{i}"))}),
        })
    return rows


def write_outputs(result: StudyResult, output: Path) -> list[Path]:
    """``proxies.json`` (everything), ``candidates.csv`` (one row a draw) and ``proxies.png``."""
    output.mkdir(parents=True, exist_ok=True)
    path_json = output / "proxies.json"
    path_json.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    path_csv = output / "candidates.csv"
    with path_csv.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(result.candidates[0]))
        writer.writeheader()
        writer.writerows(result.candidates)
    path_png = output / "proxies.png"
    plot_proxies(result, path_png)
    return [path_json, path_csv, path_png]
