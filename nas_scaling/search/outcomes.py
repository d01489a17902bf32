"""Trial outcomes: one enum that knows each outcome's Optuna state and MLflow run status.

Every place that records how a trial ended (the ask-and-tell proposer, the study session, the
summaries) uses :class:`Outcome`; nothing else translates between the three vocabularies.
``Outcome`` is a ``str`` enum, so it is stored in Optuna user attributes and MLflow tags as its value.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from optuna.trial import TrialState

    from nas_scaling.search.work import TaskResult

__all__ = ["Outcome", "TaskStatus"]


class TaskStatus(str, Enum):
    """How one unit of training work ended (:class:`~nas_scaling.search.work.TaskResult`)."""

    COMPLETED = "completed"
    STOPPED = "stopped"
    """Stopped early on purpose (ASHA, Optuna's pruner)."""
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


class Outcome(str, Enum):
    """How a trial of a study ended (``outcome`` user attribute); the first three were trained."""

    COMPLETE = "complete"
    PRUNED = "pruned"
    FAILED = "failed"
    INFEASIBLE = "infeasible"
    """Over the budget: never trained."""
    INVALID = "invalid"
    """The draw does not make a buildable network."""
    DUPLICATE = "duplicate"
    """The same network as a trained trial: told its values, not trained again."""
    STALE = "stale"
    """Its process died (heartbeat or dead pid); re-queued."""
    INTERRUPTED = "interrupted"
    """Ctrl-C or the executor stopped while it trained; re-queued."""
    SURPLUS = "surplus"
    """Another worker already took the last of ``--trials``."""
    RUNNING = "running"
    """Training now (not finished)."""

    def __str__(self) -> str:
        return self.value

    @property
    def trained(self) -> bool:
        return self in (Outcome.COMPLETE, Outcome.PRUNED, Outcome.FAILED)

    @property
    def optuna_state(self) -> TrialState:
        from optuna.trial import TrialState

        if self is Outcome.RUNNING:
            return TrialState.RUNNING
        if self in (Outcome.COMPLETE, Outcome.DUPLICATE):
            return TrialState.COMPLETE
        if self is Outcome.PRUNED:
            return TrialState.PRUNED
        return TrialState.FAIL

    @property
    def mlflow_status(self) -> str:
        """The status its MLflow run ends with."""
        return _MLFLOW[self]

    @classmethod
    def of(cls, result: TaskResult) -> Outcome:
        """The outcome of a finished unit of work."""
        if result.status == TaskStatus.COMPLETED and result.val_top1 is not None:
            return cls.COMPLETE
        if result.status == TaskStatus.STOPPED:
            return cls.PRUNED
        return cls.FAILED


_MLFLOW = {
    Outcome.COMPLETE: "FINISHED", Outcome.DUPLICATE: "FINISHED", Outcome.PRUNED: "KILLED",
    Outcome.INTERRUPTED: "KILLED", Outcome.STALE: "KILLED", Outcome.FAILED: "FAILED", Outcome.INFEASIBLE: "FAILED",
    Outcome.INVALID: "FAILED", Outcome.SURPLUS: "FAILED", Outcome.RUNNING: "RUNNING",
}
