"""The study lifecycle on its own: the in-memory tracker, a real SQLite study, a fake executor (nothing trains)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import optuna
import pytest

from nas_scaling.errors import UserError
from nas_scaling.experiments import Planned, StudySession
from nas_scaling.search.outcomes import Outcome, TaskStatus
from nas_scaling.search.work import TaskResult, TrainTask
from nas_scaling.spec import ConvBlock, Head, NetworkSpec, Stage, network_to_compact
from nas_scaling.tracking import MemoryTracker


def _spec(channels: int) -> NetworkSpec:
    return NetworkSpec(name=f"n{channels}", stem=(Stage(ConvBlock(channels)),), stages=(), head=Head(),
                       in_channels=3, resolution=8, num_classes=10)


def _plan(n: int = 3) -> list[Planned]:
    return [Planned(f"k{i}", _spec(8 * (i + 1)), macs=1000 * (i + 1), params=100 * (i + 1),
                    trial_params={"alpha": 1.0 + i}, run_params={"note": i}, known={"factor": 1.5 + i})
            for i in range(n)]


class FakeExecutor:
    """Hands back a made-up result per task, in order; optionally raises after ``stop_after`` results."""

    def __init__(self, accuracy: Callable[[str], float | None], stop_after: int | None = None) -> None:
        self.accuracy = accuracy
        self.stop_after = stop_after
        self.ran: list[str] = []

    def run(self, tasks: Sequence[TrainTask], on_result: Callable[[TaskResult], None], *,
            on_start: Callable[[str], None] | None = None,
            on_epoch: Callable[[str, int, float], None] | None = None) -> None:
        for task in tasks:
            if self.stop_after is not None and len(self.ran) == self.stop_after:
                raise KeyboardInterrupt
            self.ran.append(task.key)
            if on_start is not None:
                on_start(task.key)
            value = self.accuracy(task.key)
            if on_epoch is not None and value is not None:
                on_epoch(task.key, 1, value / 2)
            status = TaskStatus.FAILED if value is None else TaskStatus.COMPLETED
            on_result(TaskResult(task.key, status, "boom" if value is None else None, val_top1=value,
                                 train_seconds=2.0, node="here", epochs=3))

    def run_adaptive(self, *args: object, **kw: object) -> None:  # pragma: no cover - not used here
        raise NotImplementedError


def _tasks(plan: Sequence[Planned]) -> list[TrainTask]:
    return [TrainTask(p.key, {}, "digits", {}) for p in plan]


def _session(tmp_path: Path, tracker: MemoryTracker, *, storage: bool = True) -> StudySession:
    return StudySession("s", kind="grid", tracker=tracker, config={"a": 1},
                        storage=f"sqlite:///{tmp_path}/studies.db" if storage else None,
                        parent_params={"base": "x"}, progress=False, log=lambda m: None)


def test_records_each_candidate_as_one_trial_and_one_child_run(tmp_path: Path) -> None:
    tracker = MemoryTracker()
    plan = _plan()
    with _session(tmp_path, tracker) as session:
        todo = session.restore(plan)
        assert todo == plan
        session.run(FakeExecutor(lambda k: {"k0": 0.5, "k1": None, "k2": 0.7}[k]), plan, _tasks(todo))
        scratch = session.scratch
        assert scratch.is_dir()
        session.finish(metrics={"best": 0.7})
    assert not scratch.exists()  # the scratch folder is always removed

    [parent] = tracker.find_runs({"kind": "grid-parent"})
    assert parent.status == "FINISHED" and parent.params["base"] == "x" and parent.metrics["best"] == 0.7
    children = {r.tags["candidate"]: r for r in tracker.find_runs({"kind": "grid", "study": "s"})}
    assert {k: r.status for k, r in children.items()} == {"k0": "FINISHED", "k1": "FAILED", "k2": "FINISHED"}
    k0 = children["k0"]
    assert k0.parent_id == parent.run_id and k0.artifacts == ["spec.yaml"]
    assert k0.params["arch"] == network_to_compact(plan[0].spec) and k0.params["in_channels"] == "3"
    assert k0.params["note"] == "0" and k0.metrics["factor"] == 1.5 and k0.metrics["macs"] == 1000
    assert k0.metrics["val_top1"] == 0.5 and k0.tags["state"] == "complete"
    assert children["k1"].tags["status_reason"] == "boom"

    study = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path}/studies.db")
    states = {t.user_attrs["key"]: t.state for t in study.trials}
    assert states == {"k0": optuna.trial.TrialState.COMPLETE, "k1": optuna.trial.TrialState.FAIL,
                      "k2": optuna.trial.TrialState.COMPLETE}
    k2 = next(t for t in study.trials if t.user_attrs["key"] == "k2")
    assert k2.value == 0.7 and k2.params == {"alpha": 3.0} and k2.user_attrs["mlflow_run_id"] == children["k2"].run_id
    assert k2.user_attrs["factor"] == 3.5 and k2.user_attrs["outcome"] == "complete"


def test_a_rerun_restores_finished_work_and_retries_failed_work(tmp_path: Path) -> None:
    tracker = MemoryTracker()
    plan = _plan()
    with _session(tmp_path, tracker) as session:
        session.run(FakeExecutor(lambda k: None if k == "k1" else 0.6), plan, _tasks(session.restore(plan)))
    with _session(tmp_path, tracker) as session:
        todo = session.restore(plan)
        assert [p.key for p in todo] == ["k1"] and session.restored == 2
        executor = FakeExecutor(lambda k: 0.9)
        session.run(executor, plan, _tasks(todo))
        assert executor.ran == ["k1"]
        assert {k: r.val_top1 for k, r in session.completed().items()} == {"k0": 0.6, "k1": 0.9, "k2": 0.6}
    assert len(tracker.find_runs({"kind": "grid-parent"})) == 1  # one parent, resumed


def test_a_child_run_that_finished_before_its_trial_was_written_is_restored(tmp_path: Path) -> None:
    tracker = MemoryTracker()
    plan = _plan(2)
    with _session(tmp_path / "first", tracker) as session:
        session.run(FakeExecutor(lambda k: 0.4), plan, _tasks(session.restore(plan)))
    with _session(tmp_path / "lost", tracker) as session:  # a study store without the trials
        assert session.restore(plan) == [] and session.restored == 2
        assert {k: r.val_top1 for k, r in session.completed().items()} == {"k0": 0.4, "k1": 0.4}


def test_tasks_are_handed_over_largest_first(tmp_path: Path) -> None:
    """Multiply-adds times seeds, a stable sort: with trials side by side the shortest run last."""
    plan = _plan(4)
    tasks = _tasks(plan)
    tasks[0] = TrainTask("k0", {}, "digits", {}, seeds=(0, 1, 2, 4, 5))  # 5 x 1000 multiply-adds
    executor = FakeExecutor(lambda k: 0.5)
    with _session(tmp_path, MemoryTracker()) as session:
        session.run(executor, plan, tasks)
    assert executor.ran == ["k0", "k3", "k2", "k1"]


def test_an_interrupt_kills_the_parent_and_the_live_runs_and_keeps_what_finished(tmp_path: Path) -> None:
    tracker = MemoryTracker()
    plan = _plan()
    with pytest.raises(KeyboardInterrupt), _session(tmp_path, tracker) as session:
        session.start_child(plan[2])  # a run that is training when Ctrl-C lands
        session.run(FakeExecutor(lambda k: 0.5, stop_after=1), plan[:2], _tasks(plan[:2]))  # k1 goes first
    [parent] = tracker.find_runs({"kind": "grid-parent"})
    assert parent.status == "KILLED"
    status = {r.tags["candidate"]: (r.status, r.tags.get("state")) for r in tracker.find_runs({"kind": "grid"})}
    assert status == {"k1": ("FINISHED", "complete"), "k2": ("KILLED", "interrupted")}
    with _session(tmp_path, tracker) as session:
        assert [p.key for p in session.restore(plan)] == ["k0", "k2"]
        assert tracker.runs[parent.run_id].status == "RUNNING"


def test_fail_ends_the_parent_failed_with_one_line(tmp_path: Path) -> None:
    tracker = MemoryTracker()
    with pytest.raises(UserError, match="nothing trained"), _session(tmp_path, tracker, storage=False) as session:
        session.fail("nothing trained")
    [parent] = tracker.find_runs({"kind": "grid-parent"})
    assert parent.status == "FAILED"


def test_without_storage_mlflow_alone_records_and_restores(tmp_path: Path) -> None:
    tracker = MemoryTracker()
    plan = _plan(2)
    with _session(tmp_path, tracker, storage=False) as session:
        assert session.study is None
        session.run(FakeExecutor(lambda k: 0.3), plan, _tasks(session.restore(plan)))
    assert not (tmp_path / "studies.db").exists()
    with _session(tmp_path, tracker, storage=False) as session:
        assert session.restore(plan) == []
        assert session.records["k1"].val_top1 == 0.3 and session.records["k1"].outcome is Outcome.COMPLETE


def test_a_study_made_with_other_options_is_refused_before_any_run(tmp_path: Path) -> None:
    tracker = MemoryTracker()
    with _session(tmp_path, tracker):
        pass
    other = StudySession("s", kind="grid", tracker=tracker, config={"a": 2}, storage=f"sqlite:///{tmp_path}/studies.db",
                         progress=False, log=lambda m: None)
    with pytest.raises(UserError, match="study 's' was made with a=1, not 2"), other:
        pass
    assert len(tracker.runs) == 1


def test_a_run_left_running_by_a_dead_process_is_closed_and_a_live_ones_is_not(tmp_path: Path) -> None:
    import os
    import socket
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    tracker = MemoryTracker()
    host = socket.gethostname()
    orphan = tracker.start_run("s/k0", tags={"kind": "grid", "study": "s", "candidate": "k0",
                                             "owner": f"{host}:{dead.stdout.strip()}"})
    alive = tracker.start_run("s/k1", tags={"kind": "grid", "study": "s", "candidate": "k1",
                                            "owner": f"{host}:{os.getppid()}"})
    with _session(tmp_path, tracker) as session:
        session.restore(_plan())
    assert (tracker.runs[orphan].status, tracker.runs[orphan].tags["state"]) == ("KILLED", "interrupted")
    assert tracker.runs[alive].status == "RUNNING"
