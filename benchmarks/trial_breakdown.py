"""Where a Ray trial's seconds go: the same tasks through the Ray executor as it was and as it is, one run.

The default grid's networks (the ``efficientnet_tiny`` base and its 8 candidates under ``2xFLOPS``,
1 epoch each on digits, so that the overhead is a visible share) run through ``RayExecutor`` twice:

* **before**: a new trial actor per trial (``reuse_actors=False``), the executor before issue 17:
  each trial's worker process starts, imports torch and the training code and loads the dataset;
* **after**: the default, one actor per slot that trains trial after trial.

From timestamps taken in the driver (trial start, result) and in the worker (when the task began,
its imports, its dataset load, its training) it prints, per configuration, the fixed costs (Ray
start-up to the first trial, shutdown after the last) and the mean per-trial parts (dispatch: from
Tune starting the trial to our code running; imports; dataset load; training; the result's way
back; Tune's gap between one trial's end and the next one's start in the same slot). It then times
what the driver writes per trial (an MLflow child run with its spec artifact and an Optuna trial,
the grid's own ``StudySession.record``), which runs between trials in Tune's loop.

    python benchmarks/trial_breakdown.py                       # 2 trials side by side, 1 CPU each
    python benchmarks/trial_breakdown.py --cpus-per-trial 2    # one at a time
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from nas_scaling.cli.grid import DEFAULT_BASE
from nas_scaling.cost import parse_budget
from nas_scaling.experiments.grid import base_candidate
from nas_scaling.experiments.grid_plan import plan_grid
from nas_scaling.experiments.records import Planned
from nas_scaling.experiments.session import StudySession
from nas_scaling.search.ray_executor import RayExecutor
from nas_scaling.search.work import TaskResult, TrainTask
from nas_scaling.spec import spec_to_dict
from nas_scaling.tracking import MlflowTracker
from nas_scaling.zoo import get_spec


def _tasks(epochs: int) -> list[TrainTask]:
    plan = plan_grid(get_spec(DEFAULT_BASE), parse_budget("2xFLOPS"))
    control = base_candidate(plan)
    networks = [control, *(c for c in plan.candidates if c.key != control.key)]
    return [TrainTask(c.key, spec_to_dict(c.spec), "digits", {"epochs": epochs}, (0,)) for c in networks]


def _run(tasks: list[TrainTask], *, after: bool, cpus: float) -> dict[str, Any]:
    starts: dict[str, float] = {}
    results: dict[str, tuple[float, TaskResult]] = {}

    def on_start(key: str) -> None:
        starts[key] = time.time()

    def on_result(result: TaskResult) -> None:
        results[result.key] = (time.time(), result)

    executor = RayExecutor(cpus_per_trial=cpus, reuse_actors=after)
    began = time.time()
    executor.run(tasks, on_result, on_start=on_start)
    ended = time.time()

    parts: dict[str, list[float]] = {k: [] for k in ("dispatch", "imports", "load", "train", "back")}
    for key, (arrived, r) in results.items():
        parts["dispatch"].append(r.started_at - starts[key])
        parts["imports"].append(r.import_seconds)
        parts["load"].append(r.load_seconds)
        parts["train"].append(r.train_seconds - r.load_seconds)
        parts["back"].append(arrived - (r.started_at + r.import_seconds + r.train_seconds))
    # Tune's gap: from a result to the next trial's start (the next start after each result, per slot)
    order = sorted(starts.values())
    gaps = []
    for arrived, _ in results.values():
        later = [s for s in order if s >= arrived]
        if later:
            gaps.append(later[0] - arrived)
    gaps = sorted(gaps)[: max(0, len(tasks) - executor.slots)]
    return {
        "wall": ended - began,
        "first": min(starts.values()) - began,
        "shutdown": ended - max(a for a, _ in results.values()),
        "gap": statistics.fmean(gaps) if gaps else 0.0,
        **{k: statistics.fmean(v) for k, v in parts.items()},
        "sum_train": sum(parts["train"]),
        "slots": executor.slots,
    }


def _tracking_per_trial(tasks: list[TrainTask]) -> float:
    """Seconds the driver spends per trial on its records: child run + epochs + artifact + trial."""
    from nas_scaling.search.outcomes import TaskStatus
    from nas_scaling.spec import spec_from_dict

    with tempfile.TemporaryDirectory() as tmp:
        tracker = MlflowTracker(f"sqlite:///{tmp}/mlflow.db", experiment="bench", artifact_root=Path(tmp) / "a")
        planned = [Planned(t.key, spec_from_dict(t.spec), 1, 1) for t in tasks]
        with StudySession("bench", kind="grid", tracker=tracker, config={}, storage=f"sqlite:///{tmp}/s.db",
                          progress=False, log=lambda m: None) as session:
            start = time.perf_counter()
            for p in planned:
                session.start_child(p)
                for epoch in (1, 2, 3):
                    session.log_epoch(p.key, epoch, 0.5)
                session.record(p, TaskResult(p.key, TaskStatus.COMPLETED, val_top1=0.9, val_images=360))
            per_trial = (time.perf_counter() - start) / len(planned)
            session.finish()
    return per_trial


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--cpus-per-trial", type=float, default=1.0)
    args = parser.parse_args()

    tasks = _tasks(args.epochs)
    rows = {name: _run(tasks, after=name == "after", cpus=args.cpus_per_trial) for name in ("before", "after")}
    print(f"{len(tasks)} trials x {args.epochs} epoch(s), {args.cpus_per_trial:g} CPU(s) per trial, "
          f"{rows['after']['slots']} side by side")
    print("| seconds | before | after |")
    print("|---|---:|---:|")
    labels = [
        ("wall", "wall, the run"), ("first", "Ray start-up until the first trial starts"),
        ("shutdown", "after the last result (shutdown)"), ("dispatch", "per trial: Tune start -> our code runs"),
        ("imports", "per trial: imports in the worker"), ("load", "per trial: dataset load"),
        ("train", "per trial: training"), ("back", "per trial: result back to the driver"),
        ("gap", "per trial: Tune's gap, one trial's end -> the next one's start"),
    ]
    for key, label in labels:
        print(f"| {label} | {rows['before'][key]:.2f} | {rows['after'][key]:.2f} |")
    for name, row in rows.items():
        overhead = row["wall"] - row["sum_train"] / row["slots"]
        print(f"{name}: wall minus training (per slot) = {overhead:.1f} s, {overhead / len(tasks):.2f} s per trial")
    print(f"driver's records per trial (MLflow child run, 3 epochs, spec artifact, Optuna trial): "
          f"{_tracking_per_trial(tasks):.3f} s")


if __name__ == "__main__":
    main()
