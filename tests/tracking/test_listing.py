"""Listing runs through the Tracker protocol, as reports do: the same answer from every tracker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import nas_scaling.tracking.mlflow_tracker as mlflow_tracker
from nas_scaling.errors import UserError
from nas_scaling.tracking import MemoryTracker, MlflowTracker, RunRecord, Tracker


@pytest.fixture(params=["memory", "mlflow"])
def tracker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Tracker]:
    if request.param == "memory":
        yield MemoryTracker()
    else:
        yield MlflowTracker(f"sqlite:///{tmp_path}/mlflow.db", experiment="e", artifact_root=tmp_path / "art")


def _fill(tracker: Tracker) -> dict[str, str]:
    parent = tracker.start_run("parent", tags={"kind": "grid-parent"})
    child = tracker.start_run("child", tags={"kind": "grid", "study": "s"}, parent_id=parent)
    tracker.log(child, params={"in_channels": 3, "resolution": 32, "dataset": "cifar10"},
                metrics={"val_top1": 0.5, "macs": 1e6}, tags={"extra": "yes"})
    tracker.end_run(child)
    failed = tracker.start_run("failed", tags={"kind": "found"})
    tracker.end_run(failed, "FAILED")
    gone = tracker.start_run("gone", tags={"kind": "found"})
    tracker.delete_run(gone)
    return {"parent": parent, "child": child, "failed": failed}


def test_find_runs_with_no_tags_lists_every_run_with_its_record(tracker: Tracker) -> None:
    ids = _fill(tracker)
    runs = {r.name: r for r in tracker.find_runs({})}
    assert set(runs) == {"parent", "child", "failed"}  # a deleted run is not listed
    child = runs["child"]
    assert isinstance(child, RunRecord)
    assert child.run_id == ids["child"] and child.parent_id == ids["parent"] and child.status == "FINISHED"
    assert child.params == {"in_channels": "3", "resolution": "32", "dataset": "cifar10"}  # params are strings
    assert child.metrics == {"val_top1": 0.5, "macs": 1e6}
    assert child.tags["kind"] == "grid" and child.tags["study"] == "s" and child.tags["extra"] == "yes"
    assert runs["failed"].status == "FAILED" and runs["parent"].status == "RUNNING"
    assert [r.name for r in tracker.find_runs({"kind": "grid", "study": "s"})] == ["child"]
    assert tracker.find_runs({"kind": "nothing"}) == []


def test_mlflow_listing_pages_through_long_studies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mlflow_tracker, "_PAGE", 2)
    tracker = MlflowTracker(f"sqlite:///{tmp_path}/mlflow.db", experiment="e")
    made = {tracker.start_run(f"r{i}", tags={"kind": "grid"}) for i in range(5)}
    assert {r.run_id for r in tracker.find_runs({})} == made
    assert {r.run_id for r in tracker.find_runs({"kind": "grid"})} == made


def test_a_reader_makes_nothing_and_says_what_is_missing(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/store/mlflow.db"
    with pytest.raises(UserError, match=r"^no MLflow database at '.*store/mlflow.db'; run 'nas-scaling grid'"):
        MlflowTracker(uri, experiment="e", create=False).find_runs({})
    assert not (tmp_path / "store").exists()
    writer = MlflowTracker(uri, experiment="e")
    writer.end_run(writer.start_run("r", tags={"kind": "grid"}))
    with pytest.raises(UserError, match=r"^unknown experiment 'other' at sqlite:///.*; the commands log to"):
        MlflowTracker(uri, experiment="other", create=False).find_runs({})
    reader = MlflowTracker(uri, experiment="e", create=False)
    assert [r.name for r in reader.find_runs({})] == ["r"]
    assert {e.name for e in writer.client.search_experiments()} == {"e", "Default"}  # 'other' not made
