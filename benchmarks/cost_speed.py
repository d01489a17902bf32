"""Speed of the analytic cost model against fvcore, over the whole zoo in one run.

For every zoo entry at its native resolution: the median time of ``count_cost(spec)`` (the fast
path) and of fvcore's conv+linear count (build the model, trace it, count: the baseline), their
ratio, and a check that both give the same multiply-adds. Then the time of one budget check of a
typical search candidate (a small MBConv network at 32x32): the budget is parsed and resolved once,
each check is ``count_cost`` + ``ResolvedBudget.check``.

    .venv/bin/python benchmarks/cost_speed.py [--fvcore-repeats 3] [--fast-repeats 50] [--small] [NAME ...]

Prints a Markdown table (paste into benchmarks/README.md) and the median speed-up (target >= 100x).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nas_scaling import zoo
from nas_scaling.cost import count_cost, fvcore_conv_linear_macs, parse_budget
from nas_scaling.spec import ConvBlock, Head, MBConv, NetworkSpec, Stage

CANDIDATE = NetworkSpec(
    "candidate",
    stem=(Stage(ConvBlock(16, act="silu"), stride=1),),
    stages=(
        Stage(MBConv(16, expand=1, se=0.25), repeats=1),
        Stage(MBConv(24, expand=6, se=0.25), repeats=2, stride=2),
        Stage(MBConv(40, expand=6, kernel=5, se=0.25), repeats=2, stride=2),
        Stage(MBConv(80, expand=6, se=0.25), repeats=3, stride=2),
        Stage(MBConv(112, expand=6, kernel=5, se=0.25), repeats=3),
    ),
    head=Head(conv=640, act="silu", dropout=0.2),
    resolution=32,
    num_classes=10,
)
"""A typical search candidate: a small EfficientNet-like MBConv network at 32x32."""


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="zoo entries (default: all)")
    parser.add_argument("--fvcore-repeats", type=int, default=3, help="timed fvcore runs per model (median)")
    parser.add_argument("--fast-repeats", type=int, default=50, help="timed fast-path runs per model (median)")
    parser.add_argument("--small", action="store_true", help="use the 32x32 small=True forms")
    args = parser.parse_args(argv)

    entries = [zoo.get_entry(n) for n in args.names] if args.names else zoo.entries()
    fvcore_conv_linear_macs(zoo.get_spec("lenet5"))  # import torch and fvcore outside the timings
    print("| model | resolution | GFLOPs (multiply-adds) | fast path (ms) | fvcore (ms) | speed-up | agree |")
    print("|---|---:|---:|---:|---:|---:|:---:|")
    ratios = []
    for entry in entries:
        spec = entry.spec(small=args.small)
        count_cost(spec)  # warm caches (imports) outside the timing
        fast = median_seconds(lambda spec=spec: count_cost(spec), args.fast_repeats)  # type: ignore[misc]
        fv_times, fv_counts = [], set()
        for _ in range(args.fvcore_repeats):
            start = time.perf_counter()
            fv_counts.add(fvcore_conv_linear_macs(spec))
            fv_times.append(time.perf_counter() - start)
        fv = statistics.median(fv_times)
        macs = count_cost(spec).macs
        ratios.append(fv / fast)
        print(f"| {entry.name} | {spec.resolution} | {macs / 1e9:.3f} | {fast * 1e3:.3f} | {fv * 1e3:,.0f} | "
              f"{fv / fast:,.0f}x | {'yes' if fv_counts == {macs} else 'NO'} |", flush=True)
    print()
    print(f"median speed-up over {len(ratios)} models: {statistics.median(ratios):,.0f}x "
          f"(min {min(ratios):,.0f}x, max {max(ratios):,.0f}x; target >= 100x)")

    budget = parse_budget("2xFLOPS,1Mparams").resolve(count_cost(zoo.get_spec("efficientnet_b0", small=True)))
    cost = count_cost(CANDIDATE)

    def check() -> bool:
        return budget.check(count_cost(CANDIDATE)).fits

    per_check = median_seconds(lambda: [check() for _ in range(100)], 21) / 100
    print(f"budget check of a search candidate ({sum(s.repeats for s in CANDIDATE.all_stages)} blocks, 32x32, "
          f"{cost.macs / 1e6:.2f} MFLOPs, {cost.params:,} params; count_cost + check): "
          f"{per_check * 1e3:.3f} ms (target < 5 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
