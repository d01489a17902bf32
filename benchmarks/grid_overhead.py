"""Grid wall time vs a bare serial loop over the same candidates, in one run.

The grid (``run_grid``: planning, Optuna SQLite study, MLflow parent/child runs, artifacts, plot,
and the chosen executor, Ray Tune by default, Ray start-up included) is timed against a plain
``for`` loop that trains the same networks (the candidates and the base, which the grid trains as its
control) with the same proxy schedule and nothing else. The ratio grid / serial is what the grid
machinery costs (or saves, when it runs trials side by side).

    python benchmarks/grid_overhead.py                      # default grid size, Ray executor
    python benchmarks/grid_overhead.py --executor local --max-candidates 4 --epochs 2
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from nas_scaling.cli.grid import DEFAULT_BASE, GRID_EPOCHS
from nas_scaling.cost import parse_budget
from nas_scaling.experiments.grid import GridOptions, base_candidate, run_grid
from nas_scaling.experiments.grid_plan import DEFAULT_MAX_CANDIDATES, plan_grid
from nas_scaling.search.work import TrainTask, run_task
from nas_scaling.spec import spec_to_dict
from nas_scaling.tracking import MlflowTracker
from nas_scaling.zoo import get_spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executor", default="ray", choices=["ray", "local"])
    parser.add_argument("--max-candidates", type=int, default=DEFAULT_MAX_CANDIDATES)
    parser.add_argument("--epochs", type=int, default=GRID_EPOCHS)
    parser.add_argument("--serial-threads", type=int, default=os.cpu_count() or 1,
                        help="torch threads of the serial baseline (default: all cores)")
    args = parser.parse_args()

    base = get_spec(DEFAULT_BASE)
    budget = parse_budget("2xFLOPS")
    plan = plan_grid(base, budget, max_candidates=args.max_candidates)
    train = {"epochs": args.epochs}
    control = base_candidate(plan)
    networks = [control, *(c for c in plan.candidates if c.key != control.key)]  # what the grid trains

    start = time.perf_counter()
    serial = [
        run_task(TrainTask(c.key, spec_to_dict(c.spec), "digits", {**train, "threads": args.serial_threads}, (0,)))
        for c in networks
    ]
    serial_s = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        tracker = MlflowTracker(f"sqlite:///{tmp}/mlflow.db", experiment="bench",
                                artifact_root=Path(tmp) / "artifacts")
        options = GridOptions(budget=budget, max_candidates=args.max_candidates, train=train,
                              executor=args.executor, storage=f"sqlite:///{tmp}/studies.db", progress=False,
                              study="bench")
        start = time.perf_counter()
        result = run_grid(base, options, tracker=tracker, log=lambda m: None)
        grid_s = time.perf_counter() - start
    trained = {r.candidate.key for r in [*result.ranked, result.base]}
    if trained != {c.key for c in networks}:
        raise SystemExit("the grid trained other networks than the serial loop")

    print(f"networks: {len(networks)} (the base and {len(networks) - 1} candidates), epochs: {args.epochs}, "
          f"cores: {os.cpu_count()}")
    print(f"serial loop ({args.serial_threads} threads): {serial_s:8.1f} s "
          f"(val top-1 {[round(r.val_top1 or 0, 3) for r in serial]})")
    print(f"grid ({args.executor}):                 {grid_s:8.1f} s (trained {result.trained})")
    print(f"ratio grid / serial: {grid_s / serial_s:.3f}  (target <= 0.8)")


if __name__ == "__main__":
    main()
