"""``nas-scaling baseline ARCH...``: handcrafted networks trained like grid candidates, logged to MLflow."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from nas_scaling.cli.common import (
    add_data_args,
    add_format,
    augment_fields,
    emit,
    load_arch,
    positive_int,
    prepare_inputs,
    print_table,
)
from nas_scaling.cli.grid import GRID_EPOCHS

if TYPE_CHECKING:
    from nas_scaling.spec import NetworkSpec

__all__ = ["SMALL_ABOVE", "add_parser", "resolve_spec"]

SMALL_ABOVE = 64
"""On digits, a zoo entry whose native resolution is above this is trained in its small form."""


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "baseline",
        help="train handcrafted networks with the grid's proxy schedule and log them for 'compare'",
        description="Train each zoo entry or spec file with the same proxy schedule and evaluation as a grid "
        "candidate, and log it as an MLflow run tagged kind=handcrafted (see 'nas-scaling compare'). The "
        "input channels and classes come from the dataset, the resolution is the spec's unless --resolution, "
        "and --like STUDY trains on the same dataset, inputs, subset and proxy training as that grid or search "
        "study (so 'compare' puts like with like). On digits "
        f"a zoo entry whose native resolution is above {SMALL_ABOVE} (e.g. resnet18 at 224) is trained in "
        "its small-input (32x32) form.",
    )
    p.add_argument("arch", metavar="ARCH", nargs="+", help="zoo names or spec files (YAML/JSON)")
    add_data_args(p, resolution_help="train every network at this input side (default: each spec's own)")
    p.add_argument("--like", metavar="STUDY", default=None, help="train on the same dataset, resolution, subset, "
                   "augmentation and epochs as this grid or search study (its name, as 'compare' shows it)")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help=f"proxy training epochs (default {GRID_EPOCHS}, as 'grid')")
    p.add_argument("--batch-size", type=positive_int, default=None)
    p.add_argument("--seeds", type=positive_int, default=1, help="trainings per network (mean and std)")
    p.add_argument("--small", action="store_true", help="use zoo entries' small-input (32x32) forms "
                   f"(default on digits for entries whose native resolution is above {SMALL_ABOVE})")
    add_format(p)
    p.set_defaults(func=run)


def resolve_spec(arch: str, *, dataset: str, small: bool) -> NetworkSpec:
    """A zoo entry (its small form when asked, or on digits when its native input is large) or a spec file."""
    from nas_scaling import zoo

    if zoo.is_known(arch):
        large = zoo.get_spec(arch).resolution > SMALL_ABOVE
        if small or (dataset == "digits" and large):
            return zoo.get_spec(arch, small=True)
    return load_arch(arch)


def run(args: argparse.Namespace) -> int:
    from nas_scaling.cli.common import open_tracker
    from nas_scaling.experiments.baseline import BaselineOptions, run_baselines, study_inputs

    tracker = open_tracker()
    train: dict[str, object] = {"epochs": args.epochs or GRID_EPOCHS, **augment_fields(args.augment, args.dataset)}
    resolution, subset = args.resolution, args.subset
    if args.like is not None:  # the study's inputs and training; options given here still win
        like = study_inputs(tracker, args.like)
        args.dataset, args.data_dir = like.dataset, args.data_dir or like.data_dir
        resolution = resolution or like.resolution
        subset = subset if subset != 1.0 else like.subset
        train = {**like.train, **({"epochs": args.epochs} if args.epochs else {})}
        train.pop("threads", None)
        print(f"baseline: like study {args.like!r} ({like.kind}): {like.dataset}, resolution {like.resolution}, "
              f"subset {like.subset:g}, training {like.train}", file=sys.stderr)
    if args.batch_size:
        train["batch_size"] = args.batch_size
    adapted = [prepare_inputs(resolve_spec(a, dataset=args.dataset, small=args.small), args, command="baseline",
                              resolution=resolution)[0] for a in args.arch]
    options = BaselineOptions(dataset=args.dataset, data_dir=args.data_dir, subset=subset, seeds=args.seeds,
                              train=train)
    results = run_baselines(adapted, options, tracker=tracker)
    if args.format == "json":
        emit([r.to_json() for r in results])
    else:
        print_table([
            {"name": r.name, "inputs": f"{r.in_channels}x{r.resolution}x{r.resolution}",
             "MFLOPs": round(r.macs / 1e6, 3), "params": r.params,
             "val top-1": None if r.val_top1 is None else round(r.val_top1, 4),
             "std": None if r.val_top1_std is None else round(r.val_top1_std, 4),
             "val top-5": None if r.val_top5 is None else round(r.val_top5, 4),
             "seconds": round(r.train_seconds, 1), "status": r.status}
            for r in results
        ])
        for r in results:
            if r.status != "completed":
                print(f"{r.name} {r.status}: {r.reason}")
    return 0 if all(r.status == "completed" for r in results) else 1
