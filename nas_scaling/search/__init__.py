"""Search and grid: executors (local, Ray), Optuna studies, and the grid runner."""

from __future__ import annotations

from nas_scaling.search.executors import EXECUTORS, Executor, LocalExecutor, make_executor
from nas_scaling.search.study import DEFAULT_STORAGE, open_storage, open_study, record_trial
from nas_scaling.search.work import TaskResult, TrainTask, run_task

__all__ = [
    "DEFAULT_STORAGE",
    "EXECUTORS",
    "Executor",
    "LocalExecutor",
    "TaskResult",
    "TrainTask",
    "make_executor",
    "open_storage",
    "open_study",
    "record_trial",
    "run_task",
]
