"""Ray Tune executor: trials side by side on CPUs or (fractional) GPUs, on this machine or a cluster.

Ray is imported only here. Results reach the caller through a Tune callback in the driver process
as each trial finishes, so a crash or Ctrl-C loses nothing already finished.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import socket
import tempfile
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from ray import tune
from ray.tune.schedulers import AsyncHyperBandScheduler, FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher

from nas_scaling.errors import UserError
from nas_scaling.search.outcomes import TaskStatus
from nas_scaling.search.work import TaskResult, TrainTask, run_task

__all__ = ["TUNE_ENVIRONMENT", "RayExecutor", "ray_stream_trainable", "ray_trainable"]

TUNE_ENVIRONMENT = {
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",  # no CSV/JSON/TensorBoard files: the Optuna study is the record
    "RAY_AIR_NEW_OUTPUT": "0",  # with verbose=0, no progress table
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "60",  # quiet on a busy machine
}
"""Settings Tune reads from the environment in the driver while it starts and runs an experiment."""


@contextlib.contextmanager
def _tune_run() -> Iterator[str]:
    """One Tune run's surroundings: :data:`TUNE_ENVIRONMENT` where the user has not set a variable
    (from before ``ray.init`` to the end of the run, so a local Ray started here inherits them too),
    and a scratch ``storage_path``; afterwards both are gone and the environment is as it was."""
    added = {key: value for key, value in TUNE_ENVIRONMENT.items() if key not in os.environ}
    os.environ.update(added)  # for this run only: taken back below
    try:
        with tempfile.TemporaryDirectory(prefix="nas-scaling-ray-", ignore_cleanup_errors=True) as storage:
            yield storage
    finally:
        for key, value in added.items():
            if os.environ.get(key) == value:
                os.environ.pop(key)


def ray_trainable(config: dict[str, Any]) -> None:
    """Tune function trainable: run one task and report its result as the final metrics."""
    import ray

    task = TrainTask(**config["task"])

    def report(epoch: int, value: float) -> None:  # live epochs for the driver's MLflow run (no scheduler acts)
        tune.report({"val_top1": value, "epoch": epoch})

    result = dataclasses.replace(run_task(task, report=report), node=ray.get_runtime_context().get_node_id())
    tune.report({"result": dataclasses.asdict(result), "done": True})


def ray_stream_trainable(config: dict[str, Any]) -> None:
    """Tune function trainable of an adaptive search: one report per epoch (for ASHA), then the result."""
    import ray

    task = TrainTask(**config["task"])
    node = ray.get_runtime_context().get_node_id()

    def report(epoch: int, value: float) -> None:
        tune.report({"val_top1": value, "epoch": epoch, "node": node})

    result = dataclasses.replace(run_task(task, report=report), node=node)
    # JSON text: Tune hands searchers flattened results ("result/key"), a string stays whole
    tune.report({"final": json.dumps(dataclasses.asdict(result)), "done": True, "val_top1": result.val_top1 or 0.0,
                 "epoch": result.epochs})


def _task_result(data: dict[str, Any]) -> TaskResult:
    data = dict(data)
    data["per_seed_top1"] = tuple(data.get("per_seed_top1") or ())
    data["status"] = TaskStatus(data["status"])
    return TaskResult(**data)


class _Record(tune.Callback):
    """Hands each trial's result to ``on_result`` once, in the driver. Tune pickles its callbacks with
    the experiment state (for its own resume, which is not used): the function stays out of the pickle."""

    def __init__(self, on_result: Any, on_start: Any = None, on_epoch: Any = None) -> None:
        self.on_result = on_result
        self.on_start = on_start
        self.on_epoch = on_epoch
        self.reported: set[str] = set()

    def __getstate__(self) -> dict[str, Any]:
        return {"on_result": None, "on_start": None, "on_epoch": None, "reported": set(self.reported)}

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        if self.on_start is not None:
            self.on_start(trial.config["task"]["key"])

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        if "epoch" in result and "result" not in result and self.on_epoch is not None:
            self.on_epoch(trial.config["task"]["key"], int(result["epoch"]), float(result["val_top1"]))
        if result.get("done") and "result" in result:
            task_result = _task_result(result["result"])
            if task_result.key not in self.reported:
                self.reported.add(task_result.key)
                self.on_result(task_result)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        key = trial.config["task"]["key"]
        if key not in self.reported:
            self.reported.add(key)
            self.on_result(TaskResult(key, TaskStatus.FAILED, "the Ray worker running this trial died"))


def _check_listening(address: str, where: str = "") -> None:
    """Fail within seconds, in one line, where ``ray.init`` would retry for about 90 s: a ``HOST:PORT``
    where nothing accepts a connection. Other forms (``auto``, ``ray://...``) are left to Ray."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or "://" in address:
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UserError(f"cannot join the Ray cluster at {address!r}{where}: nothing answers there ({reason}); "
                        "start it with `ray start --head` or give another address") from None


class _RayOwner:
    """Ray for one executor, started and stopped by a thread of its own: ``ray.init`` runs there while the
    command goes on, and the thread then waits until :meth:`stop` to shut Ray down. The thread must live
    as long as Ray does: Ray starts its head processes with ``PR_SET_PDEATHSIG``, which kills them when
    the thread that started them ends. Ray's tasks and Tune run from the main thread meanwhile."""

    def __init__(self, address: str | None, where: str) -> None:
        self.address = address
        self.where = where
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        # a daemon: if the command dies without stop(), Ray's own exit handler shuts Ray down
        self._thread = threading.Thread(target=self._main, name="nas-scaling-ray", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        import ray

        started = False
        try:
            with _quiet_sigterm_warning():
                ray.init(
                    address=self.address,
                    num_cpus=None if self.address else os.cpu_count(),
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level=logging.ERROR,
                    configure_logging=True,
                )
            started = True
        except BaseException as exc:  # handed to the main thread by wait()
            self.error = exc
        finally:
            self._ready.set()
        if started:
            self._stop.wait()
            ray.shutdown()

    def wait(self) -> None:
        """Until Ray is up; raises what ``ray.init`` raised (a cluster it cannot join: one line)."""
        self._ready.wait()
        if isinstance(self.error, ConnectionError):
            raise UserError(f"cannot join the Ray cluster at {self.address!r}{self.where}: {self.error}"
                            .splitlines()[0]) from None
        if self.error is not None:
            raise self.error

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@contextlib.contextmanager
def _quiet_sigterm_warning() -> Iterator[None]:
    """Ray warns that it set no SIGTERM handler when started outside the main thread; the command sets one
    (``nas_scaling.cli.main``: SIGTERM exits through ``finally`` blocks, as Ray's handler did)."""
    logger = logging.getLogger("ray._private.worker")

    def quiet(record: logging.LogRecord) -> bool:
        return "SIGTERM handler is not set" not in record.getMessage()

    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


class RayExecutor:
    """Trials as Ray Tune trials. An actor trains trial after trial (Tune's ``reuse_actors``): its
    worker process imports torch and loads the dataset once, for its first trial, not for each."""

    def __init__(
        self,
        *,
        address: str | None = None,
        cpus_per_trial: float = 1.0,
        gpus_per_trial: float = 0.0,
        max_concurrent: int | None = None,
        reuse_actors: bool = True,
    ) -> None:
        """``reuse_actors=False`` gives each trial a new actor, as before issue 17 (for the benchmark)."""
        if not cpus_per_trial > 0:
            raise UserError(f"cpus-per-trial must be > 0, got {cpus_per_trial!r}")
        if gpus_per_trial < 0:
            raise UserError(f"gpus-per-trial must be >= 0, got {gpus_per_trial!r}")
        self.address = address
        self.cpus_per_trial = cpus_per_trial
        self.gpus_per_trial = gpus_per_trial
        self.max_concurrent = max_concurrent
        self.reuse_actors = reuse_actors
        self._owner: _RayOwner | None = None
        self.slots = 1

    def start(self) -> None:
        """Start Ray (or join the cluster) in the background, so that its start-up overlaps the work the
        command does before its first trial (planning, prescreening, opening the study); returns at
        once. Refuses an address where nothing listens here, before anything is written. Idempotent;
        a run starts it itself if it was not; :meth:`close` ends it."""
        import ray

        if self._owner is not None or ray.is_initialized():
            return
        # --address, else Ray's own RAY_ADDRESS (as `ray.init` reads it), else a Ray started here
        address, where = (self.address, "") if self.address else (os.environ.get("RAY_ADDRESS") or None,
                                                                   " (RAY_ADDRESS)")
        if address is not None:
            _check_listening(address, where)
        self._owner = _RayOwner(address, where)

    def close(self) -> None:
        """Stop the Ray this executor started (or leave the cluster it joined) and wait until it is
        stopped; a no-op when it started none."""
        owner, self._owner = self._owner, None
        if owner is not None:
            owner.stop()

    def _init(self) -> None:
        import ray

        self.start()
        if self._owner is not None:
            self._owner.wait()
        cpus = ray.cluster_resources().get("CPU", 1)
        self.slots = max(1, int(cpus // self.cpus_per_trial))
        if self.max_concurrent is not None:
            self.slots = min(self.slots, self.max_concurrent)

    def _fit(self, tuner: tune.Tuner) -> None:
        try:
            tuner.fit()
        finally:
            self.close()

    def run(self, tasks: Sequence[TrainTask], on_result: Any, *, on_start: Any = None, on_epoch: Any = None) -> None:
        if not tasks:
            return
        with _tune_run() as storage:
            record = self._run_grid(tasks, _Record(on_result, on_start, on_epoch), storage)
        missing = [t.key for t in tasks if t.key not in record.reported]
        if missing:  # Tune returned early (it handles Ctrl-C itself): treat it as an interruption
            raise KeyboardInterrupt(f"Ray Tune stopped before {len(missing)} trial(s) finished")

    def _run_grid(self, tasks: Sequence[TrainTask], record: _Record, storage: str) -> _Record:
        self._init()
        self.slots = min(self.slots, len(tasks))
        threads = max(1, int(self.cpus_per_trial))
        configs = [dataclasses.asdict(dataclasses.replace(t, train={**t.train, "threads": threads})) for t in tasks]
        resources = {"cpu": self.cpus_per_trial, "gpu": self.gpus_per_trial}
        tuner = tune.Tuner(
            tune.with_resources(ray_trainable, resources),
            param_space={"task": tune.grid_search(configs)},
            tune_config=tune.TuneConfig(max_concurrent_trials=self.slots, reuse_actors=self.reuse_actors),
            run_config=tune.RunConfig(
                name="nas-scaling",
                storage_path=storage,
                verbose=0,
                callbacks=[record],
                failure_config=tune.FailureConfig(max_failures=0),
            ),
        )
        self._fit(tuner)
        return record

    def run_adaptive(self, source: Any, count: int, *, early_stopping: bool, max_epochs: int) -> None:
        """Tune pulls tasks from ``source`` through a Searcher; ASHA stops the laggards."""
        if count <= 0:
            return
        with _tune_run() as storage:
            searcher = self._run_search(source, count, early_stopping=early_stopping, max_epochs=max_epochs,
                                        storage=storage)
        if searcher.unfinished:
            raise KeyboardInterrupt(f"Ray Tune stopped before {len(searcher.unfinished)} trial(s) finished")

    def _run_search(
        self, source: Any, count: int, *, early_stopping: bool, max_epochs: int, storage: str
    ) -> _SourceSearcher:
        self._init()
        self.slots = min(self.slots, count)
        searcher = _SourceSearcher(source, threads=max(1, int(self.cpus_per_trial)))
        scheduler: TrialScheduler = (
            _Asha(last_epoch=max_epochs, time_attr="training_iteration", metric="val_top1", mode="max",
                  max_t=max_epochs + 1,
                  grace_period=1, reduction_factor=3)
            if early_stopping else FIFOScheduler()
        )
        if isinstance(scheduler, _Asha):
            searcher.stopped_early = scheduler.stopped_early
        tuner = tune.Tuner(
            tune.with_resources(ray_stream_trainable, {"cpu": self.cpus_per_trial, "gpu": self.gpus_per_trial}),
            tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler, num_samples=count,
                                        max_concurrent_trials=self.slots, reuse_actors=self.reuse_actors),
            run_config=tune.RunConfig(
                name="nas-scaling-search",
                storage_path=storage,
                verbose=0,
                failure_config=tune.FailureConfig(max_failures=0),
            ),
        )
        self._fit(tuner)
        return searcher


class _Asha(AsyncHyperBandScheduler):
    """ASHA that remembers which trials it stopped (so they are told PRUNED, not COMPLETE), and never
    stops one on its last epoch's report: that trial has trained every epoch and is about to report its
    result (stopping it there recorded a complete training as pruned, with all its epochs)."""

    def __init__(self, *, last_epoch: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.last_epoch = last_epoch
        self.stopped_early: set[str] = set()

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
        decision = super().on_trial_result(tune_controller, trial, result)
        if decision == TrialScheduler.STOP and "final" not in result:
            if int(result.get("epoch", 0)) >= self.last_epoch:
                return str(TrialScheduler.CONTINUE)
            self.stopped_early.add(trial.trial_id)
        return str(decision)


class _SourceSearcher(Searcher):
    """A Tune searcher that draws from a :class:`~nas_scaling.search.executors.TaskSource` (our Optuna
    proposer, in this driver process) and hands every outcome back to it."""

    def __init__(self, source: Any, *, threads: int) -> None:
        super().__init__(metric="val_top1", mode="max")
        self.source = source
        self.threads = threads
        self.keys: dict[str, str] = {}
        self.last: dict[str, dict[str, Any]] = {}
        self.unfinished: set[str] = set()
        self.stopped_early: set[str] = set()

    def __getstate__(self) -> dict[str, Any]:
        """Tune pickles its searcher for experiment restore, which we do not use (the Optuna study is
        the record); the source holds locks and database handles, so it stays behind."""
        return {**self.__dict__, "source": None}

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        task = self.source.next_task()
        if task is None:
            return Searcher.FINISHED  # type: ignore[return-value]
        self.keys[trial_id] = task.key
        self.unfinished.add(task.key)
        return {"task": dataclasses.asdict(dataclasses.replace(task, train={**task.train, "threads": self.threads}))}

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        key = self.keys.get(trial_id)
        if key is not None and "final" not in result and "epoch" in result:
            self.last[trial_id] = result
            self.source.report(key, int(result["epoch"]), float(result["val_top1"]))

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        key = self.keys.pop(trial_id, None)
        if key is None:
            return
        last = self.last.pop(trial_id, None) or {}
        if result and "final" not in result and "epoch" in result:  # the result ASHA stopped it on
            last = result
            self.source.report(key, int(result["epoch"]), float(result["val_top1"]))
        if result and "final" in result:
            outcome = _task_result(json.loads(result["final"]))
        elif error:
            outcome = TaskResult(key, TaskStatus.FAILED, "the Ray worker running this trial died or raised")
        elif trial_id in self.stopped_early:
            epoch = int(last.get("epoch", 0))
            outcome = TaskResult(key, TaskStatus.STOPPED, f"stopped early by ASHA after epoch {epoch}",
                                 val_top1=last.get("val_top1"), epochs=epoch, node=str(last.get("node", "")))
        else:  # Tune is shutting down (Ctrl-C): the caller fails and re-enqueues what is left
            return
        self.unfinished.discard(key)
        self.source.finish(outcome)
