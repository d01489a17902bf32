"""TPE vs random search at equal trial counts: best-found validation accuracy over several seeds.

Both samplers search the same space under the same hard budget with the same training schedule
(local executor, no early stopping, so every trial trains the same number of epochs); the only
difference is how the next architecture is chosen. For each seed the best validation top-1 found
after N trained trials is recorded; the script prints the per-seed table, the means and the ratio
TPE / random of the mean best-found accuracy (and of the mean accuracy of all trained trials).

    python benchmarks/search_samplers.py                                  # mixed.yaml, 2xFLOPS
    python benchmarks/search_samplers.py --trials 8 --seeds 0 1 --epochs 1
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

from nas_scaling import zoo
from nas_scaling.cost import parse_budget
from nas_scaling.experiments.search import SearchOptions, run_search
from nas_scaling.search.space import load_space
from nas_scaling.tracking import MemoryTracker

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", type=Path, default=ROOT / "search_spaces" / "mixed.yaml")
    parser.add_argument("--budget", default="2xFLOPS")
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--samplers", nargs="+", default=["tpe", "random"])
    args = parser.parse_args()

    space = load_space(args.space)
    reference = dataclasses.replace(zoo.get_spec(space.reference), num_classes=10, in_channels=1)
    best: dict[str, list[float]] = {s: [] for s in args.samplers}
    mean_all: dict[str, list[float]] = {s: [] for s in args.samplers}
    print(f"space {space.name}, budget {args.budget}, {args.trials} trials x {args.epochs} epochs, digits, local")
    print("| sampler | seed | best val top-1 | mean val top-1 | infeasible draws | wall (s) |")
    print("|---|---:|---:|---:|---:|---:|")
    for seed in args.seeds:
        for sampler in args.samplers:
            with tempfile.TemporaryDirectory() as tmp:
                options = SearchOptions(
                    budget=parse_budget(args.budget), trials=args.trials, sampler=sampler, seed=seed,
                    train={"epochs": args.epochs}, early_stopping=False, executor="local", study="bench",
                    storage=f"sqlite:///{tmp}/studies.db", progress=False,
                )
                start = time.perf_counter()
                result = run_search(space, reference, options, tracker=MemoryTracker(), num_classes=10,
                                    in_channels=1, log=lambda m: None)
                wall = time.perf_counter() - start
            accs = [float(t["val_top1"]) for t in result.best]
            best[sampler].append(max(accs))
            mean_all[sampler].append(statistics.fmean(accs))
            print(f"| {sampler} | {seed} | {max(accs):.4f} | {statistics.fmean(accs):.4f} | "
                  f"{result.counts['infeasible']} | {wall:.0f} |", flush=True)
    print()
    for sampler in args.samplers:
        sd = statistics.pstdev(best[sampler]) if len(best[sampler]) > 1 else 0.0
        print(f"{sampler}: mean best-found {statistics.fmean(best[sampler]):.4f} (std {sd:.4f}), "
              f"mean of all trials {statistics.fmean(mean_all[sampler]):.4f}")
    if {"tpe", "random"} <= set(args.samplers):
        ratio = statistics.fmean(best["tpe"]) / statistics.fmean(best["random"])
        ratio_all = statistics.fmean(mean_all["tpe"]) / statistics.fmean(mean_all["random"])
        print(f"ratio tpe / random: best-found {ratio:.4f}, mean of all trials {ratio_all:.4f}")


if __name__ == "__main__":
    main()
