"""Per-trial overhead of the Ray executor against the local one, same trials, one run.

The same search (random sampler, same seed, hence the same architectures) runs twice: with the
local executor (in-process, one trial after the other) and with Ray Tune (one trial at a time too:
``--cpus-per-trial`` equal to the machine's cores, so both train serially with the same threads).
Early stopping is off, so both train every trial to the end. The difference in wall time divided
by the number of trials is the Ray executor's overhead per trial (Ray start-up included, and
amortized over the trials), and the ratio ray / local is printed. A third run shows Ray's default,
one CPU per trial with trials side by side, against the same local baseline.

    python benchmarks/executor_overhead.py
    python benchmarks/executor_overhead.py --trials 4 --epochs 1
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path

from nas_scaling import zoo
from nas_scaling.cost import parse_budget
from nas_scaling.experiments.search import SearchOptions, run_search
from nas_scaling.search.space import load_space
from nas_scaling.tracking import MemoryTracker

ROOT = Path(__file__).resolve().parents[1]


def _run(executor: str, args: argparse.Namespace, cores: float) -> tuple[float, list[str]]:
    space = load_space(args.space)
    reference = dataclasses.replace(zoo.get_spec(space.reference), num_classes=10, in_channels=1)
    with tempfile.TemporaryDirectory() as tmp:
        options = SearchOptions(
            budget=parse_budget(args.budget), trials=args.trials, sampler="random", seed=args.seed,
            train={"epochs": args.epochs, "threads": int(cores)}, early_stopping=False, executor=executor,
            study="bench", storage=f"sqlite:///{tmp}/studies.db", progress=False, cpus_per_trial=cores,
        )
        start = time.perf_counter()
        result = run_search(space, reference, options, tracker=MemoryTracker(), num_classes=10, in_channels=1,
                            log=lambda m: None)
        wall = time.perf_counter() - start
    archs = sorted(str(t["arch"]) for t in result.best)
    return wall, archs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", type=Path, default=ROOT / "search_spaces" / "mixed.yaml")
    parser.add_argument("--budget", default="2xFLOPS")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    cores = float(os.cpu_count() or 1)
    local_s, local_archs = _run("local", args, cores)
    ray_s, ray_archs = _run("ray", args, cores)
    side_s, side_archs = _run("ray", args, 1.0)  # Ray's default: one CPU per trial, trials side by side
    same = local_archs == ray_archs == side_archs
    print(f"{args.trials} trials x {args.epochs} epochs (random sampler, seed {args.seed}), same architectures: {same}")
    print("| executor | wall (s) | per trial (s) |")
    print("|---|---:|---:|")
    print(f"| local | {local_s:.1f} | {local_s / args.trials:.2f} |")
    print(f"| ray, one trial at a time ({cores:g} CPUs each) | {ray_s:.1f} | {ray_s / args.trials:.2f} |")
    print(f"| ray, side by side (1 CPU each, the default) | {side_s:.1f} | {side_s / args.trials:.2f} |")
    print(f"ray overhead per trial: {(ray_s - local_s) / args.trials:+.2f} s; "
          f"ratio ray / local: {ray_s / local_s:.3f}; side by side / local: {side_s / local_s:.3f}")


if __name__ == "__main__":
    main()
