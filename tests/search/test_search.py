"""``search`` end to end on micro networks: real Optuna SQLite storage, real MLflow store, real Ray."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from nas_scaling.cli.main import main
from nas_scaling.cost import count_cost, parse_budget
from nas_scaling.errors import UserError
from nas_scaling.experiments.search import SearchOptions, SearchResult, run_search
from nas_scaling.search.executors import LocalExecutor
from nas_scaling.search.outcomes import TaskStatus
from nas_scaling.search.space import load_space
from nas_scaling.search.work import TaskResult, TrainTask
from nas_scaling.spec import NetworkSpec, load_spec, network_to_compact, spec_to_dict
from nas_scaling.tracking import MlflowTracker

TrialState = optuna.trial.TrialState


def _options(tmp_path: Path, **kw: object) -> SearchOptions:
    base: dict[str, object] = dict(
        budget=parse_budget("1xFLOPS"), trials=3, train={"epochs": 1, "batch_size": 64}, executor="local",
        study="s", storage=f"sqlite:///{tmp_path}/studies/studies.db", progress=False,
    )
    base.update(kw)
    return SearchOptions(**base)  # type: ignore[arg-type]


def _search(tmp_path: Path, space: Path, reference: NetworkSpec, tracker: MlflowTracker, **kw: object) -> SearchResult:
    return run_search(load_space(space), reference, _options(tmp_path, **kw), tracker=tracker, num_classes=10,
                      in_channels=1, output=tmp_path / "out", log=lambda m: None)


def _study(tmp_path: Path, name: str = "s") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{tmp_path}/studies/studies.db")


def test_search_local_records_trials_runs_and_outputs_then_resumes(
    tmp_path: Path, micro_space: Path, micro_base: NetworkSpec, mlflow_tracker: MlflowTracker,
) -> None:
    result = _search(tmp_path, micro_space, micro_base, mlflow_tracker, early_stopping=False)
    limit = count_cost(micro_base).macs
    study = _study(tmp_path)
    trained = [t for t in study.trials if t.user_attrs.get("outcome") == "complete"]
    assert len(trained) == 3
    assert not study.get_trials(states=(TrialState.RUNNING, TrialState.WAITING))
    for t in trained:
        assert t.state == TrialState.COMPLETE and 0.0 <= t.value <= 1.0
        assert t.user_attrs["macs"] <= limit  # the hard budget
        assert t.params  # the sampled values are Optuna parameters
    for t in study.trials:
        if t.user_attrs.get("outcome") == "infeasible":
            assert t.state == TrialState.FAIL and t.user_attrs["macs"] > limit

    children = mlflow_tracker.find_runs({"kind": "found", "study": "s"})
    assert len(children) == 3
    by_trial = {t.number: t for t in trained}
    for run in children:
        trial = by_trial[int(run.tags["trial"])]
        assert run.status == "FINISHED"
        assert run.params["arch"] == trial.user_attrs["arch"]
        assert {k: str(v) for k, v in trial.params.items()}.items() <= run.params.items()
        assert {"val_top1", "val_top5", "macs", "params", "train_seconds"} <= set(run.metrics)
        assert run.metrics["val_top1"] == pytest.approx(trial.value)
        assert "spec.yaml" in [a.path for a in mlflow_tracker.client.list_artifacts(run.run_id)]
    [parent] = mlflow_tracker.find_runs({"kind": "search-parent", "study": "s"})
    assert parent.status == "FINISHED" and {c.parent_id for c in children} == {parent.run_id}

    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["budget_macs"] == limit
    assert {t["number"] for t in summary["trials"]} == {t.number for t in study.trials}
    assert {"number", "state", "macs", "params", "val_top1"} <= set(summary["trials"][0])
    best = max(trained, key=lambda t: t.value)
    assert result.best[0]["number"] == best.number
    best_spec = load_spec(tmp_path / "out" / "best.yaml")
    assert network_to_compact(best_spec) == best.user_attrs["arch"]
    assert best_spec.num_classes == 10 and best_spec.in_channels == 1

    # Resume with more trials: the finished ones stay, only the missing ones train.
    again = _search(tmp_path, micro_space, micro_base, mlflow_tracker, early_stopping=False, trials=5)
    study = _study(tmp_path)
    complete = [t for t in study.trials if t.user_attrs.get("outcome") == "complete"]
    assert len(complete) == 5
    assert {t.number for t in trained} <= {t.number for t in complete}
    assert again.counts["trained"] == 2
    runs = mlflow_tracker.find_runs({"kind": "found", "study": "s"})
    assert len(runs) == 5 and len({r.tags["trial"] for r in runs}) == 5
    archs = [t.user_attrs["arch"] for t in complete]
    assert len(set(archs)) == len(archs)  # nothing trained twice

    # The same command once more: nothing left to train.
    third = _search(tmp_path, micro_space, micro_base, mlflow_tracker, early_stopping=False, trials=5)
    assert third.counts["trained"] == 0 and len(mlflow_tracker.find_runs({"kind": "found", "study": "s"})) == 5


def test_draws_over_the_budget_are_rejected_without_training(
    tmp_path: Path, micro_space: Path, micro_base: NetworkSpec, mlflow_tracker: MlflowTracker,
) -> None:
    result = _search(tmp_path, micro_space, micro_base, mlflow_tracker, budget=parse_budget("0.3xFLOPS"), trials=2,
                     early_stopping=False)
    limit = 0.3 * count_cost(micro_base).macs
    study = _study(tmp_path)
    infeasible = [t for t in study.trials if t.user_attrs.get("outcome") == "infeasible"]
    assert result.counts["infeasible"] == len(infeasible) > 0
    assert all(t.state == TrialState.FAIL and t.user_attrs["macs"] > limit for t in infeasible)
    assert all("over the budget" in t.user_attrs["reason"] for t in infeasible)
    runs = mlflow_tracker.find_runs({"kind": "found", "study": "s"})
    assert len(runs) == 2 and all(r.metrics["macs"] <= limit for r in runs)
    assert {r.tags["trial"] for r in runs}.isdisjoint({str(t.number) for t in infeasible})


def test_a_budget_nothing_in_the_space_meets_fails_before_any_trial(
    tmp_path: Path, micro_space: Path, micro_base: NetworkSpec, mlflow_tracker: MlflowTracker,
) -> None:
    with pytest.raises(UserError) as err:
        _search(tmp_path, micro_space, micro_base, mlflow_tracker, budget=parse_budget("0.01xFLOPS"))
    message = str(err.value)
    assert "budget 0.01xFLOPS" in message and "below the cheapest network of space 'micro'" in message
    assert not (tmp_path / "studies").exists()
    assert mlflow_tracker.find_runs({"study": "s"}) == []


def test_nsga2_reports_a_non_dominated_front(
    tmp_path: Path, micro_space: Path, micro_base: NetworkSpec, mlflow_tracker: MlflowTracker,
) -> None:
    result = _search(tmp_path, micro_space, micro_base, mlflow_tracker, sampler="nsga2", trials=4)
    study = _study(tmp_path)
    assert len(study.directions) == 2
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 4 and all(t.values[1] == t.user_attrs["macs"] for t in complete)
    front = result.pareto
    assert front
    for a in front:
        assert not any(
            b["val_top1"] >= a["val_top1"] and b["macs"] <= a["macs"]
            and (b["val_top1"] > a["val_top1"] or b["macs"] < a["macs"])
            for b in result.best
        )
    assert {t["number"] for t in front} == {t.number for t in study.best_trials}
    files = sorted(p.name for p in (tmp_path / "out" / "pareto").iterdir())
    assert files == sorted(f"trial-{t['number']}.yaml" for t in front)


def test_pruned_trials_are_pruned_in_the_study_not_complete(
    tmp_path: Path, micro_space: Path, micro_base: NetworkSpec, mlflow_tracker: MlflowTracker,
) -> None:
    result = _search(tmp_path, micro_space, micro_base, mlflow_tracker, trials=5,
                     train={"epochs": 3, "batch_size": 64})
    study = _study(tmp_path)
    pruned = [t for t in study.trials if t.user_attrs.get("outcome") == "pruned"]
    assert result.counts["pruned"] == len(pruned) >= 1
    runs = {r.tags["trial"]: r for r in mlflow_tracker.find_runs({"kind": "found", "study": "s"})}
    for t in pruned:
        assert t.state == TrialState.PRUNED
        assert t.user_attrs["epochs"] < 3 and t.intermediate_values
        assert runs[str(t.number)].status == "KILLED" and runs[str(t.number)].tags["state"] == "pruned"
    for t in study.trials:
        if t.user_attrs.get("outcome") == "complete":
            assert t.user_attrs["epochs"] == 3 and sorted(t.intermediate_values) == [1, 2, 3]


def test_a_rerun_with_other_options_is_refused(
    tmp_path: Path, micro_space: Path, micro_base: NetworkSpec, mlflow_tracker: MlflowTracker,
) -> None:
    _search(tmp_path, micro_space, micro_base, mlflow_tracker, trials=1)
    with pytest.raises(UserError, match="study 's' was made with seed=0, not 1"):
        _search(tmp_path, micro_space, micro_base, mlflow_tracker, trials=1, seed=1)


def test_search_cli_then_train_the_best(
    tmp_path: Path, micro_space: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # the default store is what is checked here
    code = main(["search", "--space", str(micro_space), "--budget", "1xFLOPS", "--trials", "2", "--executor", "local",
                 "--epochs", "1", "--no-progress", "--output", "found"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Best trials:" in out and "nas-scaling train found/best.yaml" in out
    assert (tmp_path / "studies" / "studies.db").exists() and (tmp_path / "mlruns" / "mlflow.db").exists()
    code = main(["train", "found/best.yaml", "--epochs", "1", "--output", "trained"])
    assert code == 0
    metrics = json.loads((tmp_path / "trained" / "metrics.json").read_text())
    assert 0.0 <= metrics["val_top1"] <= 1.0


@pytest.mark.slow
def test_search_through_ray_with_asha(
    tmp_path: Path, micro_space: Path, micro_base: NetworkSpec, mlflow_tracker: MlflowTracker,
) -> None:
    result = _search(tmp_path, micro_space, micro_base, mlflow_tracker, executor="ray", trials=4,
                     train={"epochs": 3, "batch_size": 64})
    study = _study(tmp_path)
    trained = [t for t in study.trials if t.user_attrs.get("outcome") in ("complete", "pruned")]
    assert len(trained) == 4
    assert not study.get_trials(states=(TrialState.RUNNING, TrialState.WAITING))
    for t in trained:
        expected = TrialState.COMPLETE if t.user_attrs["outcome"] == "complete" else TrialState.PRUNED
        assert t.state == expected
        assert len(t.user_attrs["node"]) == 56, t.user_attrs  # a Ray node id: it ran in a Ray worker
        if t.state == TrialState.PRUNED:
            assert t.user_attrs["epochs"] < 3 and "ASHA" in t.user_attrs["reason"]
        else:
            assert t.user_attrs["epochs"] == 3
    assert result.counts["trained"] + result.counts["pruned"] == 4
    runs = mlflow_tracker.find_runs({"kind": "found", "study": "s"})
    assert sorted(r.status for r in runs) == sorted(
        "FINISHED" if t.state == TrialState.COMPLETE else "KILLED" for t in trained)


def test_grid_sampler_walks_a_finite_space_and_random_is_seeded(
    tmp_path: Path, micro_space: Path, micro_base: NetworkSpec, mlflow_tracker: MlflowTracker,
) -> None:
    _search(tmp_path, micro_space, micro_base, mlflow_tracker, sampler="grid", trials=2, study="g",
            early_stopping=False)
    grid_trials = [t for t in _study(tmp_path, "g").trials if t.user_attrs.get("outcome") == "complete"]
    assert len(grid_trials) == 2
    assert all("grid_id" in t.system_attrs for t in _study(tmp_path, "g").trials)

    def drawn(study: str) -> list[str]:
        _search(tmp_path, micro_space, micro_base, mlflow_tracker, sampler="random", trials=2, study=study,
                early_stopping=False, train={"epochs": 1, "batch_size": 256})
        return [t.user_attrs["arch"] for t in _study(tmp_path, study).trials if "arch" in t.user_attrs]

    assert drawn("r1") == drawn("r2")  # same seed, same architectures


@pytest.mark.parametrize("sampler", ["tpe", "random"])
def test_an_interrupted_and_resumed_search_trains_what_an_uninterrupted_one_does(
    tmp_path: Path, micro_space: Path, micro_base: NetworkSpec, mlflow_tracker: MlflowTracker,
    monkeypatch: pytest.MonkeyPatch, sampler: str,
) -> None:
    from nas_scaling.search import executors

    def complete(study: str) -> list[tuple[str, float]]:
        return sorted((t.user_attrs["arch"], t.value) for t in _study(tmp_path, study).trials
                      if t.user_attrs.get("outcome") == "complete")

    kw: dict[str, object] = dict(sampler=sampler, trials=5, early_stopping=False)
    _search(tmp_path, micro_space, micro_base, mlflow_tracker, study="whole", **kw)

    real = executors.run_task
    calls: list[str] = []

    def run_task(task, **options):  # type: ignore[no-untyped-def]
        calls.append(task.key)
        if len(calls) == 3:  # Ctrl-C while the third trial trains
            raise KeyboardInterrupt
        return real(task, **options)

    monkeypatch.setattr(executors, "run_task", run_task)
    with pytest.raises(KeyboardInterrupt):
        _search(tmp_path, micro_space, micro_base, mlflow_tracker, study="cut", **kw)
    monkeypatch.setattr(executors, "run_task", real)
    assert len(complete("cut")) == 2
    _search(tmp_path, micro_space, micro_base, mlflow_tracker, study="cut", **kw)
    assert complete("cut") == complete("whole")


class _AlwaysPrune:
    """A task source whose pruner says stop after every epoch."""

    def __init__(self, task: TrainTask) -> None:
        self.tasks = [task]
        self.reported: list[int] = []
        self.results: list[TaskResult] = []

    def next_task(self) -> TrainTask | None:
        return self.tasks.pop() if self.tasks else None

    def report(self, key: str, epoch: int, value: float) -> bool:
        self.reported.append(epoch)
        return True

    def finish(self, result: TaskResult) -> None:
        self.results.append(result)


@pytest.mark.parametrize(("epochs", "status", "trained"), [(3, TaskStatus.STOPPED, 1), (1, TaskStatus.COMPLETED, 1)])
def test_the_pruner_stops_a_trial_before_its_last_epoch_never_after_it(
    micro_base: NetworkSpec, epochs: int, status: TaskStatus, trained: int,
) -> None:
    task = TrainTask("k", spec_to_dict(micro_base), "digits", {"epochs": epochs, "batch_size": 256, "threads": 1})
    source = _AlwaysPrune(task)
    LocalExecutor().run_adaptive(source, 1, early_stopping=True, max_epochs=epochs)
    (result,) = source.results
    assert (result.status, result.epochs, source.reported) == (status, trained, [1])
