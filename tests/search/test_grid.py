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
    assert len(trials) == 4  # 3 candidates and the base, the control
    assert all(set(t.params) == {"alpha", "beta", "gamma"} for t in trials)
    assert sum(t.params == {"alpha": 1.0, "beta": 1.0, "gamma": 1.0} for t in trials) == 1
    assert all(0.0 <= t.value <= 1.0 for t in trials)
    assert not study.get_trials(states=(optuna.trial.TrialState.RUNNING,))

    children = tracker.find_runs({"kind": "grid", "study": "g"})
    assert len(children) == 4
    assert sorted(r.params["phi"] for r in children) == ["0", "1", "1", "1"]
    assert [r.tags.get("control") for r in children if r.params["phi"] == "0"] == ["base"]
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
    base = result_json["base"]
    assert (base["alpha"], base["beta"], base["gamma"], base["macs"]) == (1.0, 1.0, 1.0, result_json["base_macs"])
    assert result_json["budget_reading"] == "at most"
    best = result_json["candidates"][0]
    for c in result_json["candidates"]:
        assert {"alpha", "beta", "gamma", "factor_theoretical", "factor_real", "macs", "params", "val_top1_mean",
                "val_top1_std"} <= set(c)
        assert 2.0 * (1 - 0.15) <= c["factor_real"] <= 2.0  # at most the budget, within the default tolerance
        assert c["gain_over_base"] == pytest.approx(c["val_top1_mean"] - base["val_top1_mean"])
        p, n = c["val_top1_mean"], c["val_images"]
        assert n == 360 and c["val_top1_se"] == pytest.approx((p * (1 - p) / n) ** 0.5)  # digits: 360 val images
        gap = best["val_top1_mean"] - p
        assert c["tied_with_best"] == (gap <= 2 * (best["val_top1_se"] ** 2 + c["val_top1_se"] ** 2) ** 0.5)
    assert [m["phi"] for m in result_json["family"]] == [0, 1, 2, 3]
    macs = [m["macs"] for m in result_json["family"]]
    assert macs == sorted(macs) and macs[0] == result_json["base_macs"]


def test_grid_local_records_study_and_runs_and_resumes(
    tmp_path: Path, micro_base: NetworkSpec, mlflow_tracker: MlflowTracker
) -> None:
    out = tmp_path / "out" / "grid.json"
    result = run_grid(micro_base, _options(tmp_path, "local"), tracker=mlflow_tracker, output=out, log=lambda m: None)
    assert result.trained == 4
    assert out.with_suffix(".png").stat().st_size > 10_000
    _check_records(tmp_path, mlflow_tracker, json.loads(out.read_text()))

    again = run_grid(micro_base, _options(tmp_path, "local"), tracker=mlflow_tracker, output=out, log=lambda m: None)
    assert again.trained == 0
    assert [r.val_top1_mean for r in again.ranked] == [r.val_top1_mean for r in result.ranked]
    assert len(mlflow_tracker.find_runs({"kind": "grid", "study": "g"})) == 4

    # The process died after MLflow finished the runs but before their trials were written (here: a
    # study store without them): the trials are restored from the runs, nothing is trained again.
    repaired = run_grid(micro_base, _options(tmp_path / "lost", "local"), tracker=mlflow_tracker, output=out,
                        log=lambda m: None)
    assert (repaired.trained, repaired.restored) == (0, 4)
    assert [r.val_top1_mean for r in repaired.ranked] == [r.val_top1_mean for r in result.ranked]
    assert [r.standard_error for r in repaired.ranked] == [r.standard_error for r in result.ranked]
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
    assert result.trained == 4
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


def test_the_grid_table_shows_the_control_the_noise_and_the_ties(
    tmp_path: Path, micro_base: NetworkSpec, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nas_scaling.cli.main import main
    from nas_scaling.spec import save_spec

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.chdir(tmp_path)
    base = save_spec(micro_base, tmp_path / "micro.yaml")
    argv = ["grid", "--budget", "2xFLOPS", "--base", str(base), "--executor", "local", "--max-candidates", "2",
            "--epochs", "1", "--no-progress", "--storage", f"sqlite:///{tmp_path}/studies.db", "--approximately"]
    assert main(argv) == 0
    out = capsys.readouterr()
    assert "2x (approximately)" in out.err and "training 2 and the base (phi = 0, the control)" in out.err
    lines = out.out.splitlines()
    header = next(line for line in lines if line.startswith("rank"))
    assert "+- se" in header and "gain vs base" in header and header.split()[-1] == "tied"
    rows = [line.split() for line in lines[lines.index(header) + 1:lines.index(header) + 4]]
    assert [r[0] for r in rows] == ["1", "2", "base"]
    result = json.loads(next((tmp_path / "runs").glob("*/grid.json")).read_text())
    assert result["budget_reading"] == "approximately"
    best, second = result["candidates"]
    assert rows[0][-1] == "best" and (rows[1][-1] == "yes") == second["tied_with_best"]
    assert f"{100 * best['gain_over_base']:+.1f}" in rows[0] and f"{100 * best['val_top1_se']:.1f}" in rows[0]
    verdict = next(line for line in lines if line.startswith("chosen:"))
    if second["tied_with_best"]:
        assert f"tied within 2 standard errors with ({second['alpha']:g}, {second['beta']:g}, " in verdict
    else:
        assert "better than every other candidate by more than 2 standard errors" in verdict
