"""``nas-scaling grid --budget 2xFLOPS``: EfficientNet's compound-scaling grid search."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from nas_scaling.cli.common import (
    add_data_args,
    add_execution_args,
    add_format,
    augment_fields,
    emit,
    execution_kwargs,
    load_arch,
    non_negative_int,
    positive_float,
    positive_int,
    prepare_inputs,
    print_table,
)
from nas_scaling.cli.proxies import add_prescreen_args, prescreen_options
from nas_scaling.cli.search import train_command
from nas_scaling.experiments.grid_plan import DEFAULT_MAX_CANDIDATES, DEFAULT_STEP, DEFAULT_TOLERANCE

if TYPE_CHECKING:
    from nas_scaling.experiments.grid import GridResult, RankedCandidate

__all__ = ["DEFAULT_BASE", "add_parser"]

DEFAULT_BASE = "efficientnet_tiny"


def _fraction(text: str) -> float:
    value = positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1), got {text!r}")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "grid",
        help="compound-scaling grid search of (alpha, beta, gamma) under a FLOP budget",
        description="Grid-search depth/width/resolution coefficients (alpha, beta, gamma) whose real "
        "multiply-adds are at most the budget and within --tolerance below it, train each candidate and the "
        "base itself (the control) on --dataset, rank them with standard errors, and extrapolate the "
        "family phi = 1..N. Resumes a study of the same name.",
    )
    p.add_argument("--budget", required=True, help="FLOP budget: 2xFLOPS (relative to --base), 600MFLOPS, "
                   "1.2GFLOPS; FLOPs are multiply-adds; may add a params limit: 2xFLOPS,8Mparams")
    p.add_argument("--base", default=DEFAULT_BASE, help=f"zoo name or spec file (default {DEFAULT_BASE})")
    add_data_args(p, resolution_help="the base's input side (default: the base's own); gamma scales from it")
    p.add_argument("--step", type=positive_float, default=DEFAULT_STEP, help="grid step of alpha, beta, gamma")
    p.add_argument("--tolerance", type=_fraction, default=DEFAULT_TOLERANCE, help="how far below the budget a "
                   f"candidate's real FLOP factor may be (default {DEFAULT_TOLERANCE}); never above it, unless "
                   "--approximately")
    p.add_argument("--approximately", action="store_true", help="read the budget as EfficientNet does "
                   "(\"approximately 2x\"): real FLOP factor within --tolerance either side of it")
    p.add_argument("--max-candidates", type=non_negative_int, default=DEFAULT_MAX_CANDIDATES,
                   help="train at most this many distinct networks, spread over the grid (0 = all; "
                   f"default {DEFAULT_MAX_CANDIDATES})")
    p.add_argument("--seeds", type=positive_int, default=1, help="trainings per candidate (mean and std)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="first seed")
    p.add_argument("--epochs", type=positive_int, default=None, help="proxy training epochs")
    p.add_argument("--batch-size", type=positive_int, default=None)
    p.add_argument("--phi-max", type=positive_int, default=7, help="extrapolate phi = 1..N (default 7)")
    add_execution_args(p, study_help="study name (default from base, budget and dataset)")
    p.add_argument("--output", type=Path, default=None,
                   help="write the result as JSON here, the plot beside it (default runs/<study>/grid.json)")
    add_prescreen_args(p, top_default="--max-candidates", grid=True)
    add_format(p)
    p.set_defaults(func=run)


def _row(result: GridResult, r: RankedCandidate, rank: object) -> dict[str, object]:
    def pct(x: float | None, sign: str = "") -> str | None:
        return None if x is None else f"{100 * x:{sign}.1f}"

    c = r.candidate
    return {
        "rank": rank, "alpha": c.alpha, "beta": c.beta, "gamma": c.gamma, "res": c.spec.resolution,
        "factor (theory)": round(c.factor_theoretical, 3), "factor (real)": round(c.factor_real, 3),
        "MFLOPs": round(c.macs / 1e6, 3), "params": c.params, "val top-1 %": pct(r.val_top1_mean),
        "+- se": pct(r.standard_error), "gain vs base": None if r is result.base else pct(result.gain(r), "+"),
        "tied": "best" if r is result.best else ("yes" if r is not result.base and r.tied_with(result.best) else ""),
    }


def _verdict(result: GridResult) -> str:
    """One line on what the grid can and cannot tell apart."""
    from nas_scaling.experiments.grid import TIED_WITHIN

    tied = result.tied
    if result.best.standard_error is None:
        return "no standard error (the validation size is unknown)"
    if not tied:
        return f"better than every other candidate by more than {TIED_WITHIN:g} standard errors"
    names = ", ".join(f"({r.candidate.alpha:g}, {r.candidate.beta:g}, {r.candidate.gamma:g})" for r in tied)
    return (f"tied within {TIED_WITHIN:g} standard errors with {names}: more seeds (--seeds) or epochs would be "
            "needed to name one winner")


GRID_EPOCHS = 3
"""Proxy epochs of a grid candidate by default: enough on digits to rank them (see README)."""


def run(args: argparse.Namespace) -> int:
    from nas_scaling.cli.common import open_tracker
    from nas_scaling.cost import parse_budget
    from nas_scaling.experiments.grid import GridOptions, run_grid

    budget = parse_budget(args.budget)
    prescreen = prescreen_options(args, default_top=args.max_candidates or None)
    base, inputs = prepare_inputs(load_arch(args.base), args)
    train: dict[str, object] = {"epochs": args.epochs or GRID_EPOCHS, **augment_fields(args.augment, args.dataset)}
    if args.batch_size:
        train["batch_size"] = args.batch_size
    options = GridOptions(
        budget=budget, step=args.step, tolerance=args.tolerance, approximately=args.approximately,
        max_candidates=args.max_candidates or None, seeds=args.seeds, seed=args.seed, dataset=args.dataset,
        data_dir=args.data_dir, subset=args.subset, train=train, phi_max=args.phi_max, prescreen=prescreen,
        inputs=tuple(inputs.lines()), **execution_kwargs(args),
    )
    tracker = open_tracker()
    from nas_scaling.experiments.grid import default_study_name

    output = args.output or Path("runs") / (args.study or default_study_name(base, options)) / "grid.json"
    result = run_grid(base, options, tracker=tracker, output=output)
    if args.format == "json":
        emit(result.to_json())
        return 0
    print(f"\nGrid study {result.study!r}: base {base.name}, budget {budget} "
          f"({result.plan.target_factor:.3g}x {result.plan.base_macs / 1e6:.3g} MFLOPs multiply-adds, "
          f"candidates {result.plan.window()}), {len(result.ranked)} candidates and the base "
          f"({result.trained} trained now, {result.failed} failed)")
    print_table([_row(result, r, "base" if r is result.base else i + 1)
                 for i, r in enumerate([*result.ranked, result.base])])
    b = result.best.candidate
    print(f"\nchosen: alpha={b.alpha:g} beta={b.beta:g} gamma={b.gamma:g} "
          f"(alpha*beta^2*gamma^2 = {b.factor_theoretical:.3f}, real {b.factor_real:.3f}); {_verdict(result)}\n")
    print("Extrapolated family (phi = 0 is the base):")
    print_table([
        {"phi": m.phi, "depth": round(m.depth, 3), "width": round(m.width, 3), "resolution": m.resolution,
         "params": m.params, "MFLOPs (multiply-adds)": round(m.macs / 1e6, 2),
         "x base": round(m.macs / result.plan.base_macs, 2)}
        for m in result.family
    ])
    best = output.with_name("best.yaml")
    print(f"\nwrote {output}, {result.plot} and {best} (also logged to MLflow, run {result.parent_run_id})")
    print(f"train the chosen network fully with: {train_command(best, args)}")
    return 0
