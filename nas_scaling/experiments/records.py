"""What an experiment plans and what a finished trial stores, as frozen records.

A :class:`Planned` candidate is what a runner hands the study session: the network, the Optuna
parameters that name it, and what is known of it before training (cost, proxy scores). A
:class:`TrialRecord` is what the session stores once the candidate has finished, in the Optuna trial's
user attributes and, the same numbers, in its MLflow child run; it is read back from either.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nas_scaling.search.outcomes import Outcome, TaskStatus
from nas_scaling.search.work import TaskResult
from nas_scaling.spec import NetworkSpec

if TYPE_CHECKING:
    import optuna

__all__ = ["Planned", "TrialRecord"]

_METRICS = ("val_top1", "val_top1_std", "val_top5", "val_loss")


@dataclass(frozen=True)
class Planned:
    """One candidate of a planned experiment."""

    key: str
    """Unique within the study; names the trial (``key`` user attribute) and the child run."""
    spec: NetworkSpec
    macs: int
    params: int
    trial_params: Mapping[str, float] = field(default_factory=dict)
    """Optuna parameters of its trial (the grid's alpha, beta, gamma)."""
    run_params: Mapping[str, object] = field(default_factory=dict)
    """MLflow params of its child run, besides ``arch``, ``resolution`` and ``in_channels``."""
    known: Mapping[str, Any] = field(default_factory=dict)
    """Numbers known before training (real factor, proxy scores, ...): trial attributes, and run
    metrics where finite."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Extra tags of its child run."""


@dataclass(frozen=True)
class TrialRecord:
    """A finished candidate: what its Optuna trial and its MLflow child run hold."""

    key: str
    outcome: Outcome
    arch: str
    macs: int
    params: int
    val_top1: float | None = None
    """Mean over seeds of the final validation top-1."""
    val_top1_std: float | None = None
    val_top5: float | None = None
    val_loss: float | None = None
    train_seconds: float = 0.0
    epochs: int = 0
    reason: str | None = None
    node: str = ""
    mlflow_run_id: str | None = None
    known: Mapping[str, Any] = field(default_factory=dict)
    val_images: int = 0
    """Validation images the scores were measured on (0: unknown, a record of an older version)."""

    @classmethod
    def of(cls, planned: Planned, result: TaskResult, arch: str, run_id: str | None) -> TrialRecord:
        return cls(
            planned.key, Outcome.of(result), arch, planned.macs, planned.params, result.val_top1,
            result.val_top1_std, result.val_top5, result.val_loss, result.train_seconds, result.epochs,
            result.reason, result.node, run_id, dict(planned.known), result.val_images,
        )

    def user_attrs(self) -> dict[str, Any]:
        """The Optuna user attributes (JSON values) this record is stored as."""
        return {
            "key": self.key, "outcome": self.outcome.value, "arch": self.arch, "macs": self.macs,
            "params": self.params, "val_top1": self.val_top1, "val_top1_std": self.val_top1_std,
            "val_top5": self.val_top5, "val_loss": self.val_loss, "train_seconds": self.train_seconds,
            "epochs": self.epochs, "reason": self.reason, "node": self.node, "mlflow_run_id": self.mlflow_run_id,
            "val_images": self.val_images, **{k: _json(v) for k, v in self.known.items()},
        }

    @classmethod
    def from_trial(cls, trial: optuna.trial.FrozenTrial) -> TrialRecord:
        ua = dict(trial.user_attrs)
        fields = {"key", "outcome", "arch", "macs", "params", *_METRICS, "train_seconds", "epochs", "reason", "node",
                  "mlflow_run_id", "val_images"}
        value = trial.values[0] if trial.values else None
        return cls(
            str(ua.get("key", f"trial-{trial.number}")), Outcome(ua.get("outcome", Outcome.COMPLETE.value)),
            str(ua.get("arch", "")), int(ua.get("macs", 0)), int(ua.get("params", 0)),
            ua.get("val_top1", value), ua.get("val_top1_std"), ua.get("val_top5"), ua.get("val_loss"),
            float(ua.get("train_seconds") or 0.0), int(ua.get("epochs") or 0), ua.get("reason"),
            str(ua.get("node") or ""), ua.get("mlflow_run_id"), {k: v for k, v in ua.items() if k not in fields},
            int(ua.get("val_images") or 0),
        )

    @classmethod
    def from_run(cls, planned: Planned, arch: str, run_id: str, metrics: Mapping[str, float],
                 tags: Mapping[str, str]) -> TrialRecord:
        """The record of a finished MLflow child run (restored when its trial was never written)."""
        return cls(
            planned.key, Outcome.COMPLETE, arch, planned.macs, planned.params, metrics.get("val_top1"),
            metrics.get("val_top1_std"), metrics.get("val_top5"), metrics.get("val_loss"),
            metrics.get("train_seconds", 0.0), int(metrics.get("epochs", 0)), None, tags.get("node", ""), run_id,
            dict(planned.known), int(metrics.get("val_images", 0)),
        )

    def result(self) -> TaskResult:
        """The unit-of-work result this record was made from (for runners that summarise results)."""
        status = {Outcome.COMPLETE: TaskStatus.COMPLETED, Outcome.PRUNED: TaskStatus.STOPPED}.get(
            self.outcome, TaskStatus.FAILED)
        return TaskResult(self.key, status, self.reason, self.val_top1, self.val_top1_std, self.val_top5,
                          self.val_loss, self.train_seconds, node=self.node, epochs=self.epochs,
                          val_images=self.val_images)


def _json(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
