"""Ask-and-tell between an Optuna study and the executors, with the hard budget in the middle.

:meth:`Proposer.propose` asks the study for a trial, draws a network from the space and costs it
analytically. A network over the budget is told FAIL with ``outcome=infeasible`` (never trained)
and another is drawn; so is one that cannot be built (``invalid``). A network identical to one
already trained is told the same values (``duplicate``), not retrained. What survives is handed
out for training; :meth:`report` relays epochs (Optuna's pruner decides for the local executor,
ASHA for Ray) and :meth:`finish` tells the result: COMPLETE, PRUNED or FAIL with its reason.

Every trial carries ``owner`` (host:pid) and gets heartbeats while it trains, so a trial left
RUNNING by a killed process is failed and re-enqueued with the same parameters on the next start:
at once when the dead owner was on this host, after the heartbeat grace period otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nas_scaling.cost import ResolvedBudget, count_cost
from nas_scaling.errors import SpecError
from nas_scaling.search.optuna_compat import heartbeat_enabled, record_heartbeat, trial_id
from nas_scaling.search.outcomes import Outcome
from nas_scaling.search.space import SearchSpace
from nas_scaling.search.work import TaskResult
from nas_scaling.spec import NetworkSpec, network_to_compact, spec_to_dict

if TYPE_CHECKING:
    import optuna

__all__ = [
    "Proposal", "Proposer", "fail_stale", "heartbeat_thread", "pid_alive", "retry_trial", "trained_count",
    "trial_row",
]

MAX_RETRIES = 2


def _trained(outcome: object) -> bool:
    return outcome in (Outcome.COMPLETE, Outcome.PRUNED, Outcome.FAILED)


@dataclass
class Proposal:
    trial: optuna.trial.Trial
    spec: NetworkSpec
    macs: int
    params: int
    arch: str
    run_id: str | None = None
    reported: set[int] = field(default_factory=set)

    @property
    def key(self) -> str:
        return f"trial-{self.trial.number}"


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def trained_count(study: optuna.Study, *, training: bool = False) -> int:
    """Trials whose training ran to an end (complete, pruned or failed while training); with
    ``training``, also those training now (in any process: several workers may share a study)."""
    count = 0
    for t in study.get_trials(deepcopy=False):
        outcome = t.user_attrs.get("outcome")
        if (_trained(outcome) and t.state.is_finished()) or (training and outcome == Outcome.RUNNING
                                                                and not t.state.is_finished()):
            count += 1
    return count


def retry_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
    """Enqueue ``trial``'s parameters again (at most :data:`MAX_RETRIES` times)."""
    import optuna

    history = [*trial.system_attrs.get("retry_history", []), trial.number]
    if len(history) > MAX_RETRIES:
        return False
    study.add_trial(optuna.trial.create_trial(
        state=optuna.trial.TrialState.WAITING, params=trial.params, distributions=trial.distributions,
        # the sampler's own marks travel along (GridSampler's grid_id: the retry is the same grid point)
        system_attrs={**trial.system_attrs, "failed_trial": history[0], "retry_history": history},
    ))
    return True


def fail_stale(study: optuna.Study, storage: optuna.storages.BaseStorage) -> list[int]:
    """Fail RUNNING trials of dead owners on this host (and, through Optuna's heartbeats, stale ones
    elsewhere), re-enqueueing each; returns the numbers failed here."""
    import optuna
    from optuna.trial import TrialState

    host = socket.gethostname()
    failed = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = str(t.user_attrs.get("owner", ""))
        name, _, pid = owner.rpartition(":")
        if name != host or not pid.isdigit() or int(pid) == os.getpid() or pid_alive(int(pid)):
            continue
        try:
            storage.set_trial_user_attr(trial_id(t), "outcome", Outcome.STALE.value)
            storage.set_trial_user_attr(trial_id(t), "reason", f"its process {owner} died")
            if storage.set_trial_state_values(trial_id(t), state=TrialState.FAIL):
                failed.append(t.number)
                retry_trial(study, storage.get_trial(trial_id(t)))
        except optuna.exceptions.UpdateFinishedTrialError:  # another process got there first
            pass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)  # heartbeat-based; its callback re-enqueues
    return failed


