"""``nas-scaling proxies --space FILE --samples N --train-top K``: how well zero-cost proxies rank a space.

Also the ``--prescreen N --proxy NAME --train-top K`` options that ``search`` and ``grid`` share.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from nas_scaling.cli.common import add_data_args, add_format, emit, load_arch, positive_float, positive_int, print_table

if TYPE_CHECKING:
    from nas_scaling.experiments.prescreen import PrescreenOptions
    from nas_scaling.search.space import SearchSpace
    from nas_scaling.spec import NetworkSpec

__all__ = ["PROXIES_EPOCHS", "add_parser", "add_prescreen_args", "load_space_reference", "prescreen_options"]

PROXIES_EPOCHS = 3
"""Epochs each sampled network is trained by default: the grid's and the search's proxy schedule."""

_PROXY_HELP = ("synflow, naswot, grad_norm, snip, jacob_cov, or vote (default: the average rank under synflow, "
               "jacob_cov and snip, as Abdelfattah et al. 2021 vote)")


def add_prescreen_args(parser: argparse.ArgumentParser, *, top_default: str, grid: bool = False) -> None:
    """``--prescreen N --proxy NAME --train-top K``, shared by ``search`` and ``grid``."""
    g = parser.add_argument_group("prescreening with a zero-cost proxy (no training)")
    if grid:
        g.add_argument("--prescreen", type=positive_int, metavar="N", default=None,
                       help="plan up to N grid candidates (spread over the grid, instead of --max-candidates), "
                       "score each untrained network with --proxy on one minibatch, and train only the best "
                       "--train-top; a rerun selects the same ones")
    else:
        g.add_argument("--prescreen", type=positive_int, metavar="N", default=None,
                       help="before training, draw N distinct networks under the budget, score each untrained "
                       "network with --proxy on one minibatch, and enqueue the best --train-top as the study's "
                       "first trials; --trials minus --train-top further trials then come from --sampler. Only "
                       "while the study has fewer trained trials than --trials; never enqueues a network twice")
    g.add_argument("--proxy", metavar="NAME", default=None, help=_PROXY_HELP)
    g.add_argument("--train-top", type=positive_int, metavar="K", default=None,
                   help=f"train the proxy's best K (default {top_default}, at most N)")


def prescreen_options(
    args: argparse.Namespace, *, default_top: int | None, most: tuple[str, int] | None = None,
) -> PrescreenOptions | None:
    """The :class:`PrescreenOptions` of ``add_prescreen_args``' flags (None without ``--prescreen``)."""
    from nas_scaling.errors import UserError

    if args.prescreen is None:
        if args.proxy is not None or args.train_top is not None:
            raise UserError("--proxy and --train-top need --prescreen N (how many candidates to score)")
        return None
    from nas_scaling.experiments.prescreen import PrescreenOptions  # torch and the models: only when asked
    top = args.train_top if args.train_top is not None else min(args.prescreen, default_top or args.prescreen)
    if most is not None and top > most[1]:
        raise UserError(f"--train-top must be at most {most[0]} (the trials to train), got {top} > {most[1]}")
    return PrescreenOptions(samples=args.prescreen, train_top=top, proxy=args.proxy or "vote")


