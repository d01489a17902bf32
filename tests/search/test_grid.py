"""The grid end to end on tiny settings: real Optuna SQLite storage, real MLflow store."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from nas_scaling.cost import parse_budget
from nas_scaling.experiments.grid import GridOptions, run_grid
from nas_scaling.spec import NetworkSpec
from nas_scaling.tracking import MlflowTracker


def _options(tmp_path: Path, executor: str, **kw: object) -> GridOptions:
    base = dict(
        budget=parse_budget("2xFLOPS"), max_candidates=3, train={"epochs": 1}, executor=executor, study="g",
        storage=f"sqlite:///{tmp_path}/studies/studies.db", progress=False, phi_max=3,
    )
    base.update(kw)
    return GridOptions(**base)  # type: ignore[arg-type]


def _check_records(tmp_path: Path, tracker: MlflowTracker, result_json: dict) -> None:
    study = optuna.load_study(study_name="g", storage=f"sqlite:///{tmp_path}/studies/studies.db")
    trials = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(trials) == 3
    assert all(set(t.params) == {"alpha", "beta", "gamma"} for t in trials)
    assert all(0.0 <= t.value <= 1.0 for t in trials)
    assert not study.get_trials(states=(optuna.trial.TrialState.RUNNING,))

    children = tracker.find_runs({"kind": "grid", "study": "g"})
    assert len(children) == 3
    for run in children:
        assert run.status == "FINISHED"
        assert {"alpha", "beta", "gamma", "phi", "budget", "arch"} <= set(run.params)
        assert {"val_top1", "val_top5", "macs", "params", "train_seconds"} <= set(run.metrics)
        assert run.params["budget"] == "2xFLOPS"
        assert run.parent_id is not None
        artifacts = [a.path for a in tracker.client.list_artifacts(run.run_id)]
        assert "spec.yaml" in artifacts
    [parent] = tracker.find_runs({"kind": "grid-parent", "study": "g"})
    assert parent.status == "FINISHED"
    assert {c.parent_id for c in children} == {parent.run_id}

    assert set(result_json) >= {"best", "candidates", "family", "base_macs"}
    assert set(result_json["best"]) == {"alpha", "beta", "gamma"}
    assert len(result_json["candidates"]) == 3
    for c in result_json["candidates"]:
        assert {"alpha", "beta", "gamma", "factor_theoretical", "factor_real", "macs", "params", "val_top1_mean",
                "val_top1_std"} <= set(c)
        assert abs(c["factor_real"] - 2.0) <= 0.15 * 2.0 + 1e-9  # within the default tolerance
    assert [m["phi"] for m in result_json["family"]] == [0, 1, 2, 3]
    macs = [m["macs"] for m in result_json["family"]]
    assert macs == sorted(macs) and macs[0] == result_json["base_macs"]


def test_grid_local_records_study_and_runs_and_resumes(
    tmp_path: Path, micro_base: NetworkSpec, mlflow_tracker: MlflowTracker
) -> None:
    out = tmp_path / "out" / "grid.json"
    result = run_grid(micro_base, _options(tmp_path, "local"), tracker=mlflow_tracker, output=out, log=lambda m: None)
    assert result.trained == 3
    assert out.with_suffix(".png").stat().st_size > 10_000
    _check_records(tmp_path, mlflow_tracker, json.loads(out.read_text()))

    again = run_grid(micro_base, _options(tmp_path, "local"), tracker=mlflow_tracker, output=out, log=lambda m: None)
    assert again.trained == 0
    assert [r.val_top1_mean for r in again.ranked] == [r.val_top1_mean for r in result.ranked]
    assert len(mlflow_tracker.find_runs({"kind": "grid", "study": "g"})) == 3

    # The process died after MLflow finished the runs but before their trials were written (here: a
    # study store without them): the trials are restored from the runs, nothing is trained again.
    repaired = run_grid(micro_base, _options(tmp_path / "lost", "local"), tracker=mlflow_tracker, output=out,
                        log=lambda m: None)
    assert (repaired.trained, repaired.restored) == (0, 3)
    assert [r.val_top1_mean for r in repaired.ranked] == [r.val_top1_mean for r in result.ranked]
    assert [r.train_seconds for r in repaired.ranked] == [r.train_seconds for r in result.ranked]


def test_a_resumed_study_must_use_the_same_training(
    tmp_path: Path, micro_base: NetworkSpec, mlflow_tracker: MlflowTracker
) -> None:
    from nas_scaling.errors import UserError

    run_grid(micro_base, _options(tmp_path, "local", max_candidates=1), tracker=mlflow_tracker, log=lambda m: None)
    with pytest.raises(UserError, match="study 'g' was made with train="):
        run_grid(micro_base, _options(tmp_path, "local", max_candidates=1, train={"epochs": 2}),
                 tracker=mlflow_tracker, log=lambda m: None)


@pytest.mark.slow
def test_grid_through_ray(tmp_path: Path, micro_base: NetworkSpec, mlflow_tracker: MlflowTracker) -> None:
    out = tmp_path / "grid.json"
    result = run_grid(micro_base, _options(tmp_path, "ray"), tracker=mlflow_tracker, output=out, log=lambda m: None)
    assert result.trained == 3
    _check_records(tmp_path, mlflow_tracker, json.loads(out.read_text()))


def test_same_seed_gives_the_same_ranking_locally(tmp_path: Path, micro_base: NetworkSpec) -> None:
    results = []
    for i in range(2):
        folder = tmp_path / str(i)
        tracker = MlflowTracker(f"sqlite:///{folder}/mlflow.db", experiment="t", artifact_root=folder / "artifacts")
        options = _options(folder, "local", max_candidates=2)
        result = run_grid(micro_base, options, tracker=tracker, log=lambda m: None)
        results.append([(r.candidate.key, r.val_top1_mean) for r in result.ranked])
    assert results[0] == results[1]
