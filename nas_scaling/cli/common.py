"""Helpers shared by the commands: resolving ARCH, printing tables and JSON."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from nas_scaling.errors import UserError

if TYPE_CHECKING:
    from nas_scaling.experiments.inputs import Inputs
    from nas_scaling.spec import NetworkSpec
    from nas_scaling.tracking import MlflowTracker

__all__ = [
    "AUGMENT_CHOICES",
    "FORMATS",
    "add_data_args",
    "add_execution_args",
    "augment_fields",
    "fraction",
    "prepare_inputs",
    "add_format",
    "emit",
    "execution_kwargs",
    "int_range",
    "load_arch",
    "non_negative_float",
    "open_tracker",
    "non_negative_int",
    "positive_float",
    "positive_int",
    "print_table",
    "tracking_uri",
]

FORMATS = ("table", "json")

T = TypeVar("T", int, float)


def _number(text: str, cast: Callable[[str], T], ok: Callable[[T], bool], rule: str) -> T:
    """``cast(text)`` if it parses and passes ``ok``; else argparse's one-line error stating ``rule``."""
    try:
        value = cast(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    return _number(text, int, lambda v: v >= 1, "a positive integer")


def positive_float(text: str) -> float:
    return _number(text, float, lambda v: 0 < v < math.inf, "a positive number")


def non_negative_int(text: str) -> int:
    return _number(text, int, lambda v: v >= 0, "an integer >= 0")


def non_negative_float(text: str) -> float:
    return _number(text, float, lambda v: 0 <= v < math.inf, "a number >= 0")


def int_range(low: int, high: int, what: str = "an integer") -> Callable[[str], int]:
    """An argparse type: an integer in [low, high], with a one-line error naming the value."""
    return lambda text: _number(text, int, lambda v: low <= v <= high, f"{what} from {low} to {high}")


def fraction(text: str) -> float:
    """A number in (0, 1] (``--subset``)."""
    return _number(text, float, lambda v: 0 < v <= 1, "a fraction in (0, 1]")


AUGMENT_CHOICES = ("auto", "none", "basic", "trivialaugment", "randaugment")


def add_data_args(parser: argparse.ArgumentParser, *, resolution_help: str, subset: bool = True,
                  augment: bool = True) -> None:
    """What to train on: ``--dataset``, ``--data-dir``, ``--resolution``, ``--subset``, ``--augment``."""
    parser.add_argument("--dataset", default="digits", help="digits (default, embedded), mnist, fashion-mnist, "
                        "cifar10, cifar100, svhn, imagefolder:PATH or fake; input channels and classes follow it")
    parser.add_argument("--data-dir", default=None, help="where torchvision datasets live")
    parser.add_argument("--resolution", type=positive_int, default=None, help=resolution_help)
    if subset:
        parser.add_argument("--subset", type=fraction, default=1.0, help="train each candidate on this stratified, "
                            "seeded fraction of the training split (rank on a subset of a large dataset)")
    if augment:
        parser.add_argument("--augment", choices=AUGMENT_CHOICES, default="auto", help="training augmentation: "
                            "auto (default: random crop and flip for natural images, none for digits/mnist), none, "
                            "basic (crop + flip), trivialaugment, randaugment (each with crop + flip)")


def augment_fields(policy: str, dataset: str) -> dict[str, object]:
    """TrainConfig fields for ``--augment`` (``auto``: the dataset's default); none when no augmentation."""
    from nas_scaling.data import default_augment, flip_invariant

    chosen = default_augment(dataset) if policy == "auto" else policy
    if chosen == "none":
        return {}
    return {"augment": chosen, "flip": flip_invariant(dataset)}


def prepare_inputs(spec: NetworkSpec, args: argparse.Namespace, *, command: str | None = None,
                   resolution: int | None = None) -> tuple[NetworkSpec, Inputs]:
    """``spec`` fitted to ``--dataset`` at ``--resolution`` (or ``resolution``), the dataset read once
    (a missing or corrupt file is one line now, not a failed trial later); with ``command``, prints what
    the inputs are (else the runner does, once the rest of the options have been checked)."""
    from nas_scaling.data import load_dataset
    from nas_scaling.experiments.inputs import fit_to_data

    fitted, inputs = fit_to_data(spec, args.dataset, data_dir=args.data_dir,
                                 resolution=resolution if resolution is not None else args.resolution)
    load_dataset(args.dataset, resolution=fitted.resolution, in_channels=fitted.in_channels,
                 data_dir=Path(args.data_dir) if args.data_dir else None)
    if command is not None:
        for line in inputs.lines():
            print(f"{command}: {line}", file=sys.stderr)
    return fitted, inputs


def add_format(parser: argparse.ArgumentParser, choices: Sequence[str] = FORMATS) -> None:
    parser.add_argument("--format", choices=list(choices), default=choices[0], help="output format")


def add_execution_args(parser: argparse.ArgumentParser, *, study_help: str) -> None:
    """Where the study lives and where trials run: the options ``grid`` and ``search`` share."""
    parser.add_argument("--study", default=None, help=study_help)
    parser.add_argument("--storage", default=None, help="Optuna storage URL (default sqlite:///studies/studies.db)")
    parser.add_argument("--executor", choices=["ray", "local"], default="ray")
    parser.add_argument("--address", default=None, help="join this Ray cluster (default: start Ray here)")
    parser.add_argument("--cpus-per-trial", type=positive_float, default=1.0)
    parser.add_argument("--gpus-per-trial", type=non_negative_float, default=0.0, help="may be fractional (0.25)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def execution_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`~nas_scaling.search.executors.ExecutionOptions` fields from :func:`add_execution_args`'s options."""
    from nas_scaling.search.study import DEFAULT_STORAGE

    return {
        "study": args.study, "storage": args.storage or DEFAULT_STORAGE, "executor": args.executor,
        "address": args.address, "cpus_per_trial": args.cpus_per_trial, "gpus_per_trial": args.gpus_per_trial,
        "progress": not args.no_progress,
    }


def tracking_uri(explicit: str | None = None) -> str:
    """The MLflow store the commands use: ``explicit``, else ``$MLFLOW_TRACKING_URI``, else
    ``sqlite:///mlruns/mlflow.db``; a relative SQLite path made absolute here (see
    :func:`~nas_scaling.tracking.resolve_tracking_uri`)."""
    import os

    from nas_scaling.tracking import DEFAULT_TRACKING_URI, resolve_tracking_uri

    return resolve_tracking_uri(explicit or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI)


def open_tracker(experiment: str = "nas-scaling") -> MlflowTracker:
    """The tracker the commands log to: :func:`tracking_uri`'s store, artifacts beside a SQLite database."""
    from nas_scaling.tracking import MlflowTracker

    tracker = MlflowTracker(tracking_uri(), experiment=experiment)
    tracker.check()
    return tracker


def load_arch(arch: str, *, num_classes: int | None = None, in_channels: int | None = None) -> NetworkSpec:
    """ARCH is a zoo name or a spec file (YAML or JSON)."""
    from dataclasses import replace

    from nas_scaling import zoo
    from nas_scaling.spec import load_spec

    looks_like_file = any(arch.endswith(s) for s in (".yaml", ".yml", ".json")) or "/" in arch
    if zoo.is_known(arch):
        spec = zoo.get_spec(arch)
    elif looks_like_file or Path(arch).exists():
        spec = load_spec(arch)
    else:
        raise UserError(f"unknown architecture {arch!r}; use a zoo name (see 'nas-scaling zoo') or a spec file")
    changes: dict[str, Any] = {}
    if num_classes is not None:
        changes["num_classes"] = num_classes
    if in_channels is not None:
        changes["in_channels"] = in_channels
    return replace(spec, **changes) if changes else spec


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> None:
    """Rows of dicts as an aligned text table (numbers right-aligned)."""
    if not rows:
        print("(no rows)")
        return
    cols = list(columns or rows[0].keys())
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    numeric = [all(isinstance(r.get(c), (int, float)) or r.get(c) is None for r in rows) for c in cols]
    for line in [cols, *cells]:
        parts = (v.rjust(w) if n else v.ljust(w) for v, w, n in zip(line, widths, numeric, strict=True))
        print("  ".join(parts).rstrip())


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 1000 else f"{value:.4g}"
    return str(value)


def emit(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")
