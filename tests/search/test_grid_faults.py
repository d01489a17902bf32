"""A grid killed with SIGKILL mid-run resumes without losing or retraining finished candidates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from nas_scaling.spec import NetworkSpec, save_spec
from nas_scaling.tracking import MlflowTracker


def _grid(tmp_path: Path, base: Path) -> list[str]:
    return [
        sys.executable, "-m", "nas_scaling", "grid", "--budget", "2xFLOPS", "--base", str(base), "--executor",
        "local", "--max-candidates", "3", "--epochs", "2", "--study", "faults", "--storage",
        f"sqlite:///{tmp_path}/studies.db", "--no-progress", "--output", str(tmp_path / "grid.json"),
    ]


def _complete(storage: str) -> int:
    try:
        study = optuna.load_study(study_name="faults", storage=storage)
    except KeyError:
        return 0
    return len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))


@pytest.mark.slow
def test_sigkill_then_rerun_loses_nothing(tmp_path: Path, micro_base: NetworkSpec) -> None:
    base = save_spec(micro_base, tmp_path / "micro.yaml")
    storage = f"sqlite:///{tmp_path}/studies.db"
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"}
    proc = subprocess.Popen(_grid(tmp_path, base), cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while _complete(storage) < 1 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, "the grid finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = _complete(storage)
    assert 1 <= killed_at < 4  # 3 candidates and the base
    study = optuna.load_study(study_name="faults", storage=storage)
    assert not study.get_trials(states=(optuna.trial.TrialState.RUNNING,))
    finished = {t.user_attrs["key"]: t.value for t in study.trials}

    rerun = subprocess.run(_grid(tmp_path, base), cwd=tmp_path, env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{killed_at} of 4 candidates already trained" in rerun.stderr
    study = optuna.load_study(study_name="faults", storage=storage)
    trials = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(trials) == 4  # nothing lost, nothing trained twice
    assert all(finished[k] == v for k, v in ((t.user_attrs["key"], t.value) for t in trials) if k in finished)
    tracker = MlflowTracker(env["MLFLOW_TRACKING_URI"], experiment="nas-scaling")
    children = tracker.find_runs({"kind": "grid", "study": "faults"})
    # one FINISHED run per candidate; the run of the candidate that was training when the process was
    # killed (started live with its training) was closed as KILLED by the rerun, none is left RUNNING
    assert sorted(r.tags["candidate"] for r in children if r.status == "FINISHED") == sorted(
        t.user_attrs["key"] for t in trials)
    assert {r.status for r in children} <= {"FINISHED", "KILLED"}
    assert all(r.tags["state"] == "interrupted" for r in children if r.status == "KILLED")
    [parent] = tracker.find_runs({"kind": "grid-parent", "study": "faults"})
    assert parent.status == "FINISHED"
