"""``nas-scaling search``: Optuna samplers over a search space, a hard budget, Ray Tune or local.

One Optuna study per search (resumed by name), one MLflow child run per trained trial under a
parent run. ``--trials N`` is the number of trained trials the study should hold: a rerun after an
interruption trains only what is missing, and a larger N continues a finished search.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas_scaling.cost import Budget, ResolvedBudget, count_cost
from nas_scaling.errors import UserError
from nas_scaling.experiments.inputs import DataOptions, dataset_label, dataset_ref
from nas_scaling.experiments.records import Planned
from nas_scaling.experiments.session import StudySession
from nas_scaling.search.executors import ExecutionOptions
from nas_scaling.search.outcomes import Outcome
from nas_scaling.search.proposer import Proposer, fail_stale, heartbeat_thread, trained_count, trial_row
from nas_scaling.search.samplers import make_pruner, make_sampler, objectives
from nas_scaling.search.space import SearchSpace, cheapest, resolve_resolution, space_digest
from nas_scaling.search.study import safe_study_name
from nas_scaling.search.work import TaskResult, TrainTask
from nas_scaling.spec import NetworkSpec, save_spec, spec_from_dict, spec_to_dict
from nas_scaling.tracking import Tracker

if TYPE_CHECKING:
    from nas_scaling.experiments.prescreen import PrescreenOptions

__all__ = ["HEARTBEAT_INTERVAL", "SearchOptions", "SearchResult", "default_study_name", "run_search"]

HEARTBEAT_INTERVAL = 10
"""Seconds between heartbeats of a training trial; one silent for 6x this is stale."""


@dataclass(frozen=True, kw_only=True)
class SearchOptions(ExecutionOptions, DataOptions):
    budget: Budget
    trials: int = 12
    sampler: str = "tpe"
    early_stopping: bool = True
    max_rejections: int = 500
    prescreen: PrescreenOptions | None = None
    """Before training, enqueue the proxy's top ``train_top`` of ``samples`` feasible draws as the first trials."""


@dataclass(frozen=True)
class SearchResult:
    study: str
    space: str
    sampler: str
    budget: str
    budget_macs: float | None
    budget_params: float | None
    reference_macs: int
    trials: list[dict[str, Any]]
    best: list[dict[str, Any]]
    """Trained-to-the-end trials, best first (validation top-1, then fewer MACs)."""
    pareto: list[dict[str, Any]]
    """Non-dominated complete trials (accuracy up, MACs down), fewest MACs first."""
    counts: dict[str, int]
    """This run's draws: trained, pruned, failed, infeasible, invalid, duplicates."""
    exhausted: str | None
    parent_run_id: str
    files: list[Path] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "study": self.study, "space": self.space, "sampler": self.sampler, "budget": self.budget,
            "budget_macs": self.budget_macs, "budget_params": self.budget_params,
            "reference_macs": self.reference_macs, "counts": self.counts, "exhausted": self.exhausted,
            "best": [t["number"] for t in self.best[:5]], "pareto": [t["number"] for t in self.pareto],
            "trials": self.trials,
        }


def default_study_name(space: SearchSpace, options: SearchOptions) -> str:
    text = f"search-{space.name}-{options.budget}-{options.sampler}-{dataset_label(options.dataset)}"
    return safe_study_name(text)


def _study_config(space: SearchSpace, options: SearchOptions) -> dict[str, Any]:
    return {
        "kind": "search", "space": space.name, "space_sha256": space_digest(space), "budget": str(options.budget),
        "dataset": options.dataset, "sampler": options.sampler, "seed": options.seed,
        "train": {k: v for k, v in sorted(options.train.items()) if k != "threads"},
        **({"subset": options.subset} if options.subset != 1.0 else {}),
    }