class Proposer:
    def __init__(
        self,
        study: optuna.Study,
        storage: optuna.storages.BaseStorage,
        space: SearchSpace,
        budget: ResolvedBudget,
        *,
        num_classes: int,
        in_channels: int,
        prune: bool,
        max_rejections: int = 500,
    ) -> None:
        self.study = study
        self.storage = storage
        self.space = space
        self.budget = budget
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.prune = prune
        self.max_rejections = max_rejections
        self.multi = len(study.directions) > 1
        self.owner = _owner()
        self.in_flight: dict[str, Proposal] = {}
        self.infeasible = 0
        self.invalid = 0
        self.duplicates = 0
        self.exhausted: str | None = None
        self._lock = threading.Lock()
        self._done: dict[str, optuna.trial.FrozenTrial] = {}
        from optuna.trial import TrialState

        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            if t.user_attrs.get("outcome") == Outcome.COMPLETE and "arch" in t.user_attrs:
                self._done[t.user_attrs["arch"]] = t

    # -- asking ----------------------------------------------------------------------------------

    def _tell_rejected(self, trial: optuna.trial.Trial, outcome: Outcome, reason: str) -> None:
        trial.set_user_attr("outcome", outcome.value)
        trial.set_user_attr("reason", reason)
        self.study.tell(trial, state=outcome.optuna_state)

    def _surplus(self, trial: optuna.trial.Trial, limit: int) -> bool:
        """Whether ``limit`` trials are already trained or training ahead of ``trial`` (lower
        numbers win), counting every worker of the study: then this one is not needed."""
        ahead = 0
        for t in self.study.get_trials(deepcopy=False):
            if t.number >= trial.number:
                continue
            outcome = t.user_attrs.get("outcome")
            if (_trained(outcome) and t.state.is_finished()) or (
                    outcome == Outcome.RUNNING and not t.state.is_finished()):
                ahead += 1
        return ahead >= limit

    def propose(self, *, limit: int | None = None) -> Proposal | None:
        """The next network to train, or ``None`` when the space gives nothing more or (with
        ``limit``) the study already has that many trials trained or training."""
        import optuna

        rejected_in_a_row = 0
        while True:
            sampler = self.study.sampler
            if (isinstance(sampler, optuna.samplers.GridSampler) and sampler.is_exhausted(self.study)
                    and not self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,))):
                self.exhausted = "every point of the grid has been tried"
                return None
            if rejected_in_a_row >= self.max_rejections:
                self.exhausted = (f"{rejected_in_a_row} draws in a row were over the budget, invalid or already "
                                  "trained; the space has little left under this budget")
                return None
            trial = self.study.ask()
            trial.set_user_attr("owner", self.owner)
            trial.set_user_attr("outcome", Outcome.RUNNING.value)
            if limit is not None and self._surplus(trial, limit):
                self._tell_rejected(trial, Outcome.SURPLUS, f"{limit} trials were already trained or training")
                return None
            try:
                spec = self.space.sample(trial, num_classes=self.num_classes, in_channels=self.in_channels,
                                         name=f"{self.space.name}-t{trial.number}")
                cost = count_cost(spec)
            except SpecError as exc:
                self.invalid += 1
                rejected_in_a_row += 1
                self._tell_rejected(trial, Outcome.INVALID, str(exc))
                continue
            trial.set_user_attr("macs", cost.macs)
            trial.set_user_attr("params", cost.params)
            check = self.budget.check(cost)
            if not check.fits:
                self.infeasible += 1
                rejected_in_a_row += 1
                self._tell_rejected(trial, Outcome.INFEASIBLE, f"over the budget ({self.budget}): {cost.macs:,} MACs, "
                                    f"{cost.params:,} params ({check.ratio:.2f}x the limit)")
                continue
            arch = network_to_compact(spec)
            trial.set_user_attr("arch", arch)
            trial.set_user_attr("spec", json.dumps(spec_to_dict(spec), sort_keys=True))
            same = self._done.get(arch)
            if same is not None:
                self.duplicates += 1
                rejected_in_a_row += 1
                trial.set_user_attr("outcome", Outcome.DUPLICATE.value)
                trial.set_user_attr("duplicate_of", same.number)
                for name in ("val_top1", "val_top5", "train_seconds", "mlflow_run_id"):
                    if name in same.user_attrs:
                        trial.set_user_attr(name, same.user_attrs[name])
                self.study.tell(trial, same.values)
                continue
            proposal = Proposal(trial, spec, cost.macs, cost.params, arch)
            with self._lock:
                self.in_flight[proposal.key] = proposal
            self.heartbeat()
            return proposal

    # -- training feedback -----------------------------------------------------------------------

    def report(self, key: str, epoch: int, value: float) -> bool:
        """Record an epoch's validation top-1; True when the pruner says stop (local executor)."""
        proposal = self.in_flight.get(key)
        if proposal is None or self.multi:
            return False
        if epoch not in proposal.reported:
            proposal.reported.add(epoch)
            proposal.trial.report(value, epoch)
        return self.prune and proposal.trial.should_prune()

    def finish(self, result: TaskResult) -> Outcome:
        """Tell the study how training ended; returns the outcome."""
        with self._lock:
            proposal = self.in_flight.pop(result.key)
        trial = proposal.trial
        for name, value in (("train_seconds", result.train_seconds), ("epochs", result.epochs),
                            ("node", result.node), ("val_top1", result.val_top1), ("val_top5", result.val_top5),
                            ("reason", result.reason)):
            if value is not None:
                trial.set_user_attr(name, value)
        outcome = Outcome.of(result)
        trial.set_user_attr("outcome", outcome.value)
        if outcome is Outcome.COMPLETE:
            assert result.val_top1 is not None
            values = [result.val_top1, float(proposal.macs)] if self.multi else [result.val_top1]
            self._done[proposal.arch] = self.study.tell(trial, values)
        else:
            self.study.tell(trial, state=outcome.optuna_state)
        return outcome

    def interrupt_all(self, reason: str) -> list[Proposal]:
        """Fail every trial still training (Ctrl-C, executor gone) and enqueue it again."""
        with self._lock:
            left = list(self.in_flight.values())
            self.in_flight.clear()
        for p in left:
            p.trial.set_user_attr("outcome", Outcome.INTERRUPTED.value)
            p.trial.set_user_attr("reason", reason)
            frozen = self.study.tell(p.trial, state=Outcome.INTERRUPTED.optuna_state)
            retry_trial(self.study, frozen)
        return left

    def heartbeat(self) -> None:
        """Record a heartbeat for every trial in training (called by a timer thread too)."""
        if not heartbeat_enabled(self.storage):
            return
        with self._lock:
            ids = [trial_id(p.trial) for p in self.in_flight.values()]
        for number in ids:
            record_heartbeat(self.storage, number)


def heartbeat_thread(proposer: Proposer, interval: float) -> Callable[[], None]:
    """Start beating every ``interval`` seconds; returns the function that stops it."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            with contextlib.suppress(Exception):  # a missed beat only delays stale detection
                proposer.heartbeat()

    thread = threading.Thread(target=beat, name="nas-scaling-heartbeat", daemon=True)
    thread.start()

    def stop_beating() -> None:
        stop.set()
        thread.join(timeout=5)

    return stop_beating


def trial_row(t: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """One trial as summary.json and the tables show it."""
    ua = t.user_attrs
    return {
        "number": t.number, "state": t.state.name, "outcome": ua.get("outcome"), "macs": ua.get("macs"),
        "params": ua.get("params"), "val_top1": ua.get("val_top1"), "val_top5": ua.get("val_top5"),
        "epochs": ua.get("epochs"), "train_seconds": ua.get("train_seconds"), "arch": ua.get("arch"),
        "reason": ua.get("reason"), "mlflow_run_id": ua.get("mlflow_run_id"),
    }
