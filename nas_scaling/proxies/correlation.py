"""How well do the zero-cost proxies rank a space? Score sampled networks, train some, correlate.

:func:`run_study` draws ``samples`` distinct feasible networks of a search space, scores each with
every proxy (and their ``vote``), trains the first ``train_top`` draws and reports each proxy's
Spearman rho and Kendall tau with the trained validation top-1. The trained ones are the first
draws, not the proxies' favourites: the draws are independent uniform draws from the space, so
the first K are an unbiased random subset, and a correlation measured on it says how the proxy
ranks the space rather than how it ranks its own top picks.

With a tracker, the study is an MLflow parent run (kind ``proxies-parent``; the coefficients as
metrics, the outputs as artifacts) and every trained candidate a child run (kind ``proxies``: its
proxy scores, cost and accuracy). A rerun of the same study restores the candidates whose runs
finished instead of training them again, so an interrupted study loses nothing.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas_scaling.cost import Budget, count_cost
from nas_scaling.errors import UserError
from nas_scaling.proxies.prescreen import VOTE_PROXIES, Minibatches, proxy_values, sample_feasible, score_specs
from nas_scaling.proxies.registry import PROXIES
from nas_scaling.spec import NetworkSpec, save_spec, spec_to_dict

if TYPE_CHECKING:
    from nas_scaling.search.space import SearchSpace
    from nas_scaling.search.work import TaskResult
    from nas_scaling.tracking import Tracker

__all__ = ["MIN_TRAINED", "Correlation", "StudyResult", "correlate", "run_study", "study_name", "write_outputs"]

MIN_TRAINED = 3
"""Fewest trained candidates a rank correlation is computed from."""


@dataclass(frozen=True)
class Correlation:
    proxy: str
    n: int
    """Trained candidates the coefficients are computed from."""
    non_finite: int
    """Of those, how many scored nan or +-inf (ranked lowest, as the prescreen does)."""
    spearman: float
    kendall: float
    spearman_p: float | None = None
    kendall_p: float | None = None


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

    def to_json(self) -> dict[str, Any]:
        return {
            "space": self.space, "dataset": self.dataset, "budget": self.budget, "seed": self.seed,
            "train": self.train, "executor": self.executor, "study": self.study, "restored": self.restored,
            "mlflow_run_id": self.parent_run_id, "samples": len(self.candidates),
            "trained": sum(1 for c in self.candidates if c["val_top1"] is not None),
            "scoring_seconds": self.scoring_seconds, "training_seconds": self.training_seconds,
            "correlations": {c.proxy: {k: _finite_or_none(v) for k, v in c.__dict__.items() if k != "proxy"}
                             for c in self.correlations},
            "candidates": [{k: _finite_or_none(v) for k, v in c.items()} for c in self.candidates],
        }


def _finite_or_none(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _rankable(values: Sequence[float]) -> list[float]:
    """nan ranks lowest (as in :func:`~nas_scaling.proxies.vote` and the prescreen)."""
    return [-math.inf if math.isnan(v) else v for v in values]


def correlate(proxy: str, scores: Sequence[float], accuracy: Sequence[float]) -> Correlation:
    """Spearman rho and Kendall tau-b of ``scores`` with ``accuracy`` (scipy, else pandas: no p-values)."""
    x = _rankable(scores)
    y = list(accuracy)
    non_finite = sum(1 for v in scores if not math.isfinite(v))
    if len(x) < MIN_TRAINED or len(set(x)) < 2 or len(set(y)) < 2:
        return Correlation(proxy, len(x), non_finite, math.nan, math.nan)
    try:
        from scipy import stats
    except ImportError:  # pragma: no cover - scikit-learn installs scipy
        import pandas as pd

        # pandas ranks before correlating, so -inf is simply the lowest rank
        xs, ys = pd.Series(x).rank(), pd.Series(y)
        return Correlation(proxy, len(x), non_finite, float(xs.corr(ys, method="spearman")),
                           float(xs.corr(ys, method="kendall")))
    ranks = stats.rankdata(x)  # -inf is the lowest rank; scipy's coefficients expect finite data
    rho = stats.spearmanr(ranks, y)
    tau = stats.kendalltau(ranks, y)
    return Correlation(proxy, len(x), non_finite, float(rho.statistic), float(tau.statistic), float(rho.pvalue),
                       float(tau.pvalue))


def study_name(space: SearchSpace, budget: Budget, *, dataset: str, seed: int, train: dict[str, Any],
               batch_size: int) -> str:
    """Names a correlation study by everything that decides its draws, scores and training, so a
    rerun of the same command finds its earlier runs and a changed one does not."""
    from nas_scaling.search.space import space_digest
    from nas_scaling.search.study import safe_study_name

    config = json.dumps([space_digest(space), str(budget), dataset, seed, batch_size,
                         {k: v for k, v in sorted(train.items()) if k != "threads"}], default=str)
    digest = hashlib.sha256(config.encode()).hexdigest()[:8]
    return safe_study_name(f"proxies-{space.name}-{dataset}-{budget}-s{seed}-{digest}")


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
) -> StudyResult:
    """Draw, score with every proxy, train the first ``train_top`` draws, correlate; with ``tracker``,
    log it all to MLflow and restore what an earlier run of the study trained; with ``output``,
    write (and log) :func:`write_outputs`' files."""
    import tempfile

    from nas_scaling.search.executors import make_executor
    from nas_scaling.search.work import TaskResult, TrainTask
    from nas_scaling.spec import network_to_compact
    from nas_scaling.tracking import finite_numbers, open_parent_run

    if train_top > samples:
        raise UserError(f"--train-top must be at most --samples, got train-top {train_top} > samples {samples}")
    if train_top < MIN_TRAINED:
        raise UserError(f"--train-top must be at least {MIN_TRAINED} for a rank correlation, got {train_top}")
    train = dict(train or {})
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
    scoring_seconds = time.perf_counter() - start
    votes = proxy_values(scores, "vote")
    log(f"proxies: scored in {scoring_seconds:.1f} s ({scoring_seconds / len(draws):.2f} s a network); "
        f"training the first {min(train_top, len(draws))} draws for {train.get('epochs', '?')} epoch(s)")

    chosen = draws[:train_top]
    name = study or study_name(space, budget, dataset=dataset, seed=seed, train=train, batch_size=batch_size)
    results: dict[str, TaskResult] = {}
    parent_id: str | None = None
    if tracker is not None:
        parent_id, made = open_parent_run(tracker, name, {"kind": "proxies-parent", "study": name})
        if made:
            tracker.log(parent_id, params={
                "space": space.name, "budget": str(budget), "dataset": dataset, "seed": seed, "samples": samples,
                "train_top": train_top, "executor": executor, "reference": reference.name,
                "proxy_batch": batch_size, **{f"train_{k}": v for k, v in train.items()},
            })
        finished = {r.tags.get("arch"): r for r in tracker.find_runs({"kind": "proxies", "study": name})
                    if r.status == "FINISHED" and "val_top1" in r.metrics}
        for i, d in enumerate(chosen):
            run = finished.get(d.arch)
            if run is not None:
                results[f"c{i}"] = TaskResult.completed_from_metrics(f"c{i}", run.metrics)
    restored = len(results)
    if restored:
        log(f"proxies: resuming study {name!r}: {restored} of {len(chosen)} candidates already trained")
    tasks = [TrainTask(f"c{i}", spec_to_dict(d.spec), dataset, dict(train), (seed,), data_dir)
             for i, d in enumerate(chosen) if f"c{i}" not in results]
    bar = None
    if progress and tasks:
        from tqdm import tqdm

        bar = tqdm(total=len(tasks), desc="proxies", unit="network", file=sys.stderr, dynamic_ncols=True)
    scratch = Path(tempfile.mkdtemp(prefix="nas-scaling-proxies-"))

    def on_result(result: TaskResult) -> None:
        results[result.key] = result
        if tracker is not None:
            i = int(result.key[1:])
            d = chosen[i]
            run_id = tracker.start_run(f"{name}/{result.key}", parent_id=parent_id, tags={
                "kind": "proxies", "study": name, "arch": d.arch, "node": result.node,
                "status_reason": result.reason or ""})
            proxy_scores = {f"proxy_{k}": v for k, v in {**scores[i], "vote": votes[i]}.items()}
            tracker.log(run_id, params={"arch": network_to_compact(d.spec), "resolution": d.spec.resolution,
                                        "dataset": dataset, "budget": str(budget), "draw": i},
                        metrics={**result.metrics(), "macs": float(d.macs), "params": float(d.n_params),
                                 **finite_numbers(proxy_scores)})
            tracker.log_artifact(run_id, save_spec(d.spec, scratch / result.key / "spec.yaml"))
            tracker.end_run(run_id, "FINISHED" if result.status == "completed" else "FAILED")
        if result.status != "completed":
            log(f"proxies: candidate {result.key} failed: {result.reason}")
        if bar is not None:
            bar.update(1)

    start = time.perf_counter()
    try:
        if tasks:
            make_executor(executor, cpus_per_trial=cpus_per_trial, max_concurrent=len(tasks)).run(tasks, on_result)
    except BaseException:
        if tracker is not None and parent_id is not None:
            tracker.end_run(parent_id, "KILLED")
        raise
    finally:
        if bar is not None:
            bar.close()
        shutil.rmtree(scratch, ignore_errors=True)  # the specs are copied into MLflow as each run ends
    training_seconds = time.perf_counter() - start

    rows: list[dict[str, Any]] = []
    for i, (d, s, v) in enumerate(zip(draws, scores, votes, strict=True)):
        r = results.get(f"c{i}")
        ok = r is not None and r.status == "completed" and r.val_top1 is not None
        rows.append({
            "index": i, "arch": d.arch, "resolution": d.spec.resolution, "macs": d.macs, "params": d.n_params,
            **s, "vote": v, "trained": r is not None, "val_top1": r.val_top1 if ok and r else None,
            "train_seconds": r.train_seconds if r else None, "status": r.status if r else None,
            "reason": r.reason if r else None,
        })
    trained = [row for row in rows if row["val_top1"] is not None]
    accuracy = [row["val_top1"] for row in trained]
    correlations = [correlate(p, [row[p] for row in trained], accuracy) for p in (*PROXIES, "vote")]
    result = StudyResult(space.name, dataset, str(budget), seed, train, executor, name, rows, correlations,
                         scoring_seconds, training_seconds, restored, parent_id)
    files = write_outputs(result, output) if output is not None else []
    if tracker is not None and parent_id is not None:
        tracker.log(parent_id, metrics={
            "trained": float(len(trained)), "scoring_seconds": scoring_seconds,
            **finite_numbers({f"spearman_{c.proxy}": c.spearman for c in correlations}),
            **finite_numbers({f"kendall_{c.proxy}": c.kendall for c in correlations}),
        })
        for path in files:
            tracker.log_artifact(parent_id, path)
        tracker.end_run(parent_id, "FINISHED")
    return replace(result, files=files)


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
    _plot(result, path_png)
    return [path_json, path_csv, path_png]


