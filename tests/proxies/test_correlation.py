"""The correlation study: coefficients, and ``nas-scaling proxies`` end to end on micro networks."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from nas_scaling.cli.main import main
from nas_scaling.cost import parse_budget
from nas_scaling.experiments.prescreen import VOTE_PROXIES
from nas_scaling.experiments.proxy_study import run_study, write_outputs
from nas_scaling.proxies import PROXIES, vote
from nas_scaling.proxies.correlation import correlate
from nas_scaling.search import executors
from nas_scaling.search.space import load_space
from nas_scaling.search.work import TaskResult, TrainTask
from nas_scaling.spec import NetworkSpec
from nas_scaling.tracking import MlflowTracker, RunRecord


def test_monotone_scores_correlate_perfectly() -> None:
    acc = [0.1, 0.5, 0.3, 0.9]
    up = correlate("x", [1.0, 5.0, 3.0, 9.0], acc)
    assert (up.spearman, up.kendall, up.n, up.non_finite) == (pytest.approx(1.0), pytest.approx(1.0), 4, 0)
    down = correlate("x", [-1.0, -5.0, -3.0, -9.0], acc)
    assert (down.spearman, down.kendall) == (pytest.approx(-1.0), pytest.approx(-1.0))


def test_coefficients_agree_with_pandas() -> None:
    scores = [0.3, 2.0, 1.1, 0.7, 5.0, 4.2, 0.1]
    acc = [0.60, 0.90, 0.70, 0.80, 0.85, 0.95, 0.5]
    c = correlate("x", scores, acc)
    s, a = pd.Series(scores), pd.Series(acc)
    assert c.spearman == pytest.approx(s.corr(a, method="spearman"))
    assert c.kendall == pytest.approx(s.corr(a, method="kendall"))
    assert c.spearman_p is not None and 0 < c.spearman_p < 1


def test_non_finite_scores_rank_lowest() -> None:
    c = correlate("x", [math.nan, -math.inf, 2.0, 3.0], [0.1, 0.2, 0.5, 0.9])
    assert c.non_finite == 2
    tied_lowest = pd.Series([-1.0, -1.0, 2.0, 3.0]).corr(pd.Series([0.1, 0.2, 0.5, 0.9]), method="spearman")
    assert c.spearman == pytest.approx(tied_lowest)  # nan and -inf tie for the lowest rank
    assert math.isnan(correlate("x", [1.0, 1.0, 1.0], [0.1, 0.2, 0.3]).spearman)  # a constant proxy ranks nothing


def test_the_study_trains_the_first_k_draws_and_correlates_every_proxy(tmp_path: Path, micro_space: Path,
                                                                        micro_base: NetworkSpec) -> None:
    result = run_study(load_space(micro_space), micro_base, parse_budget("1xFLOPS"), samples=6, train_top=4,
                       train={"epochs": 1, "threads": 1}, executor="local", progress=False, log=lambda m: None)
    assert [c.proxy for c in result.correlations] == [*PROXIES, "vote"]
    rows = result.candidates
    assert [r["index"] for r in rows] == list(range(6))
    assert [r["val_top1"] is not None for r in rows] == [True] * 4 + [False] * 2  # the first K draws, not the top K
    assert len({r["arch"] for r in rows}) == 6
    trained = rows[:4]
    for c in result.correlations:
        assert c.n == 4
        expected = correlate(c.proxy, [r[c.proxy] for r in trained], [r["val_top1"] for r in trained])
        assert (c.spearman, c.kendall) == (expected.spearman, expected.kendall) or math.isnan(c.spearman)
    assert [r["vote"] for r in rows] == vote([{k: r[k] for k in VOTE_PROXIES} for r in rows])

    files = write_outputs(result, tmp_path / "study")
    assert [f.name for f in files] == ["proxies.json", "candidates.csv", "proxies.png"]
    with (tmp_path / "study" / "candidates.csv").open() as f:
        assert len(list(csv.DictReader(f))) == 6
    assert (tmp_path / "study" / "proxies.png").stat().st_size > 20_000
    saved = json.loads((tmp_path / "study" / "proxies.json").read_text())
    assert saved["samples"] == 6 and saved["trained"] == 4 and set(saved["correlations"]) == {*PROXIES, "vote"}


@pytest.mark.slow
def test_proxies_command_end_to_end(
    tmp_path: Path, micro_space: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = ["proxies", "--space", str(micro_space), "--samples", "6", "--train-top", "4", "--epochs", "1",
            "--budget", "1xFLOPS", "--executor", "local", "--no-progress", "--output", "study"]
    assert main([*argv, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["samples"] == 6 and data["trained"] == 4
    assert set(data["correlations"]) == {*PROXIES, "vote"}
    for c in data["correlations"].values():
        assert c["n"] == 4
        assert c["spearman"] is None or -1 <= c["spearman"] <= 1
        assert c["kendall"] is None or -1 <= c["kendall"] <= 1
    assert [r["val_top1"] is not None for r in data["candidates"]] == [True] * 4 + [False] * 2
    saved = json.loads((tmp_path / "study" / "proxies.json").read_text())
    assert saved["correlations"] == data["correlations"]
    assert (tmp_path / "study" / "proxies.png").exists() and (tmp_path / "study" / "candidates.csv").exists()
    assert (tmp_path / "mlruns" / "mlflow.db").exists() and data["study"].startswith("proxies-micro-digits-1xFLOPS-s0-")
    assert main([*argv, "--format", "json"]) == 0  # the same command again: resumed, nothing trained twice
    again = json.loads(capsys.readouterr().out)
    assert again["restored"] == 4 and again["correlations"] == data["correlations"]


@pytest.mark.parametrize(("extra", "message"), [
    (["--samples", "0", "--train-top", "3"], "argument --samples: must be a positive integer, got '0'"),
    (["--samples", "4", "--train-top", "5"], "--train-top must be at most --samples, got 5 > 4"),
    (["--samples", "4", "--train-top", "2"], "--train-top must be at least 3 for a rank correlation, got 2"),
    (["--samples", "4", "--train-top", "3", "--budget", "2x"], "budget must look like"),
    (["--samples", "4", "--train-top", "3", "--executor", "slurm"], "argument --executor: invalid choice: 'slurm'"),
])
def test_bad_proxies_input_gives_one_line_and_exit_2(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    space = Path(__file__).resolve().parents[2] / "search_spaces" / "mixed.yaml"
    assert main(["proxies", "--space", str(space), *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_a_missing_space_file_gives_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["proxies", "--space", str(tmp_path / "nope.yaml"), "--samples", "4", "--train-top", "3"]) == 2
    assert "does not exist" in capsys.readouterr().err


def _children(tracker: MlflowTracker, study: str) -> list[RunRecord]:
    return tracker.find_runs({"kind": "proxies", "study": study})


def test_the_study_is_tracked_in_mlflow_and_an_interrupted_one_resumes(
    micro_space: Path, micro_base: NetworkSpec, mlflow_tracker: MlflowTracker, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    space = load_space(micro_space)
    trained: list[str] = []
    interrupted: list[str] = []
    real_run_task = executors.run_task

    def run_task(task: TrainTask, **kw: object) -> TaskResult:
        if len(trained) == 2 and not interrupted:
            interrupted.append(task.key)
            raise KeyboardInterrupt  # Ctrl-C while the third candidate trains
        trained.append(task.key)
        return real_run_task(task, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(executors, "run_task", run_task)
    kwargs: dict[str, Any] = {"samples": 6, "train_top": 4, "train": {"epochs": 1, "threads": 1}, "executor": "local",
                              "progress": False, "log": lambda m: None, "tracker": mlflow_tracker}
    with pytest.raises(KeyboardInterrupt):
        run_study(space, micro_base, parse_budget("1xFLOPS"), **kwargs)
    [parent] = mlflow_tracker.find_runs({"kind": "proxies-parent"})
    study = parent.tags["study"]
    assert parent.status == "KILLED"
    # the interrupted candidate's run started with its training (visible while it trained): now KILLED
    assert sorted(r.status for r in _children(mlflow_tracker, study)) == ["FINISHED", "FINISHED", "KILLED"]

    result = run_study(space, micro_base, parse_budget("1xFLOPS"), output=tmp_path / "out", **kwargs)  # again
    assert result.study == study and result.restored == 2 and sorted(trained) == ["c0", "c1", "c2", "c3"]  # each once
    [parent] = mlflow_tracker.find_runs({"kind": "proxies-parent"})
    assert parent.status == "FINISHED" and parent.run_id == result.parent_run_id
    assert parent.metrics["trained"] == 4
    for c in result.correlations:
        if not math.isnan(c.spearman):
            assert parent.metrics[f"spearman_{c.proxy}"] == pytest.approx(c.spearman)
    children = [r for r in _children(mlflow_tracker, study) if r.status == "FINISHED"]
    assert len(children) == 4 and len(_children(mlflow_tracker, study)) == 5  # the KILLED attempt stays
    rows = {r["arch"]: r for r in result.candidates}
    for run in children:
        row = rows[run.tags["arch"]]
        assert run.parent_id == parent.run_id and run.params["arch"] == row["arch"]
        assert run.metrics["val_top1"] == pytest.approx(row["val_top1"])
        assert run.metrics["macs"] == row["macs"] and run.metrics["params"] == row["params"]
        assert {f"proxy_{p}" for p in (*PROXIES, "vote")} <= set(run.metrics) or any(
            not math.isfinite(row[p]) for p in PROXIES)
    assert [f.name for f in result.files] == ["proxies.json", "candidates.csv", "proxies.png"]
