"""``nas-scaling compare`` over runs logged through a real MLflow tracker, and ``load_runs`` over the
in-memory one: both are read through the Tracker protocol."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from nas_scaling.cli.main import main
from nas_scaling.errors import UserError
from nas_scaling.report import load_runs, pareto_flags, run_dataset, run_inputs, table_rows
from nas_scaling.tracking import MemoryTracker, MlflowTracker, Tracker

# name, kind, val_top1, macs. Pareto within each dataset (see INPUTS): digits {h1, b}: both; no
# dataset {h2, g2}: g2 dominates h2; cifar10-dev {g1}: alone, so on its front.
RUNS = [
    ("h1", "handcrafted", 0.80, 1e6),
    ("h2", "handcrafted", 0.85, 9e6),
    ("g1", "grid", 0.82, 5e6),
    ("g2", "grid", 0.90, 4e6),
    ("b", "found", 0.95, 8e6),
]
PARETO = {"h1", "g2", "b", "g1"}


@pytest.fixture
def uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    return uri


# how each run recorded its inputs: new runs log dataset/in_channels/resolution, older ones only the
# compact line of the network (its '@16x1' is 16 px, 1 channel), the oldest nothing usable
INPUTS: dict[str, dict[str, object]] = {
    "h1": {"dataset": "digits", "in_channels": 1, "resolution": 16},
    "h2": {"arch": "conv_r1_s1_c8_k3_p1_bn1_b0_relu | pool_r1_s2_max_k2_p0_ceil0 | head_c0_n0_relu_avg1_h0_d0_linear "
                   "@32x3 ->10 sd0"},
    "g1": {"dataset": "imagefolder:/data/sets/cifar10-dev/", "in_channels": 3, "resolution": 32},
    "g2": {},
    "b": {"dataset": "digits", "in_channels": 1, "resolution": 16, "arch": "x @99x3 ->10 sd0"},
}
SHOWN = {"h1": ("digits", "1x16x16"), "h2": (None, "3x32x32"), "g1": ("imagefolder:cifar10-dev", "3x32x32"),
         "g2": (None, None), "b": ("digits", "1x16x16")}


def _log_runs(tracker: Tracker) -> None:
    parent = tracker.start_run("study", tags={"kind": "grid-parent"})
    tracker.log(parent, metrics={"best_val_top1": 0.9})
    tracker.end_run(parent)
    for name, kind, top1, macs in RUNS:
        run_name = name if kind == "grid" else f"run-{name}"  # others: params.name wins
        run_id = tracker.start_run(run_name, tags={"kind": kind},
                                   parent_id=parent if kind == "grid" else None)
        params: dict[str, object] = {"arch": "x", "name": name} if kind != "grid" else {"alpha": 1.2}
        params.update(INPUTS[name])
        metrics = {"val_top1": top1, "val_top5": 1.0, "macs": macs, "params": 1000.0, "train_seconds": 2.5}
        if name == "b":
            metrics["test_top1"] = 0.93
        tracker.log(run_id, params=params, metrics=metrics)
        tracker.end_run(run_id)
    failed = tracker.start_run("broken", tags={"kind": "handcrafted"})
    tracker.log(failed, metrics={"val_top1": 0.99, "macs": 1.0})
    tracker.end_run(failed, "FAILED")


@pytest.fixture
def runs(uri: str, tmp_path: Path) -> None:
    _log_runs(MlflowTracker(uri, experiment="nas-scaling", artifact_root=tmp_path / "artifacts"))


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
    assert {n: (r["dataset"], r["inputs"]) for n, r in by.items()} == SHOWN
    assert list(rows[0])[:4] == ["kind", "name", "dataset", "inputs"]


@pytest.mark.usefixtures("runs")
def test_table_csv_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    table = _out(capsys, ["compare"]).splitlines()
    assert table[0].split()[:6] == ["kind", "name", "dataset", "inputs", "val_top1", "val_top5"] and len(table) == 6
    assert table[1].split()[:4] == ["found", "b", "digits", "1x16x16"]
    assert table[2].split()[:4] == ["grid", "g2", "-", "-"]  # a run that recorded no inputs

    rows = list(csv.DictReader(io.StringIO(_out(capsys, ["compare", "--format", "csv"]))))
    assert [r["name"] for r in rows] == ["b", "g2", "h2", "g1", "h1"]
    assert [r["pareto"] for r in rows] == ["True", "True", "False", "True", "True"]
    assert [r["inputs"] for r in rows] == ["1x16x16", "", "3x32x32", "3x32x32", "1x16x16"]

    md = _out(capsys, ["compare", "--format", "markdown"]).splitlines()
    assert md[0].startswith("| kind | name | dataset | inputs | val_top1")
    assert md[1].startswith("|:---|:---|:---|:---|---:")
    assert len(md) == 7 and md[2].startswith("| found | b | digits | 1x16x16 | 0.95 |")
    assert md[3].startswith("| grid | g2 | - | - | 0.9 |")


@pytest.mark.usefixtures("runs")
def test_plot_is_written(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plot = tmp_path / "out" / "compare.png"
    _out(capsys, ["compare", "--plot", str(plot)])
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000


def test_no_runs_is_one_line(uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare"]) == 2  # no database yet
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nas-scaling baseline" in err
    assert not (tmp_path / "mlflow.db").exists()  # a reader makes no store
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

    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert len(load_runs(MlflowTracker(uri, experiment="nas-scaling", create=False))) == len(RUNS)
    assert "MLFLOW_TRACKING_URI" not in os.environ
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///elsewhere.db")
    load_runs(MlflowTracker(uri, experiment="nas-scaling", create=False))
    assert os.environ["MLFLOW_TRACKING_URI"] == "sqlite:///elsewhere.db"
    assert not Path("elsewhere.db").exists()


def test_the_in_memory_tracker_gives_the_same_table(runs: None, uri: str) -> None:
    memory = MemoryTracker()
    _log_runs(memory)
    mlflow_rows = table_rows(load_runs(MlflowTracker(uri, experiment="nas-scaling", create=False)))
    memory_rows = table_rows(load_runs(memory))
    assert memory_rows == mlflow_rows
    assert [r["name"] for r in memory_rows] == ["b", "g2", "h2", "g1", "h1"]


def test_nothing_to_compare_names_the_source() -> None:
    tracker = MemoryTracker()
    tracker.end_run(tracker.start_run("parent", tags={"kind": "grid-parent"}))
    tracker.start_run("still running", tags={"kind": "grid"})
    with pytest.raises(UserError, match=r"^no finished runs in experiment 'x'; run 'nas-scaling grid'"):
        load_runs(tracker, source="experiment 'x'")


@pytest.mark.parametrize(
    ("params", "inputs"),
    [
        ({"in_channels": "3", "resolution": "32"}, "3x32x32"),
        ({"arch": "conv_r1_s1_c8 | head_c0 @16x1 ->10 sd0"}, "1x16x16"),
        ({"in_channels": "3", "arch": "a @16x1 ->10 sd0"}, "3x16x16"),  # the logged param wins
        ({"resolution": "24", "arch": "a @16x1 ->10 sd0"}, "1x24x24"),
        ({"arch": "x"}, None),
        ({"in_channels": "3"}, None),
        ({"in_channels": "three", "resolution": "32"}, None),
        ({}, None),
    ],
)
def test_run_inputs(params: dict[str, str], inputs: str | None) -> None:
    assert run_inputs(params) == inputs


def test_run_inputs_reads_the_compact_line_of_a_real_spec() -> None:
    from nas_scaling.spec import network_to_compact
    from nas_scaling.zoo import get_spec

    spec = get_spec("efficientnet_tiny", in_channels=3)
    assert run_inputs({"arch": network_to_compact(spec)}) == f"3x{spec.resolution}x{spec.resolution}"


def test_run_dataset_shortens_image_folders() -> None:
    assert run_dataset({"dataset": "imagefolder:/home/u/data/cifar10-dev"}) == "imagefolder:cifar10-dev"
    assert run_dataset({"dataset": "imagefolder:/home/u/data/cifar10-dev/"}) == "imagefolder:cifar10-dev"
    assert run_dataset({"dataset": "cifar10"}) == "cifar10"
    assert run_dataset({"dataset": ""}) is None and run_dataset({}) is None
