"""The Ray executor's trial actors: one actor trains trial after trial (its worker imports torch and
loads the dataset for the first one only), every trial reports once, and a run shuts down the Ray it
started. The timings come from :class:`~nas_scaling.search.work.TaskResult`."""

from __future__ import annotations

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