def _plot(result: StudyResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [c.proxy for c in result.correlations]
    cols = 3
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.6 * rows), squeeze=False)
    trained = [c for c in result.candidates if c["val_top1"] is not None]
    for ax, corr in zip(axes.flat, result.correlations, strict=False):
        points = [(c[corr.proxy], 100 * c["val_top1"]) for c in trained if math.isfinite(c[corr.proxy])]
        ax.scatter([p[0] for p in points], [p[1] for p in points], s=18, alpha=0.8)
        if corr.proxy == "synflow" and points and all(p[0] > 0 for p in points):
            ax.set_xscale("log")
        label = "vote (mean rank of " + ", ".join(VOTE_PROXIES) + ")" if corr.proxy == "vote" else corr.proxy
        ax.set_xlabel(label, fontsize=8)
        ax.set_ylabel("validation top-1 (%)")
        left_out = f", {corr.n - len(points)} non-finite not shown" if corr.n > len(points) else ""
        ax.set_title(f"{corr.proxy}: rho={corr.spearman:.2f} tau={corr.kendall:.2f} (n={corr.n}{left_out})",
                     fontsize=9)
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.suptitle(f"Zero-cost proxies vs trained accuracy: space {result.space}, {result.dataset}, "
                 f"budget {result.budget}, {result.train.get('epochs', '?')} epoch(s)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
