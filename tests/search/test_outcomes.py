"""Trial outcomes in one place, and the Optuna private API this project relies on."""

from __future__ import annotations

import importlib

import optuna
import pytest
from optuna.trial import TrialState

from nas_scaling.search import optuna_compat
from nas_scaling.search.outcomes import Outcome, TaskStatus
from nas_scaling.search.work import TaskResult


@pytest.mark.parametrize("outcome", list(Outcome))
def test_every_outcome_has_an_optuna_state_and_an_mlflow_status(outcome: Outcome) -> None:
    assert isinstance(outcome.optuna_state, TrialState)
    assert outcome.mlflow_status in ("RUNNING", "FINISHED", "KILLED", "FAILED")
    assert outcome == outcome.value and str(outcome) == outcome.value  # stored as its plain string


def test_outcome_of_a_result() -> None:
    assert Outcome.of(TaskResult("k", TaskStatus.COMPLETED, val_top1=0.5)) is Outcome.COMPLETE
    assert Outcome.of(TaskResult("k", TaskStatus.COMPLETED)) is Outcome.FAILED  # no accuracy: not complete
    assert Outcome.of(TaskResult("k", TaskStatus.STOPPED, val_top1=0.2)) is Outcome.PRUNED
    assert Outcome.of(TaskResult("k", TaskStatus.FAILED, "x")) is Outcome.FAILED
    assert [o for o in Outcome if o.trained] == [Outcome.COMPLETE, Outcome.PRUNED, Outcome.FAILED]
    assert (Outcome.PRUNED.optuna_state, Outcome.PRUNED.mlflow_status) == (TrialState.PRUNED, "KILLED")
    assert (Outcome.DUPLICATE.optuna_state, Outcome.INFEASIBLE.optuna_state) == (TrialState.COMPLETE, TrialState.FAIL)


@pytest.mark.parametrize("name", optuna_compat.PRIVATE_NAMES)
def test_optuna_still_has_the_private_api_we_use(name: str) -> None:
    """Fails loudly when an Optuna upgrade removes one: fix nas_scaling/search/optuna_compat.py."""
    module_name, _, attr = name.rpartition(".")
    try:
        owner: object = importlib.import_module(module_name)
    except ImportError:  # a class attribute: import the module, then walk to the class
        module_name, _, cls = module_name.rpartition(".")
        owner = getattr(importlib.import_module(module_name), cls)
    if isinstance(owner, type) and attr.startswith("_") and not hasattr(owner, attr):
        return  # instance attributes are checked on a live study below
    assert hasattr(owner, attr), f"Optuna {optuna.__version__} no longer has {name}"


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::optuna.exceptions.ExperimentalWarning")
def test_the_compat_functions_work_on_a_live_study() -> None:
    storage = optuna.storages.RDBStorage("sqlite:///:memory:", heartbeat_interval=60)
    study = optuna.create_study(storage=storage)
    trial = study.ask()
    assert optuna_compat.trial_id(trial) == optuna_compat.trial_id(study.trials[0])
    assert optuna_compat.heartbeat_enabled(storage)
    optuna_compat.record_heartbeat(storage, optuna_compat.trial_id(trial))
    assert [t.number for t in optuna_compat.all_trials(study)] == [0]
