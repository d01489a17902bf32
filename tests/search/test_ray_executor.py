"""The Ray executor's trial actors: one actor trains trial after trial (its worker imports torch and
loads the dataset for the first one only), every trial reports once, and a run shuts down the Ray it
started. The timings come from :class:`~nas_scaling.search.work.TaskResult`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from nas_scaling.search.outcomes import TaskStatus
from nas_scaling.search.ray_executor import RayExecutor
from nas_scaling.search.work import TaskResult, TrainTask
from nas_scaling.spec import load_spec, spec_to_dict
from tests.search.tiny import REFERENCE

pytestmark = pytest.mark.slow

WARM = 0.05
"""Seconds of imports at most in a worker that has torch and the training code already (looking up
loaded modules takes microseconds; importing torch takes seconds)."""


def _tasks(tmp_path: Path, count: int) -> list[TrainTask]:
    (tmp_path / "ref.yaml").write_text(REFERENCE)
    spec = spec_to_dict(load_spec(tmp_path / "ref.yaml"))
    return [TrainTask(f"t{i}", spec, "digits", {"epochs": 1, "batch_size": 256}, (i,)) for i in range(count)]


def _run(executor: RayExecutor, tasks: list[TrainTask]) -> list[TaskResult]:
    results: dict[str, TaskResult] = {}

    def on_result(result: TaskResult) -> None:
        assert result.key not in results, f"{result.key} reported twice"
        results[result.key] = result

    executor.run(tasks, on_result)
    assert sorted(results) == sorted(t.key for t in tasks)
    assert all(r.status is TaskStatus.COMPLETED for r in results.values()), results
    return sorted(results.values(), key=lambda r: r.started_at)


def test_one_actor_trains_trial_after_trial(tmp_path: Path) -> None:
    import ray

    first, *rest = _run(RayExecutor(max_concurrent=1), _tasks(tmp_path, 3))
    assert not ray.is_initialized()  # the run shut down the Ray it started
    # a new worker imports torch and loads digits for its first trial; the same actor has both for the next
    assert first.import_seconds > WARM
    assert all(r.import_seconds < WARM for r in rest), rest
    assert all(r.load_seconds < first.load_seconds for r in rest), (first, rest)
    assert all(r.started_at >= first.started_at + first.train_seconds for r in rest)  # one after the other


def test_without_reuse_every_trial_starts_cold(tmp_path: Path) -> None:
    results = _run(RayExecutor(max_concurrent=1, reuse_actors=False), _tasks(tmp_path, 2))
    assert all(r.import_seconds > WARM for r in results), results


def test_ray_started_ahead_runs_in_a_thread_of_its_own_until_close() -> None:
    """``start`` returns while Ray starts in a thread that owns it (Ray's processes die with the thread
    that started them); this thread uses Ray meanwhile; ``close`` stops it and ends the thread."""
    import ray

    executor = RayExecutor()
    executor.start()
    owners = [t for t in threading.enumerate() if t.name == "nas-scaling-ray"]
    assert len(owners) == 1
    executor._init()  # waits until Ray is up
    assert ray.is_initialized()
    assert ray.get(ray.remote(lambda: 41 + 1).remote()) == 42
    executor.close()
    assert not ray.is_initialized()
    assert not owners[0].is_alive()
    executor.close()  # a second close is a no-op


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"])
def test_a_signal_while_ray_starts_stops_it_and_the_same_command_resumes(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    """SIGINT or SIGTERM to `nas-scaling grid` just after planning, while Ray starts in its thread and the
    study opens: exit 130 or 143, none of that Ray's processes left, and the same command then trains."""
    ray_tmp = Path(tempfile.mkdtemp(prefix="rcc", dir="/tmp"))  # Ray's socket paths must stay short
    env = {**os.environ, "RAY_TMPDIR": str(ray_tmp), "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"}
    command = [sys.executable, "-m", "nas_scaling", "grid", "--budget", "2xFLOPS", "--epochs", "1",
               "--max-candidates", "1", "--no-progress", "--study", "cc", "--storage", f"sqlite:///{tmp_path}/s.db",
               "--output", str(tmp_path / "grid.json"), "--format", "json"]
    try:
        proc = subprocess.Popen(command, cwd=tmp_path, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                text=True)
        assert proc.stderr is not None
        for line in proc.stderr:  # the plan is logged once Ray has been started (in its thread)
            if line.startswith("grid: base"):
                break
        proc.send_signal(sig)
        rest = proc.stderr.read()
        assert proc.wait(timeout=120) == code, rest[-3000:]
        left = subprocess.run(["pgrep", "-f", str(ray_tmp)], capture_output=True, text=True)
        assert left.stdout.strip() == "", f"Ray processes left running: {left.stdout}"
        again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert again.returncode == 0, again.stderr[-3000:]
        assert len(json.loads((tmp_path / "grid.json").read_text())["candidates"]) == 1
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
