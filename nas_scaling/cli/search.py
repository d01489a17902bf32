"""``nas-scaling search --space search_spaces/mixed.yaml --budget 2xFLOPS``: architecture search."""

from __future__ import annotations

import argparse
from pathlib import Path

from nas_scaling.cli.common import (
    add_data_args,
    add_execution_args,
    add_format,
    augment_fields,
    emit,
    execution_kwargs,
    load_arch,
    non_negative_int,
    positive_int,
    prepare_inputs,
    print_table,
)
from nas_scaling.cli.proxies import add_prescreen_args, prescreen_options

__all__ = ["SEARCH_EPOCHS", "add_parser"]

SEARCH_EPOCHS = 3
"""Epochs per trial by default (the grid's proxy schedule); ASHA may stop a trial after 1."""


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from nas_scaling.search.samplers import SAMPLERS

    p = sub.add_parser(
        "search",
        help="architecture search over a space of block choices under a hard FLOP budget",
        description="Sample networks from a search-space file with an Optuna sampler, never train one "
        "over the budget, train the rest on --dataset (Ray Tune with ASHA, or local with Optuna's "
        "pruner), and write the best spec(s). Rerunning the same command resumes the study.",
    )
    p.add_argument("--space", required=True, type=Path, help="search-space file (see search_spaces/)")
    p.add_argument("--budget", required=True, help="hard budget: 2xFLOPS (relative to the space's reference), "
                   "600MFLOPS, 5Mparams or a comma list; FLOPs are multiply-adds")
    p.add_argument("--trials", type=positive_int, default=12,
                   help="trained trials the study should hold (a rerun trains only the missing ones)")
    p.add_argument("--sampler", choices=list(SAMPLERS), default="tpe",
                   help="tpe (default), nsga2 (accuracy and MACs: Pareto front), random, grid (finite spaces)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="sampler and training seed")
    add_data_args(p, resolution_help="train every network at this input side (default: the space's resolution "
                  "choices, or its reference's); the reference, and so a relative budget, follows it")
    p.add_argument("--epochs", type=positive_int, default=None, help=f"epochs per trial (default {SEARCH_EPOCHS})")
    p.add_argument("--batch-size", type=positive_int, default=None)
    p.add_argument("--no-early-stopping", action="store_true", help="train every trial to the end (no ASHA/pruner)")
    add_execution_args(p, study_help="study name (default from space, budget, sampler and dataset)")
    p.add_argument("--output", type=Path, default=None,
                   help="write best.yaml, pareto/*.yaml (nsga2) and summary.json here (default runs/<study>/)")
    add_prescreen_args(p, top_default="--trials")
    add_format(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from nas_scaling.cli.common import open_tracker
    from nas_scaling.cost import parse_budget
    from nas_scaling.errors import UserError
    from nas_scaling.experiments.search import SearchOptions, default_study_name, run_search
    from nas_scaling.search.distributions import Dist
    from nas_scaling.search.space import load_space

    budget = parse_budget(args.budget)
    prescreen = prescreen_options(args, default_top=args.trials, most=("--trials", args.trials))
    space = load_space(args.space)
    reference_arch = space.reference
    beside = args.space.parent / reference_arch
    if not reference_arch.isidentifier() and beside.exists():
        reference_arch = str(beside)
    try:
        reference = load_arch(reference_arch)
    except UserError as exc:
        raise UserError(f"{args.space}: reference: {exc}") from None
    reference, inputs = prepare_inputs(reference, args)
    if args.resolution is not None:
        space = replace(space, resolution=Dist("fixed", value=args.resolution))
    train: dict[str, object] = {"epochs": args.epochs or SEARCH_EPOCHS, **augment_fields(args.augment, args.dataset)}
    if args.batch_size:
        train["batch_size"] = args.batch_size
    options = SearchOptions(
        budget=budget, trials=args.trials, sampler=args.sampler, seed=args.seed, dataset=args.dataset,
        data_dir=args.data_dir, subset=args.subset, train=train, early_stopping=not args.no_early_stopping,
        prescreen=prescreen,
        inputs=tuple(inputs.lines()), **execution_kwargs(args),
    )
    tracker = open_tracker()
    output = args.output or Path("runs") / (args.study or default_study_name(space, options))
    result = run_search(space, reference, options, tracker=tracker, num_classes=inputs.info.num_classes,
                        in_channels=inputs.channels, output=output)
    if args.format == "json":
        emit(result.to_json())
        return 0
    c = result.counts
    print(f"\nSearch study {result.study!r}: space {result.space}, sampler {result.sampler}, budget {result.budget} "
          f"({(result.budget_macs or 0) / 1e6:.3g} MFLOPs multiply-adds)")
    print(f"this run: {c['trained']} trained, {c['pruned']} stopped early, {c['failed']} failed; "
          f"{c['infeasible']} draws over the budget and {c['invalid']} invalid ones rejected without training, "
          f"{c['duplicates']} duplicates not retrained")

    def row(t: dict[str, object], rank: int | None = None) -> dict[str, object]:
        out: dict[str, object] = {} if rank is None else {"rank": rank}
        out.update({"trial": t["number"], "val top-1": round(float(t["val_top1"]), 4),  # type: ignore[arg-type]
                    "MFLOPs": round(float(t["macs"]) / 1e6, 3), "params": t["params"],  # type: ignore[arg-type]
                    "arch": _short(str(t["arch"]))})
        return out

    print("\nBest trials:")
    print_table([row(t, i + 1) for i, t in enumerate(result.best[:5])])
    if result.sampler == "nsga2":
        print("\nPareto front (accuracy up, MACs down):")
        print_table([row(t) for t in result.pareto])
    print(f"\nwrote {', '.join(str(f) for f in result.files[:1])} and {result.files[-1]}")
    print(f"train the best fully with: {train_command(result.files[0], args)}")
    return 0


def train_command(spec: Path, args: argparse.Namespace) -> str:
    """The command that trains ``spec`` with the full recipe on the same data and augmentation."""
    import shlex

    parts = ["nas-scaling", "train", str(spec), "--dataset", args.dataset, "--recipe", "full"]
    if args.data_dir:
        parts += ["--data-dir", args.data_dir]
    if args.augment != "auto":
        parts += ["--augment", args.augment]
    return shlex.join(parts)


def _short(arch: str, width: int = 70) -> str:
    return arch if len(arch) <= width else arch[: width - 3] + "..."