def pareto_front(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows not dominated in (val_top1 up, macs down), fewest MACs first."""
    front = []
    for r in rows:
        dominated = any(
            o["val_top1"] >= r["val_top1"] and o["macs"] <= r["macs"]
            and (o["val_top1"] > r["val_top1"] or o["macs"] < r["macs"])
            for o in rows
        )
        if not dominated:
            front.append(r)
    return sorted(front, key=lambda r: (r["macs"], -r["val_top1"]))


def run_search(
    space: SearchSpace,
    reference: NetworkSpec,
    options: SearchOptions,
    *,
    tracker: Tracker,
    num_classes: int,
    in_channels: int,
    output: Path | None = None,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> SearchResult:
    """Search (resuming), then write ``output``/best.yaml, pareto/*.yaml and summary.json."""
    if options.trials < 1:
        raise UserError(f"trials must be a positive integer, got {options.trials!r}")
    space = resolve_resolution(space, reference)
    ref_cost = count_cost(reference)
    limits = options.budget.resolve(ref_cost)
    _check_budget(space, options, limits, num_classes=num_classes, in_channels=in_channels,
                  resolution=reference.resolution)
    study_name = options.study or default_study_name(space, options)
    directions = objectives(options.sampler)
    make_sampler(options.sampler, seed=options.seed, space=space, trials=options.trials)  # refuse before any write
    executor = options.make_executor()
    session = StudySession(
        study_name, kind="search", child_kind="found", tracker=tracker, config=_study_config(space, options),
        dataset=dataset_ref(options.dataset, subset=options.subset, seed=options.seed),
        storage=options.storage, directions=directions, heartbeat=HEARTBEAT_INTERVAL, progress=options.progress,
        unit="trial", sticky_interrupt=True, log=log, parent_params={
            "space": space.name, "budget": str(options.budget), "sampler": options.sampler, "seed": options.seed,
            "dataset": options.dataset, "executor": options.executor, "reference": reference.name,
            "data_dir": options.data_dir or "", "resolution": reference.resolution, "in_channels": in_channels,
            "subset": options.subset,
            **{f"train_{k}": v for k, v in options.train.items()},
        },
    )
    executor.start()  # Ray starts while the study opens; closed (stopped) after the session's last write
    with contextlib.closing(executor), session:
        study, storage = session.study, session.storage
        assert study is not None and storage is not None
        todo = _open(session, space, reference, options, limits, num_classes=num_classes, in_channels=in_channels)
        proposer = Proposer(study, storage, space, limits, num_classes=num_classes, in_channels=in_channels,
                            prune=options.early_stopping, max_rejections=options.max_rejections)
        source = _Source(session, proposer, options, space.name)
        session.progress(todo)
        stop_beating = heartbeat_thread(proposer, HEARTBEAT_INTERVAL)
        try:
            executor.run_adaptive(
                source, todo, early_stopping=options.early_stopping, max_epochs=int(options.train.get("epochs", 20)))
        except BaseException:
            with contextlib.suppress(Exception):  # the next start repairs what is left (stale trials)
                proposer.interrupt_all("interrupted (Ctrl-C or the executor stopped)")
            raise
        finally:
            stop_beating()
        if proposer.in_flight:  # pragma: no cover - executors finish or raise
            proposer.interrupt_all("the executor returned without finishing it")
            session.abort(Outcome.INTERRUPTED, "the executor returned without finishing it")
        session.close_progress()
        if proposer.exhausted:
            log(f"search: stopped drawing: {proposer.exhausted}")
        counts = {**source.counts, "infeasible": proposer.infeasible, "invalid": proposer.invalid,
                  "duplicates": proposer.duplicates}
        result = _summarize(study, space, options, study_name, limits, ref_cost.macs, counts, proposer.exhausted,
                            session.parent_id)
        if not result.best:
            session.fail(f"no trial of study {study_name!r} trained to the end; see its failed trials")
        files = _write_outputs(result, study, output) if output is not None else []
        session.finish(metrics={
            "best_val_top1": float(result.best[0]["val_top1"]), "best_macs": float(result.best[0]["macs"]),
            **{f"count_{k}": float(v) for k, v in counts.items()},
        }, artifacts=[f for f in files if f.name in ("summary.json", "best.yaml")])
    return replace(result, files=files)


def _open(session: StudySession, space: SearchSpace, reference: NetworkSpec, options: SearchOptions,
          limits: ResolvedBudget, *, num_classes: int, in_channels: int) -> int:
    """Repair what a dead process left, set the seeded sampler and pruner, prescreen; the trials to train."""
    study, storage, log = session.study, session.storage, session.log
    assert study is not None and storage is not None
    for line in options.inputs:
        log(f"search: {line}")
    stale = fail_stale(study, storage)
    if stale:
        log(f"search: trials {', '.join(map(str, stale))} were left running by a process that died; "
            "failed and queued again")
    have = trained_count(study)
    todo = max(0, options.trials - have)
    # Seeded per draw (grid: per grid order), so a resumed search draws what an uninterrupted one would.
    study.sampler = make_sampler(options.sampler, seed=options.seed, space=space, trials=options.trials)
    study.pruner = make_pruner(multi_objective=len(study.directions) > 1, enabled=options.early_stopping)
    log(f"search: space {space.name!r}, sampler {options.sampler}, budget {options.budget} = {limits}; "
        f"reference {reference.name} {count_cost(reference).macs / 1e6:.3g} MFLOPs; study {session.name!r} has "
        f"{have} trained trial(s), training {todo} more")
    if options.prescreen is not None and todo:  # a finished study is not prescreened again
        from nas_scaling.experiments.prescreen import enqueue_top

        enqueue_top(study, space, reference, limits, options.prescreen, dataset=options.dataset,
                    data_dir=options.data_dir, seed=options.seed, num_classes=num_classes,
                    in_channels=in_channels, log=log)
    if session.made and space.path is not None:
        session.tracker.log_artifact(session.parent_id, space.path)
    by_number = {str(t.number): t for t in study.get_trials(deepcopy=False)}

    def failed_as_gone(tags: Mapping[str, str]) -> bool:  # its trial was failed as stale or interrupted
        trial = by_number.get(tags.get("trial", ""))
        return trial is not None and trial.state.is_finished() and trial.user_attrs.get("outcome") in (
            Outcome.STALE, Outcome.INTERRUPTED)

    session.close_orphans(failed_as_gone)
    return todo


def _check_budget(space: SearchSpace, options: SearchOptions, limits: ResolvedBudget, *, num_classes: int,
                  in_channels: int, resolution: int) -> None:
    """Refuse, before any write, a budget below the cheapest network the space can make."""
    low_spec, low_ratio = cheapest(space, lambda s: limits.check(count_cost(s)).ratio, num_classes=num_classes,
                                   in_channels=in_channels, default_resolution=resolution)
    if low_ratio > 1.0:
        low = count_cost(low_spec)
        raise UserError(
            f"budget {options.budget} ({limits}) is below the cheapest network of space {space.name!r} "
            f"({low.macs / 1e6:.3g} MFLOPs multiply-adds, {low.params:,} params; {low_ratio:.2f}x the limit); "
            "raise the budget or narrow the space"
        )


class _Source:
    """The adaptive executor's side of the search: proposals in (each a live MLflow run), epochs and
    results back to the proposer and the session."""

    def __init__(self, session: StudySession, proposer: Proposer, options: SearchOptions, space: str) -> None:
        self.session = session
        self.proposer = proposer
        self.options = options
        self.space = space
        self.planned: dict[str, Planned] = {}
        self.counts = {"trained": 0, "pruned": 0, "failed": 0}

    def next_task(self) -> TrainTask | None:
        self.session.check_interrupt()
        study = self.proposer.study
        if trained_count(study, training=True) >= self.options.trials:  # other workers may share the study
            return None
        p = self.proposer.propose(limit=self.options.trials)
        if p is None:
            return None
        n = p.trial.number
        planned = Planned(
            p.key, p.spec, p.macs, p.params, tags={"trial": str(n), "space": self.space},
            run_params={"budget": str(self.options.budget), "space": self.space, "dataset": self.options.dataset,
                        "trial": n, **p.trial.params},
            known={k: v for k, v in p.trial.user_attrs.items() if k.startswith("proxy_") or k == "prescreen_rank"},
        )
        self.planned[p.key] = planned
        p.run_id = self.session.start_child(planned, name=str(n))
        p.trial.set_user_attr("mlflow_run_id", p.run_id)
        o = self.options
        return TrainTask(p.key, spec_to_dict(p.spec), o.dataset, dict(o.train), (o.seed,), o.data_dir, o.subset)

    def report(self, key: str, epoch: int, value: float) -> bool:
        self.session.check_interrupt()
        self.session.log_epoch(key, epoch, value)
        return self.proposer.report(key, epoch, value)

    def finish(self, result: TaskResult) -> None:
        p = self.proposer.in_flight.get(result.key)
        if p is None:
            return
        outcome = self.proposer.finish(result)
        self.counts[{Outcome.COMPLETE: "trained", Outcome.PRUNED: "pruned"}.get(outcome, "failed")] += 1
        score = "" if result.val_top1 is None else f" val_top1={result.val_top1:.3f}"
        note = f"#{p.trial.number} {outcome.value}{score}"
        self.session.record(self.planned.pop(result.key), result, trial=False, outcome=outcome, note=note)


def _summarize(
    study: Any, space: SearchSpace, options: SearchOptions, study_name: str, limits: Any, reference_macs: int,
    counts: dict[str, int], exhausted: str | None, parent_id: str,
) -> SearchResult:
    rows = [trial_row(t) for t in study.get_trials(deepcopy=False)]
    complete = [r for r in rows if r["outcome"] == Outcome.COMPLETE and r["val_top1"] is not None]
    best = sorted(complete, key=lambda r: (-r["val_top1"], r["macs"]))
    return SearchResult(
        study=study_name, space=space.name, sampler=options.sampler, budget=str(options.budget),
        budget_macs=limits.max_macs, budget_params=limits.max_params, reference_macs=reference_macs,
        trials=rows, best=best, pareto=pareto_front(complete), counts=counts, exhausted=exhausted,
        parent_run_id=parent_id,
    )


def _write_outputs(result: SearchResult, study: Any, output: Path) -> list[Path]:
    """best.yaml (the best trial's spec), pareto/trial-N.yaml for nsga2, summary.json."""
    output.mkdir(parents=True, exist_ok=True)
    by_number = {t.number: t for t in study.get_trials(deepcopy=False)}
    files = []

    def spec_of(number: int) -> NetworkSpec:
        return spec_from_dict(json.loads(by_number[number].user_attrs["spec"]))

    files.append(save_spec(spec_of(result.best[0]["number"]), output / "best.yaml"))
    if result.sampler == "nsga2":
        for row in result.pareto:
            files.append(save_spec(spec_of(row["number"]), output / "pareto" / f"trial-{row['number']}.yaml"))
    summary = output / "summary.json"
    summary.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    files.append(summary)
    return files

