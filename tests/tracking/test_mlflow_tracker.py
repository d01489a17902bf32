"""The MLflow store the commands open: where it is, and that a change of folder moves it."""

from __future__ import annotations

from pathlib import Path

import pytest

from nas_scaling.tracking import DEFAULT_TRACKING_URI, artifact_root_for, open_tracker, resolve_tracking_uri


def test_default_store_is_absolute_sqlite_under_mlruns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert DEFAULT_TRACKING_URI == "sqlite:///mlruns/mlflow.db"
    assert resolve_tracking_uri() == f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    assert artifact_root_for(resolve_tracking_uri()) == tmp_path / "mlruns" / "artifacts"


def test_environment_and_explicit_uris_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///elsewhere/runs.db")
    assert resolve_tracking_uri() == f"sqlite:///{tmp_path}/elsewhere/runs.db"
    assert resolve_tracking_uri("sqlite:////abs/x.db") == "sqlite:////abs/x.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert resolve_tracking_uri() == "http://127.0.0.1:5000"
    assert artifact_root_for("http://127.0.0.1:5000") is None


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
