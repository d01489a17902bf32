"""The MLflow store the commands open: where it is, and that a change of folder moves it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nas_scaling.cli.common import open_tracker, tracking_uri
from nas_scaling.tracking import (
    DEFAULT_TRACKING_URI,
    MemoryTracker,
    MlflowTracker,
    RunRecord,
    artifact_root_for,
    open_parent_run,
)


def test_default_store_is_absolute_sqlite_under_mlruns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert DEFAULT_TRACKING_URI == "sqlite:///mlruns/mlflow.db"
    assert tracking_uri() == f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    assert artifact_root_for(tracking_uri()) == tmp_path / "mlruns" / "artifacts"


def test_environment_and_explicit_uris_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///elsewhere/runs.db")
    assert tracking_uri() == f"sqlite:///{tmp_path}/elsewhere/runs.db"
    assert tracking_uri("sqlite:////abs/x.db") == "sqlite:////abs/x.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking_uri() == "http://127.0.0.1:5000"
    assert artifact_root_for("http://127.0.0.1:5000") is None


def test_artifacts_go_beside_the_database_not_into_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    tracker = MlflowTracker(f"sqlite:///{tmp_path}/store/mlflow.db", experiment="e")
    run_id = tracker.start_run("r", tags={})
    (tmp_path / "spec.yaml").write_text("name: x\n")
    tracker.log_artifact(run_id, tmp_path / "spec.yaml")
    assert list((tmp_path / "store" / "artifacts").rglob("spec.yaml"))
    assert not (work / "mlruns").exists()  # MLflow's default for a new experiment is ./mlruns/<id>


def test_change_of_folder_in_one_process_opens_the_new_folders_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # MLflow caches one engine per URI string for the process; with the relative default URI the
    # second tracker wrote into the first folder's database (found as a CI failure in test order).
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    run_ids = []
    for name in ("first", "second"):
        folder = tmp_path / name
        folder.mkdir()
        monkeypatch.chdir(folder)
        tracker = open_tracker()
        run_id = tracker.start_run(name, tags={"kind": "test"})
        tracker.end_run(run_id)
        run_ids.append(run_id)
        assert (folder / "mlruns" / "mlflow.db").exists()
        assert [r.run_id for r in tracker.find_runs({"kind": "test"})] == [run_id]
    assert run_ids[0] != run_ids[1]


def _open_parent_in_worker(db: str, barrier: Any, out: Any) -> None:
    from nas_scaling.tracking import MlflowTracker, open_parent_run

    tracker = MlflowTracker(f"sqlite:///{db}", experiment="nas-scaling")
    barrier.wait()  # every worker finds no parent, as when several workers start one study together
    out.put(open_parent_run(tracker, "study", {"kind": "search-parent", "study": "s"})[0])


@pytest.mark.slow
def test_workers_starting_together_share_one_parent_run(tmp_path: Path) -> None:
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    db = str(tmp_path / "mlflow.db")
    MlflowTracker(f"sqlite:///{db}", experiment="nas-scaling").open()  # schema made once, before the race
    barrier, out = ctx.Barrier(4), ctx.Queue()
    workers = [ctx.Process(target=_open_parent_in_worker, args=(db, barrier, out)) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    ids = {out.get(timeout=5) for _ in workers}
    assert len(ids) == 1
    parents = MlflowTracker(f"sqlite:///{db}", experiment="nas-scaling").find_runs({"kind": "search-parent"})
    assert [r.run_id for r in parents] == list(ids)


class _LateLook(MlflowTracker):
    """Its first look finds nothing: another worker made the parent just after this one looked."""

    looks = 0

    def find_runs(self, tags: dict[str, str]) -> list[RunRecord]:
        self.looks += 1
        return [] if self.looks == 1 else super().find_runs(tags)


def test_a_parent_made_in_the_same_moment_is_given_up_for_the_earlier_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    tags = {"kind": "grid-parent", "study": "s"}
    other = MlflowTracker(uri, experiment="nas-scaling")
    theirs = other.start_run("s", tags=tags)
    late = _LateLook(uri, experiment="nas-scaling")
    run_id, made = open_parent_run(late, "s", tags)
    assert (run_id, made) == (theirs, False)
    assert [r.run_id for r in other.find_runs(tags)] == [theirs]  # the late one's run is deleted
    again, made = open_parent_run(other, "s", tags)  # a resume finds it
    assert (again, made) == (theirs, False)


def test_first_worker_makes_the_parent() -> None:
    tracker = MemoryTracker()
    run_id, made = open_parent_run(tracker, "s", {"kind": "search-parent", "study": "s"})
    assert made and tracker.runs[run_id].status == "RUNNING"
    tracker.end_run(run_id, "KILLED")
    assert open_parent_run(tracker, "s", {"kind": "search-parent", "study": "s"}) == (run_id, False)
    assert tracker.runs[run_id].status == "RUNNING"
    child = tracker.start_run("c", tags={"kind": "search-parent", "study": "s"}, parent_id=run_id)
    assert open_parent_run(tracker, "s", {"kind": "search-parent", "study": "s"}) == (run_id, False)  # not a child
    assert child in tracker.runs


def test_a_command_stopped_by_a_user_mistake_leaves_no_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from nas_scaling.cli.main import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["grid", "--budget", "0.5xFLOPS", "--executor", "local"]) == 2  # refused when planning
    assert "must be at least 1x" in capsys.readouterr().err
    assert not (tmp_path / "mlruns").exists()
    tracker = open_tracker()
    assert not (tmp_path / "mlruns").exists()  # opened on first use
    tracker.start_run("r", tags={})
    assert (tmp_path / "mlruns" / "mlflow.db").exists()
