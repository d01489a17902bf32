"""Every use of Optuna's private API, in one place.

Optuna offers no public way to record a heartbeat for a trial driven by ask-and-tell, to read a
trial's storage id, or to count a study's trials without the sampler's filtering. If an Optuna
upgrade removes one of these, ``tests/search/test_optuna_compat.py`` fails and names it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

__all__ = ["PRIVATE_NAMES", "all_trials", "heartbeat_enabled", "record_heartbeat", "trial_id"]

PRIVATE_NAMES = (
    "optuna.trial.Trial._trial_id",
    "optuna.trial.FrozenTrial._trial_id",
    "optuna.storages._heartbeat.is_heartbeat_enabled",
    "optuna.study.Study._storage",
    "optuna.study.Study._study_id",
)
"""What this module touches, for the upgrade test."""


def trial_id(trial: optuna.trial.Trial | optuna.trial.FrozenTrial) -> int:
    """The storage's id of ``trial`` (storage calls take it; ``number`` is per study)."""
    return trial._trial_id


def heartbeat_enabled(storage: optuna.storages.BaseStorage) -> bool:
    from optuna.storages._heartbeat import is_heartbeat_enabled

    return is_heartbeat_enabled(storage)


def record_heartbeat(storage: optuna.storages.BaseStorage, trial: int) -> None:
    storage.record_heartbeat(trial)  # type: ignore[attr-defined]


def all_trials(study: optuna.Study) -> list[Any]:
    """Every trial of ``study`` straight from its storage (``get_trials`` may be filtered by samplers)."""
    return study._storage.get_all_trials(study._study_id, deepcopy=False)