def load_space_reference(path: Path) -> tuple[SearchSpace, NetworkSpec]:
    """A space file and its reference network (a zoo name, or a spec file beside the space)."""
    from nas_scaling.errors import UserError
    from nas_scaling.search.space import load_space

    space = load_space(path)
    arch = space.reference
    beside = path.parent / arch
    if not arch.isidentifier() and beside.exists():
        arch = str(beside)
    try:
        return space, load_arch(arch)
    except UserError as exc:
        raise UserError(f"{path}: reference: {exc}") from None


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "proxies",
        help="how well each zero-cost proxy ranks a search space (Spearman, Kendall vs trained accuracy)",
        description="Draw --samples distinct networks under --budget from a search space (seeded random "
        "draws), score each untrained one with every zero-cost proxy and their vote, train the FIRST "
        "--train-top draws (a uniform random subset, independent of the scores, so the correlation "
        "describes the space and not the proxies' favourites) on --dataset, and report each proxy's "
        "Spearman and Kendall correlation with validation top-1. Writes proxies.json, candidates.csv "
        "and proxies.png (one scatter panel per proxy) to --output.",
    )
    p.add_argument("--space", required=True, type=Path, help="search-space file (see search_spaces/)")
    p.add_argument("--samples", required=True, type=positive_int, metavar="N", help="networks to draw and score")
    p.add_argument("--train-top", required=True, type=positive_int, metavar="K",
                   help="train the first K draws (a random subset, not the best-scored; 3 <= K <= N)")
    p.add_argument("--budget", default="2xFLOPS", help="hard budget of the draws: 2xFLOPS (default; relative to the "
                   "space's reference), 600MFLOPS, 5Mparams or a comma list; FLOPs are multiply-adds")
    add_data_args(p, resolution_help="train and score every network at this input side (default: the space's "
                  "resolution choices, or its reference's)")
    p.add_argument("--fidelity", type=positive_int, metavar="EPOCHS", default=None,
                   help="also train the same K networks with the full recipe for EPOCHS epochs, and report how "
                   "the short training and each proxy rank them against that (does the short schedule rank "
                   "networks as full training does?)")
    p.add_argument("--epochs", type=positive_int, default=None, help=f"training epochs (default {PROXIES_EPOCHS})")
    p.add_argument("--batch-size", type=positive_int, default=None, help="training batch size")
    p.add_argument("--proxy-batch", type=positive_int, default=64, help="images in the scoring minibatch")
    p.add_argument("--seed", type=int, default=0, help="seed of the draws, the minibatch, init and training")
    p.add_argument("--executor", choices=["ray", "local"], default="ray")
    p.add_argument("--cpus-per-trial", type=positive_float, default=1.0)
    p.add_argument("--study", default=None, help="MLflow study name (default from the space, budget, dataset, seed "
                   "and training options; the same command resumes it, restoring trained candidates)")
    p.add_argument("--output", type=Path, default=None,
                   help="write proxies.json, candidates.csv and proxies.png here (default runs/<study>)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_format(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict, replace

    from nas_scaling.cli.common import augment_fields, open_tracker, prepare_inputs
    from nas_scaling.cost import parse_budget
    from nas_scaling.errors import UserError
    from nas_scaling.experiments.proxy_study import run_study, study_name
    from nas_scaling.proxies.correlation import MIN_TRAINED
    from nas_scaling.search.distributions import Dist
    from nas_scaling.training import TrainConfig, recipe_config

    budget = parse_budget(args.budget)
    if args.train_top > args.samples:
        raise UserError(f"--train-top must be at most --samples, got {args.train_top} > {args.samples}")
    if args.train_top < MIN_TRAINED:
        raise UserError(f"--train-top must be at least {MIN_TRAINED} for a rank correlation, got {args.train_top}")
    if args.seed < 0:
        raise UserError(f"--seed must be an integer >= 0, got {args.seed}")
    space, reference = load_space_reference(args.space)
    reference, _ = prepare_inputs(reference, args, command="proxies")
    if args.resolution is not None:
        space = replace(space, resolution=Dist("fixed", value=args.resolution))
    augment = augment_fields(args.augment, args.dataset)
    train: dict[str, object] = {"epochs": args.epochs or PROXIES_EPOCHS, **augment}
    if args.batch_size:
        train["batch_size"] = args.batch_size
    full_train = None
    if args.fidelity is not None:
        defaults = asdict(TrainConfig())
        full = asdict(recipe_config("full", epochs=args.fidelity, **augment))  # type: ignore[arg-type]
        full_train = {k: v for k, v in full.items() if v != defaults[k] and k not in ("seed", "device", "threads")}
    name = args.study or study_name(space, budget, dataset=args.dataset, seed=args.seed, train=train,
                                    batch_size=args.proxy_batch, full_train=full_train, subset=args.subset)
    result = run_study(space, reference, budget, samples=args.samples, train_top=args.train_top,
                       dataset=args.dataset, data_dir=args.data_dir, train=train, seed=args.seed,
                       executor=args.executor, cpus_per_trial=args.cpus_per_trial, batch_size=args.proxy_batch,
                       progress=not args.no_progress, tracker=open_tracker(), study=name,
                       output=args.output or Path("runs") / name, full_train=full_train, subset=args.subset)
    files = result.files
    if args.format == "json":
        emit(result.to_json())
        return 0
    trained = [c for c in result.candidates if c["val_top1"] is not None]
    print(f"\nZero-cost proxies on space {result.space!r}, {result.dataset}, budget {result.budget}: "
          f"{len(result.candidates)} networks scored in {result.scoring_seconds:.1f} s, {len(trained)} trained "
          f"({result.train.get('epochs')} epoch(s), {result.training_seconds:.0f} s"
          + (f"; {result.restored} restored from an earlier run" if result.restored else "") + ")")
    print_table([
        {"proxy": c.proxy, "n": c.n, "Spearman rho": _round(c.spearman), "p (rho)": _round(c.spearman_p),
         "Kendall tau": _round(c.kendall), "p (tau)": _round(c.kendall_p), "non-finite": c.non_finite}
        for c in result.correlations
    ])
    if result.full_train is not None:
        print(f"\nFidelity: against the accuracy after the full recipe ({result.full_train.get('epochs')} epochs); "
              "short_training is the proxy schedule above (does it rank networks as full training does?)")
        print_table([
            {"ranker": c.proxy, "n": c.n, "Spearman rho": _round(c.spearman), "p (rho)": _round(c.spearman_p),
             "Kendall tau": _round(c.kendall), "p (tau)": _round(c.kendall_p)}
            for c in result.correlations_full
        ])
    print(f"\nwrote {', '.join(str(f) for f in files)}")
    return 0


def _round(value: float | None) -> float | None:
    import math

    return None if value is None or math.isnan(value) else round(value, 3)
