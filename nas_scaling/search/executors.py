"""Executors run :class:`~nas_scaling.search.work.TrainTask` s and hand each result back as it
finishes, in the calling process (which owns the study and the tracker)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from nas_scaling.search.study import DEFAULT_STORAGE
from nas_scaling.search.work import TaskResult, TrainTask, run_task

__all__ = ["EXECUTORS", "ExecutionOptions", "Executor", "LocalExecutor", "TaskSource", "make_executor"]

EXECUTORS = ("ray", "local")

OnResult = Callable[[TaskResult], None]
OnStart = Callable[[str], None]
OnEpoch = Callable[[str, int, float], None]


@dataclass(frozen=True, kw_only=True)
class ExecutionOptions:
    """Where a study lives and where its trials run: the part of ``grid`` and ``search`` options
    that is the same for both."""

    study: str | None = None
    storage: str = DEFAULT_STORAGE
    executor: str = "ray"
    address: str | None = None
    """Join this Ray cluster (default: start Ray here)."""
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    progress: bool = True

    def make_executor(self, max_concurrent: int | None = None) -> Executor:
        return make_executor(self.executor, address=self.address, cpus_per_trial=self.cpus_per_trial,
                             gpus_per_trial=self.gpus_per_trial, max_concurrent=max_concurrent)


class TaskSource(Protocol):
    """Where an adaptive search's tasks come from (a sampler) and its results go back to."""

    def next_task(self) -> TrainTask | None:
        """The next task, or ``None`` when there is nothing more to train."""

    def report(self, key: str, epoch: int, value: float) -> bool:
        """An epoch's validation top-1; True asks to stop the task (honoured by the local executor)."""

    def finish(self, result: TaskResult) -> None: ...


class Executor(Protocol):
    def start(self) -> None:
        """Get ready in the background (Ray starts) while the caller prepares; returns at once."""

    def close(self) -> None:
        """Release what :meth:`start` or a run started (Ray stops); waits until it is released."""

    def run(self, tasks: Sequence[TrainTask], on_result: OnResult, *, on_start: OnStart | None = None,
            on_epoch: OnEpoch | None = None) -> None:
        """Run a fixed list of tasks, calling ``on_start(key)`` as each one starts training,
        ``on_epoch(key, epoch, val_top1)`` after each epoch and ``on_result`` as it ends."""

    def run_adaptive(self, source: TaskSource, count: int, *, early_stopping: bool, max_epochs: int) -> None:
        """Draw up to ``count`` tasks from ``source`` as slots free up; early stopping by the
        executor's own rule (Optuna's pruner through ``report`` locally, ASHA under Ray)."""


class LocalExecutor:
    """In-process, one task after the other, each using all the threads it is given."""

    def start(self) -> None:
        """Nothing to prepare."""

    def close(self) -> None:
        """Nothing to release."""

    def run(self, tasks: Sequence[TrainTask], on_result: OnResult, *, on_start: OnStart | None = None,
            on_epoch: OnEpoch | None = None) -> None:
        for task in tasks:
            if on_start is not None:
                on_start(task.key)

            def report(epoch: int, value: float, key: str = task.key) -> None:
                if on_epoch is not None:
                    on_epoch(key, epoch, value)

            on_result(run_task(task, report=report))

    def run_adaptive(self, source: TaskSource, count: int, *, early_stopping: bool, max_epochs: int) -> None:
        from nas_scaling.training import StopTraining

        for _ in range(count):
            task = source.next_task()
            if task is None:
                return
            def report(epoch: int, value: float, key: str = task.key) -> None:
                # after the last epoch the training is done: a trial that finished is complete, not pruned
                if source.report(key, epoch, value) and early_stopping and epoch < max_epochs:
                    raise StopTraining(f"pruned by Optuna's successive halving after epoch {epoch}")

            source.finish(run_task(task, report=report))


def make_executor(
    name: str,
    *,
    address: str | None = None,
    cpus_per_trial: float = 1.0,
    gpus_per_trial: float = 0.0,
    max_concurrent: int | None = None,
) -> Executor:
    if name == "local":
        return LocalExecutor()
    if name == "ray":
        from nas_scaling.search.ray_executor import RayExecutor

        return RayExecutor(
            address=address, cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial,
            max_concurrent=max_concurrent,
        )
    from nas_scaling.errors import UserError

    raise UserError(f"executor must be one of {', '.join(EXECUTORS)}, got {name!r}")
