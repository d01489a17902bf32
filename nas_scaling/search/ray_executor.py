"""Ray Tune executor: trials side by side on CPUs or (fractional) GPUs, on this machine or a cluster.

Ray is imported only here. Results reach the caller through a Tune callback in the driver process
as each trial finishes, so a crash or Ctrl-C loses nothing already finished.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
from collections.abc import Sequence
from typing import Any

from nas_scaling.errors import UserError
from nas_scaling.search.work import TaskResult, TrainTask, run_task

__all__ = ["RayExecutor", "ray_trainable"]


def ray_trainable(config: dict[str, Any]) -> None:
    """Tune function trainable: run one task and report its result as the final metrics."""
    import ray
    from ray import tune

    task = TrainTask(**config["task"])
    result = dataclasses.replace(run_task(task), node=ray.get_runtime_context().get_node_id())
    tune.report({"result": dataclasses.asdict(result), "done": True})


class RayExecutor:
    def __init__(
        self,
        *,
        address: str | None = None,
        cpus_per_trial: float = 1.0,
        gpus_per_trial: float = 0.0,
        max_concurrent: int | None = None,
    ) -> None:
        if not cpus_per_trial > 0:
            raise UserError(f"cpus-per-trial must be > 0, got {cpus_per_trial!r}")
        if gpus_per_trial < 0:
            raise UserError(f"gpus-per-trial must be >= 0, got {gpus_per_trial!r}")
        self.address = address
        self.cpus_per_trial = cpus_per_trial
        self.gpus_per_trial = gpus_per_trial
        self.max_concurrent = max_concurrent
        self._started_ray = False
        self.slots = 1

    def _init(self) -> None:
        os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
        os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
        os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "60")
        import ray

        if not ray.is_initialized():
            try:
                ray.init(
                    address=self.address,
                    num_cpus=None if self.address else os.cpu_count(),
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level=logging.ERROR,
                    configure_logging=True,
                )
            except ConnectionError as exc:
                raise UserError(f"cannot join the Ray cluster at {self.address!r}: {exc}".splitlines()[0]) from None
            self._started_ray = True
        cpus = ray.cluster_resources().get("CPU", 1)
        self.slots = max(1, int(cpus // self.cpus_per_trial))
        if self.max_concurrent is not None:
            self.slots = min(self.slots, self.max_concurrent)

    def run(self, tasks: Sequence[TrainTask], on_result: Any) -> None:
        if not tasks:
            return
        self._init()
        import ray
        from ray import tune

        threads = max(1, int(self.cpus_per_trial))
        configs = [dataclasses.asdict(dataclasses.replace(t, train={**t.train, "threads": threads})) for t in tasks]
        by_key = {t.key: t for t in tasks}
        reported: set[str] = set()

        class _Record(tune.Callback):
            def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
                if result.get("done") and "result" in result:
                    data = result["result"]
                    data["per_seed_top1"] = tuple(data.get("per_seed_top1") or ())
                    task_result = TaskResult(**data)
                    if task_result.key not in reported:
                        reported.add(task_result.key)
                        on_result(task_result)

            def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
                key = trial.config["task"]["key"]
                if key not in reported:
                    reported.add(key)
                    on_result(TaskResult(key, "failed", "the Ray worker running this trial died"))

        resources = {"cpu": self.cpus_per_trial, "gpu": self.gpus_per_trial}
        tuner = tune.Tuner(
            tune.with_resources(ray_trainable, resources),
            param_space={"task": tune.grid_search(configs)},
            tune_config=tune.TuneConfig(max_concurrent_trials=self.slots),
            run_config=tune.RunConfig(
                name="nas-scaling",
                storage_path=tempfile.mkdtemp(prefix="nas-scaling-ray-"),
                verbose=0,
                callbacks=[_Record()],
                failure_config=tune.FailureConfig(max_failures=0),
            ),
        )
        try:
            tuner.fit()
        finally:
            if self._started_ray:
                ray.shutdown()
                self._started_ray = False
        missing = [k for k in by_key if k not in reported]
        if missing:  # Tune returned early (it handles Ctrl-C itself): treat it as an interruption
            raise KeyboardInterrupt(f"Ray Tune stopped before {len(missing)} trial(s) finished")
