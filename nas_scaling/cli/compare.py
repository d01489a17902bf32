"""``nas-scaling compare``: grid, found and handcrafted networks from MLflow in one table (and plot)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nas_scaling.cli.common import add_format, emit, print_table

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "compare",
        help="compare the tracked grid, found and handcrafted networks: accuracy, cost, Pareto front",
        description="Read the finished runs tagged kind=grid, found or handcrafted from MLflow "
        "(MLFLOW_TRACKING_URI, default sqlite:///mlruns/mlflow.db), one row each with its dataset and inputs "
        "(channels x height x width; '-' where a run did not record them), sorted by validation top-1; "
        "'pareto' marks runs no other run on the same dataset beats on both accuracy and multiply-adds.",
    )
    p.add_argument("--experiment", default="nas-scaling", help="MLflow experiment (default nas-scaling)")
    p.add_argument("--plot", type=Path, default=None, metavar="FILE",
                   help="also write a PNG of val top-1 against MFLOPs (multiply-adds) with the Pareto front")
    p.add_argument("--reference", choices=("imagenet",), default=None,
                   help="instead of MLflow runs, show the zoo entries' published ImageNet top-1/top-5 next to "
                   "the MACs and params nas-scaling counts, one row per figure with its protocol (single-crop, "
                   "10-crop, multi-crop+dense) and source: torchvision's weights first, then the paper's own where "
                   "it differs (with --plot: the first figure's top-1 against MFLOPs, one line per family)")
    add_format(p, ("table", "csv", "markdown", "json"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.reference is not None:
        return _run_reference(args)
    from nas_scaling.cli.common import tracking_uri
    from nas_scaling.report import format_csv, format_markdown, load_runs, plot_runs, table_rows
    from nas_scaling.tracking import MlflowTracker

    uri = tracking_uri()
    tracker = MlflowTracker(uri, experiment=args.experiment, create=False)  # reads; makes nothing
    table = load_runs(tracker, source=f"experiment {args.experiment!r} at {uri}")
    if args.format == "json":
        emit(table_rows(table))
    elif args.format == "csv":
        sys.stdout.write(format_csv(table))
    elif args.format == "markdown":
        sys.stdout.write(format_markdown(table))
    else:
        print_table([
            {**r, "dataset": r["dataset"] or "-", "inputs": r["inputs"] or "-", "val_top1": _round(r["val_top1"]),
             "val_top5": _round(r["val_top5"]), "train_seconds": _round(r["train_seconds"], 1)}
            for r in table_rows(table)
        ])
    if args.plot is not None:
        plot_runs(table, args.plot, title=f"Accuracy vs cost ({args.experiment}, {len(table)} runs)")
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


def _run_reference(args: argparse.Namespace) -> int:
    """Published accuracies against our cost counts; reads no MLflow store."""
    from nas_scaling.report.compare import format_reference_markdown, plot_reference, reference_rows, reference_table

    table = reference_table(args.reference)
    if args.format == "json":
        emit(reference_rows(table))
    elif args.format == "csv":
        sys.stdout.write(str(table.to_csv(index=False)))
    elif args.format == "markdown":
        sys.stdout.write(format_reference_markdown(table))
    else:
        print_table([{**r, "top1": _round(r["top1"]), "top5": _round(r["top5"])} for r in reference_rows(table)])
    if args.plot is not None:
        networks = table["name"].nunique()
        plot_reference(table, args.plot, title=f"Published ImageNet top-1 vs multiply-adds ({networks} networks)")
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)
