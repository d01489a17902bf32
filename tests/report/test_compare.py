"""``nas-scaling compare`` over runs logged through a real MLflow tracker."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from nas_scaling.cli.main import main
from nas_scaling.report import pareto_flags
from nas_scaling.tracking import MlflowTracker

# name, kind, val_top1, macs; pareto: b (best), h1 (cheapest), g2 (in between). g1 and h2 are dominated.
RUNS = [
    ("h1", "handcrafted", 0.80, 1e6),
    ("h2", "handcrafted", 0.85, 9e6),
    ("g1", "grid", 0.82, 5e6),
    ("g2", "grid", 0.90, 4e6),
    ("b", "found", 0.95, 8e6),
]
PARETO = {"h1", "g2", "b"}


@pytest.fixture
def uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    return uri


@pytest.fixture
def runs(uri: str, tmp_path: Path) -> None:
    tracker = MlflowTracker(uri, experiment="nas-scaling", artifact_root=tmp_path / "artifacts")
    parent = tracker.start_run("study", tags={"kind": "grid-parent"})
    tracker.log(parent, metrics={"best_val_top1": 0.9})
    tracker.end_run(parent)
    for name, kind, top1, macs in RUNS:
        run_name = name if kind == "grid" else f"run-{name}"  # others: params.name wins
        run_id = tracker.start_run(run_name, tags={"kind": kind},
                                   parent_id=parent if kind == "grid" else None)
        params: dict[str, object] = {"arch": "x", "name": name} if kind != "grid" else {"alpha": 1.2}
        metrics = {"val_top1": top1, "val_top5": 1.0, "macs": macs, "params": 1000.0, "train_seconds": 2.5}
        if name == "b":
            metrics["test_top1"] = 0.93
        tracker.log(run_id, params=params, metrics=metrics)
        tracker.end_run(run_id)
    failed = tracker.start_run("broken", tags={"kind": "handcrafted"})
    tracker.log(failed, metrics={"val_top1": 0.99, "macs": 1.0})
    tracker.end_run(failed, "FAILED")


def _out(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 0
    return capsys.readouterr().out


def test_pareto_flags_by_hand() -> None:
    assert pareto_flags([0.8, 0.85, 0.82, 0.9, 0.95], [1, 9, 5, 4, 8]) == [True, False, False, True, True]
    assert pareto_flags([0.5, 0.5], [2, 2]) == [True, True]  # ties dominate nothing
    assert pareto_flags([0.5, None, 0.4], [1, 1, float("nan")]) == [True, False, False]


@pytest.mark.usefixtures("runs")
def test_json_rows_sorted_with_pareto(capsys: pytest.CaptureFixture[str]) -> None:
    rows = json.loads(_out(capsys, ["compare", "--format", "json"]))
    names = [r["name"] for r in rows]
    assert names == ["b", "g2", "h2", "g1", "h1"]  # no parent, no failed run
    by = {r["name"]: r for r in rows}
    assert {n for n, r in by.items() if r["pareto"]} == PARETO
    assert by["g1"]["name"] == "g1" and by["g1"]["kind"] == "grid"  # grid runs: the run name
    assert by["b"]["kind"] == "found" and by["b"]["test_top1"] == pytest.approx(0.93)
    assert by["h1"]["test_top1"] is None and by["h1"]["macs"] == 1_000_000
    assert "latency_ms" not in by["h1"]  # never logged


@pytest.mark.usefixtures("runs")
def test_table_csv_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    table = _out(capsys, ["compare"]).splitlines()
    assert table[0].split()[:4] == ["kind", "name", "val_top1", "val_top5"] and len(table) == 6
    assert table[1].split()[1] == "b"

    rows = list(csv.DictReader(io.StringIO(_out(capsys, ["compare", "--format", "csv"]))))
    assert [r["name"] for r in rows] == ["b", "g2", "h2", "g1", "h1"]
    assert [r["pareto"] for r in rows] == ["True", "True", "False", "False", "True"]

    md = _out(capsys, ["compare", "--format", "markdown"]).splitlines()
    assert md[0].startswith("| kind | name | val_top1") and md[1].startswith("|:---|:---|---:")
    assert len(md) == 7 and md[2].startswith("| found | b | 0.95 |")


@pytest.mark.usefixtures("runs")
def test_plot_is_written(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plot = tmp_path / "out" / "compare.png"
    _out(capsys, ["compare", "--plot", str(plot)])
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000


def test_no_runs_is_one_line(uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare"]) == 2  # no database yet
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nas-scaling baseline" in err
    MlflowTracker(uri, experiment="nas-scaling", artifact_root=tmp_path / "artifacts").open()
    assert main(["compare"]) == 2  # experiment without runs
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no finished runs in experiment 'nas-scaling'" in err
    assert main(["compare", "--experiment", "other"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown experiment 'other'" in err


def test_loading_runs_leaves_the_environment_alone(runs: None, uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI; a comparison must not leave it behind, or
    every later command of the process would log to the compared store."""
    import os

    from nas_scaling.report.compare import load_runs

    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert len(load_runs(uri, "nas-scaling")) == len(RUNS)
    assert "MLFLOW_TRACKING_URI" not in os.environ
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///elsewhere.db")
    load_runs(uri, "nas-scaling")
    assert os.environ["MLFLOW_TRACKING_URI"] == "sqlite:///elsewhere.db"
