"""Executors run :class:`~nas_scaling.search.work.TrainTask` s and hand each result back as it
finishes, in the calling process (which owns the study and the tracker)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from nas_scaling.search.work import TaskResult, TrainTask, run_task

__all__ = ["EXECUTORS", "Executor", "LocalExecutor", "make_executor"]

EXECUTORS = ("ray", "local")

OnResult = Callable[[TaskResult], None]


class Executor(Protocol):
    def run(self, tasks: Sequence[TrainTask], on_result: OnResult) -> None: ...


class LocalExecutor:
    """In-process, one task after the other, each using all the threads it is given."""

    def run(self, tasks: Sequence[TrainTask], on_result: OnResult) -> None:
        for task in tasks:
            on_result(run_task(task))


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
