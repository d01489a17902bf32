"""One study lifecycle for every experiment: grid, search, baselines and the proxies study.

A :class:`StudySession` owns, for the length of a ``with`` block:

- the Optuna study (created or resumed by name; refused if made with other options),
- the MLflow parent run (one per study, resumed),
- restoring finished work (COMPLETE trials, and MLflow runs that finished when the process died
  before their trial was written),
- recording a finished candidate in one call: child run (params, metrics, spec artifact, status)
  and Optuna trial,
- the progress bar, a scratch folder (always removed) and interrupt handling: leaving the block
  by an exception marks live child runs and the parent KILLED; a first Ctrl-C can be made to stop
  at the next safe point (:meth:`check_interrupt`) instead of inside a database write.

An experiment supplies its plan (:class:`~nas_scaling.experiments.records.Planned` candidates) and
its ranking; the lifecycle is written here once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

from nas_scaling.errors import UserError
from nas_scaling.experiments.records import Planned, TrialRecord
from nas_scaling.search.outcomes import Outcome
from nas_scaling.search.proposer import pid_alive
from nas_scaling.search.study import open_storage, open_study, record_trial
from nas_scaling.search.work import TaskResult, TrainTask
from nas_scaling.spec import network_to_compact, save_spec
from nas_scaling.tracking import Tracker, finite_numbers, open_parent_run

if TYPE_CHECKING:
    import optuna

    from nas_scaling.search.executors import Executor

__all__ = ["StudySession", "ctrl_c_sticks"]

Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


class StudySession:
    """The lifecycle of one study; use as a context manager (see the module docstring)."""

    def __init__(
        self,
        name: str,
        *,
        kind: str,
        child_kind: str | None = None,
        tracker: Tracker,
        config: Mapping[str, Any],
        storage: str | None,
        parent_params: Mapping[str, object] | None = None,
        directions: tuple[str, ...] = ("maximize",),
        heartbeat: int | None = None,
        progress: bool = True,
        unit: str = "candidate",
        sticky_interrupt: bool = False,
        dataset: Mapping[str, str] | None = None,
        log: Log = _stderr,
    ) -> None:
        """``kind`` names the runs (``<kind>-parent``, children tagged ``kind=<child_kind or kind>``); ``storage``
        None keeps no Optuna study (MLflow alone records the candidates). ``sticky_interrupt``: a
        first Ctrl-C only sets a flag that :meth:`check_interrupt` turns into KeyboardInterrupt.
        ``dataset`` (``name``, ``digest``, ``source``) is logged as every child run's dataset input."""
        self.name = name
        self.kind = kind
        self.child_kind = child_kind or kind
        self.tracker = tracker
        self.log = log
        self._config = dict(config)
        self._storage_url = storage
        self._parent_params = dict(parent_params or {})
        self._directions = directions
        self._heartbeat = heartbeat
        self._progress = progress
        self._unit = unit
        self._sticky = sticky_interrupt
        self._dataset = dict(dataset) if dataset is not None else None
        self._stack = contextlib.ExitStack()
        self._live: dict[str, str] = {}  # key -> child run id, runs started and not yet ended
        self._ended = False
        self.storage: optuna.storages.BaseStorage | None = None
        self.study: optuna.Study | None = None
        self.parent_id = ""
        self.made = False
        self.records: dict[str, TrialRecord] = {}
        """Candidates recorded or restored in this session, by key."""
        self.restored = 0
        self.scratch = Path()
        self._interrupted = threading.Event()
        self._bar: Any = None

    # -- entering and leaving ----------------------------------------------------------------------

    def __enter__(self) -> StudySession:
        try:
            if self._storage_url is not None:
                self.storage = open_storage(self._storage_url, heartbeat=self._heartbeat)
                self.study = open_study(self.name, self._storage_url, config=self._config,
                                        directions=self._directions, storage=self.storage)
            self.parent_id, self.made = open_parent_run(self.tracker, self.name,
                                                        {"kind": f"{self.kind}-parent", "study": self.name})
            if self.made and self._parent_params:
                self.tracker.log(self.parent_id, params=self._parent_params)
            self.scratch = Path(self._stack.enter_context(
                tempfile.TemporaryDirectory(prefix=f"nas-scaling-{self.kind}-")))
            if self._sticky:
                self._interrupted = self._stack.enter_context(ctrl_c_sticks())
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            if exc is not None and not self._ended:
                try:  # a failure while cleaning up must not replace the exception itself
                    self.abort(Outcome.INTERRUPTED, "interrupted (Ctrl-C or the executor stopped)")
                    self.tracker.end_run(self.parent_id, "FAILED" if isinstance(exc, UserError) else "KILLED")
                except Exception as cleanup:  # the next start repairs what is left (stale trials, orphan runs)
                    self.log(f"{self.kind}: cleaning up after the interrupt failed ({cleanup}); the next run "
                             "repairs it")
            elif exc is None and not self._ended:
                self.finish()
        finally:
            self.close_progress()
            self._stack.close()

    def check_interrupt(self) -> None:
        """Raise KeyboardInterrupt if a sticky Ctrl-C arrived (call at safe points)."""
        if self._interrupted.is_set():
            raise KeyboardInterrupt("interrupted")

    # -- progress ----------------------------------------------------------------------------------

    def progress(self, total: int) -> None:
        """Show a progress bar of ``total`` units (none when progress is off or there is nothing to do)."""
        if self._progress and total and self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=self.kind, unit=self._unit, file=sys.stderr, dynamic_ncols=True)

    def advance(self, note: str = "") -> None:
        if self._bar is not None:
            self._bar.update(1)
            if note:
                self._bar.set_postfix_str(note)

    def close_progress(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    # -- restoring ---------------------------------------------------------------------------------

    def completed(self) -> dict[str, TrialRecord]:
        """COMPLETE trials of the Optuna study by key (FAIL and PRUNED ones are retried)."""
        if self.study is None:
            return {}
        from optuna.trial import TrialState

        return {
            t.user_attrs["key"]: TrialRecord.from_trial(t)
            for t in self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if "key" in t.user_attrs
        }

    def restore(self, plan: Sequence[Planned]) -> list[Planned]:
        """Take the finished candidates of ``plan`` from the study (and from MLflow runs whose trial was
        never written: the process died between the two writes); returns the ones left to train."""
        done = self.completed()
        by_key = {p.key: p for p in plan}
        self.close_orphans()
        for run in self.tracker.find_runs({"kind": self.child_kind, "study": self.name}):
            key = run.tags.get("candidate", "")
            planned = by_key.get(key)
            if planned is None or key in done or run.status != "FINISHED" or "val_top1" not in run.metrics:
                continue
            record = TrialRecord.from_run(planned, network_to_compact(planned.spec), run.run_id, run.metrics,
                                          run.tags)
            self._write_trial(planned, record)
            done[key] = record
        restored = {k: r for k, r in done.items() if k in by_key}
        self.records.update(restored)
        self.restored = len(restored)
        todo = [p for p in plan if p.key not in restored]
        if restored:
            self.log(f"{self.kind}: resuming study {self.name!r}: {len(restored)} of {len(plan)} {self._unit}s "
                     "already trained")
        return todo

    def close_orphans(self, gone: Callable[[Mapping[str, str]], bool] = lambda tags: False) -> None:
        """Child runs left RUNNING by a process that died end KILLED: a process of this host that is gone
        (SIGKILL while training), or one that ``gone(run tags)`` says is gone (a search trial another
        worker failed as stale); a live process's runs are left alone."""
        host = socket.gethostname()
        for run in self.tracker.find_runs({"kind": self.child_kind, "study": self.name}):
            if run.status != "RUNNING":
                continue
            name, _, pid = run.tags.get("owner", "").rpartition(":")
            if (name == host and pid.isdigit() and not pid_alive(int(pid))) or gone(run.tags):
                self.tracker.log(run.run_id, tags={"state": Outcome.INTERRUPTED.value,
                                                   "status_reason": "its process died"})
                self.tracker.end_run(run.run_id, Outcome.INTERRUPTED.mlflow_status)

    # -- recording ---------------------------------------------------------------------------------

    def start_child(self, planned: Planned, *, name: str | None = None) -> str:
        """Start ``planned``'s child run (its params and what is known before training), so that it is
        visible, with live metrics, while it trains."""
        run_id = self.tracker.start_run(f"{self.name}/{name or planned.key}", parent_id=self.parent_id, tags={
            "kind": self.child_kind, "study": self.name, "candidate": planned.key,
            "owner": f"{socket.gethostname()}:{os.getpid()}", **planned.tags})
        spec = planned.spec
        self.tracker.log(run_id, params={
            "arch": network_to_compact(spec), "resolution": spec.resolution, "in_channels": spec.in_channels,
            **planned.run_params,
        }, metrics={"macs": float(planned.macs), "params": float(planned.params), **finite_numbers(planned.known)})
        if self._dataset is not None:
            self.tracker.log_dataset(run_id, **self._dataset)
        self._live[planned.key] = run_id
        return run_id

    def log_epoch(self, key: str, epoch: int, value: float) -> None:
        """An epoch's validation top-1 on the candidate's live run (if it has one)."""
        run_id = self._live.get(key)
        if run_id is not None:
            self.tracker.log(run_id, metrics={"val_top1": value}, step=epoch)

    def record(self, planned: Planned, result: TaskResult, *, trial: bool = True, outcome: Outcome | None = None,
               note: str = "") -> TrialRecord:
        """``planned`` finished with ``result``: end its child run (started now if it was not), log the
        spec, write its Optuna trial (unless ``trial`` is False: an ask-and-tell search tells its own),
        advance the progress bar. Returns what was stored."""
        outcome = outcome or Outcome.of(result)
        if planned.key not in self._live:
            self.start_child(planned)
        run_id = self._live.pop(planned.key)
        record = replace(TrialRecord.of(planned, result, network_to_compact(planned.spec), run_id), outcome=outcome)
        self.tracker.log(run_id, metrics=result.metrics(), step=result.epochs, tags={
            "state": outcome.value, "status_reason": result.reason or "", "node": result.node})
        self.tracker.log_artifact(run_id, save_spec(planned.spec, self.scratch / planned.key / "spec.yaml"))
        self.tracker.end_run(run_id, outcome.mlflow_status)
        if trial:
            self._write_trial(planned, record)
        self.records[planned.key] = record
        if outcome is Outcome.FAILED:
            self.log(f"{self.kind}: {self._unit} {planned.key} failed: {result.reason}")
        self.advance(note or (f"{planned.key} val_top1={result.val_top1:.3f}" if result.val_top1 is not None else ""))
        return record

    def _write_trial(self, planned: Planned, record: TrialRecord) -> None:
        if self.study is not None:
            record_trial(self.study, params=dict(planned.trial_params), value=record.val_top1,
                         state=record.outcome.optuna_state, user_attrs=record.user_attrs())

    def abort(self, outcome: Outcome, reason: str) -> None:
        """End every live child run as ``outcome`` (interrupted, stale) with ``reason``."""
        for key, run_id in list(self._live.items()):
            self.tracker.log(run_id, tags={"state": outcome.value, "status_reason": reason})
            self.tracker.end_run(run_id, outcome.mlflow_status)
            del self._live[key]

    # -- running a plan ----------------------------------------------------------------------------

    def run(self, executor: Executor, plan: Sequence[Planned], tasks: Sequence[TrainTask]) -> None:
        """Run ``tasks`` (one per planned candidate, same keys): each one's child run starts when its
        training starts and shows its epochs live; it is recorded as it finishes.

        The tasks are handed over largest first (multiply-adds times seeds; a stable sort), so that
        with trials side by side the last to start are the shortest and no slot idles long while the
        last one trains (the longest-processing-time-first rule; the default grid used to start its
        largest network last, and one core then idled for most of a training). Results do not depend
        on the order."""
        by_key = {p.key: p for p in plan}
        tasks = sorted(tasks, key=lambda t: by_key[t.key].macs * len(t.seeds), reverse=True)

        def on_start(key: str) -> None:  # the run is visible, with live epochs, while it trains
            if key not in self._live:
                self.start_child(by_key[key])

        def on_result(result: TaskResult) -> None:
            self.record(by_key[result.key], result)

        self.progress(len(tasks))
        if tasks:
            executor.run(tasks, on_result, on_start=on_start, on_epoch=self.log_epoch)

    # -- ending ------------------------------------------------------------------------------------

    def finish(self, *, params: Mapping[str, object] | None = None, metrics: Mapping[str, float] | None = None,
               artifacts: Sequence[Path] = ()) -> None:
        """Log the study's summary to the parent run and end it FINISHED."""
        self.tracker.log(self.parent_id, params=dict(params or {}), metrics=dict(metrics or {}))
        for path in artifacts:
            self.tracker.log_artifact(self.parent_id, path)
        self.tracker.end_run(self.parent_id, "FINISHED")
        self._ended = True

    def fail(self, message: str) -> NoReturn:
        """End the parent run FAILED and stop with ``message`` (a UserError)."""
        self.tracker.end_run(self.parent_id, "FAILED")
        self._ended = True
        raise UserError(message)


@contextlib.contextmanager
def ctrl_c_sticks() -> Iterator[threading.Event]:
    """Ctrl-C sets an event that the experiment checks at safe points (each epoch's report, each new
    trial) and stops there with KeyboardInterrupt; a second Ctrl-C raises at once. Raising from the
    handler itself can land inside a database write (leaving SQLite locked for the cleanup) or in a
    ``__del__``/weakref callback, where Python drops the exception and the search would go on."""
    event = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return

    def handler(signum: int, frame: object) -> None:
        if event.is_set():  # the second Ctrl-C stops at once
            raise KeyboardInterrupt
        event.set()
        print("nas-scaling: stopping after the current epoch (Ctrl-C again to stop now)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield event
    finally:
        signal.signal(signal.SIGINT, previous)
