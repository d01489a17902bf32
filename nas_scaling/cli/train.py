"""``nas-scaling train ARCH``: one training run (a named recipe), tracked in MLflow, resumable.

The spec, weights and metrics go to ``runs/<name>`` (``--output``). After every epoch the whole
training state is written atomically to ``checkpoint.pt`` there; after a kill or Ctrl-C the same
command with ``--resume`` continues from the last finished epoch, in the same MLflow run, and ends
with the same weights and metrics as an uninterrupted run. The checkpoint is removed once the
weights are written.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas_scaling.cli.common import add_format, emit, load_arch, positive_float, positive_int, print_table
from nas_scaling.errors import UserError

if TYPE_CHECKING:
    from nas_scaling.data import DatasetInfo
    from nas_scaling.spec import NetworkSpec
    from nas_scaling.tracking import Tracker
    from nas_scaling.training import EpochReport, TrainConfig, TrainResult, TrainState

__all__ = ["AUGMENT_CHOICES", "RECIPE_CHOICES", "TRAIN_EPOCHS", "add_parser", "train_arch"]

RECIPE_CHOICES = ("proxy", "full")
"""``training.RECIPES``, spelled out so ``--help`` needs no torch import (a test keeps them equal)."""
AUGMENT_CHOICES = ("auto", "none", "basic", "trivialaugment", "randaugment")
"""``auto`` and ``data.AUGMENTS``."""
TRAIN_EPOCHS = 20
"""Epochs of ``train --recipe proxy``: the proxy recipe's settings run longer, as ``train`` always did."""
CHECKPOINT = "checkpoint.pt"
_NOT_FINGERPRINTED = ("device", "threads", "concurrent_trials", "workers")
"""Config fields that may change between a run and its resumption (where it runs, not what it computes)."""


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("train", help="train a zoo entry or spec file and report val/test accuracy")
    p.add_argument("arch", metavar="ARCH", help="zoo name or spec file (YAML/JSON)")
    p.add_argument("--dataset", default="digits", help="digits (default), mnist, fashion-mnist, cifar10, "
                   "cifar100, svhn, imagefolder:PATH, fake")
    p.add_argument("--data-dir", default=None, help="where torchvision datasets live")
    p.add_argument("--download", action="store_true", help="download a torchvision dataset if missing")
    p.add_argument("--recipe", choices=RECIPE_CHOICES, default="proxy",
                   help=f"proxy (default: AdamW, warm-up + cosine, {TRAIN_EPOCHS} epochs) or full (SGD Nesterov, "
                   "lr 0.1 x batch/128, weight decay 5e-4, warm-up + cosine, label smoothing, weight EMA, 200 epochs)")
    p.add_argument("--augment", choices=AUGMENT_CHOICES, default="auto",
                   help="training augmentation (auto: the dataset's: crop + flip for natural images, none for digits)")
    p.add_argument("--epochs", type=positive_int, default=None, help="default: the recipe's")
    p.add_argument("--batch-size", type=positive_int, default=None)
    p.add_argument("--lr", type=positive_float, default=None)
    p.add_argument("--optimizer", choices=["adamw", "sgd"], default=None)
    p.add_argument("--resolution", type=positive_int, default=None, help="input side (default: the spec's)")
    p.add_argument("--small", action="store_true", help="use a zoo entry's small-input (32x32) form")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="torch CPU threads (default: every core this process may use)")
    p.add_argument("--output", type=Path, default=None, help="folder for spec.yaml, weights.pt, metrics.json "
                   "and the checkpoint (default runs/<name>)")
    p.add_argument("--resume", action="store_true", help="continue the interrupted training in --output")
    p.add_argument("--topk", type=_ranks_list, default=None, metavar="K[,K...]",
                   help="rank-k accuracies to report on validation and test besides top-1 and top-5 "
                   "(top-k with k = the classes when there are fewer than 5), e.g. 1,5,10")
    add_format(p)
    p.set_defaults(func=run)


def _spec(args: argparse.Namespace) -> tuple[NetworkSpec, DatasetInfo, list[str]]:
    """The spec adapted to the dataset's channels and classes, the dataset's native form, and the
    lines that say what the inputs are (printed once the options are known to be good)."""
    from nas_scaling import zoo
    from nas_scaling.data import describe_inputs, inspect_dataset, resize_warning
    from nas_scaling.spec import block_shapes
    from nas_scaling.spec.adapt import adapt_inputs

    spec = zoo.get_spec(args.arch, small=True) if args.small and zoo.is_known(args.arch) else load_arch(args.arch)
    if args.resolution is not None:
        block_shapes(spec, args.resolution)  # a clear error before loading any data
    info = inspect_dataset(args.dataset, data_dir=Path(args.data_dir) if args.data_dir else None)
    spec, notes = adapt_inputs(spec, in_channels=info.channels, num_classes=info.num_classes,
                               resolution=args.resolution)
    warning = resize_warning(info, spec.resolution)
    lines = [*notes, describe_inputs(info, channels=spec.in_channels, resolution=spec.resolution)]
    return spec, info, [*lines, warning] if warning else lines


def _ranks_list(text: str) -> tuple[int, ...]:
    try:
        ks = tuple(sorted({positive_int(part) for part in text.split(",")}))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"must be a comma-list of positive integers, got {text!r}") from None
    return ks


def _rank_accuracy(model: Any, data: Any, ks: tuple[int, ...], device: str) -> dict[str, float]:
    """Rank-k validation and test accuracy for each k beyond the top-1 and top-5 that training reports."""
    from nas_scaling.training import evaluate

    extra = tuple(k for k in ks if k not in (1, 5))
    out: dict[str, float] = {}
    if extra:
        for split, dataset in (("val", data.val), ("test", data.test)):
            metrics = evaluate(model, dataset, num_classes=data.num_classes, device=device, topk=extra)
            out.update({f"{split}_top{k}": v for k, v in metrics.topk.items()})
    return out


def _config(args: argparse.Namespace) -> TrainConfig:
    from nas_scaling.data import default_augment, flip_invariant
    from nas_scaling.training import recipe_config

    augment = default_augment(args.dataset) if args.augment == "auto" else args.augment
    overrides: dict[str, Any] = {k: v for k, v in (("epochs", args.epochs), ("batch_size", args.batch_size),
                                                   ("lr", args.lr), ("optimizer", args.optimizer)) if v is not None}
    if args.recipe == "proxy":
        overrides.setdefault("epochs", TRAIN_EPOCHS)
    return recipe_config(args.recipe, seed=args.seed, device=args.device, threads=args.threads, augment=augment,
                         flip=flip_invariant(args.dataset), **overrides)


def _fingerprint(spec: NetworkSpec, args: argparse.Namespace, config: TrainConfig) -> dict[str, Any]:
    """What a checkpoint must match to be resumed: the network, data, recipe and every computing option."""
    from nas_scaling.spec import network_to_compact

    fields = {k: v for k, v in asdict(config).items() if k not in _NOT_FINGERPRINTED}
    return {"arch": network_to_compact(spec), "dataset": args.dataset, "recipe": args.recipe, **fields}


def _resumable(path: Path, fingerprint: dict[str, Any], resume: bool) -> tuple[TrainState | None, str | None]:
    """``(state, run_id)`` to continue from (``--resume``), or ``(None, None)`` to start; refuses a
    mismatched checkpoint, a missing one, and a fresh start over an unfinished training."""
    from nas_scaling.training import load_train_state

    if not resume:
        if path.exists():
            raise UserError(f"{path.parent} holds an unfinished training; continue it with --resume, "
                            f"or delete {path} to start over")
        return None, None
    state, meta = load_train_state(path)
    theirs = meta.get("fingerprint") or {}
    for key, mine in fingerprint.items():
        if theirs.get(key) != mine:
            raise UserError(f"checkpoint {path} is of another training: {key} {theirs.get(key)!r} there, "
                            f"{mine!r} here; rerun with the same options, or delete it to start over")
    run_id = meta.get("run_id")
    return state, run_id if isinstance(run_id, str) else None


def _params(spec: NetworkSpec, args: argparse.Namespace, config: TrainConfig) -> dict[str, object]:
    from nas_scaling.spec import network_to_compact

    return {"arch": network_to_compact(spec), "name": spec.name, "dataset": args.dataset, "recipe": args.recipe,
            "resolution": spec.resolution, "in_channels": spec.in_channels, **asdict(config)}


def _open_run(tracker: Tracker, run_id: str | None, spec: NetworkSpec, args: argparse.Namespace,
              config: TrainConfig) -> str:
    """The MLflow run: the checkpoint's, resumed, or a new one with every parameter logged."""
    if run_id is not None:
        try:
            tracker.resume_run(run_id)
            return run_id
        except Exception as exc:  # the store moved or the run was deleted: keep training, log anew
            print(f"MLflow run {run_id} cannot be resumed ({type(exc).__name__}); logging to a new run",
                  file=sys.stderr)
    run_id = tracker.start_run(f"train-{spec.name}", tags={"kind": "train", "dataset": args.dataset,
                                                           "recipe": args.recipe})
    tracker.log(run_id, params=_params(spec, args, config))
    return run_id


def train_arch(args: argparse.Namespace, *, tracker: Tracker | None = None) -> dict[str, object]:
    """Train ARCH as the options say; returns the metrics row (also written to metrics.json).

    ``tracker`` defaults to the commands' MLflow store (:func:`~nas_scaling.cli.common.open_tracker`).
    """
    from nas_scaling.cli.common import open_tracker
    from nas_scaling.data import load_dataset
    from nas_scaling.models import build_model
    from nas_scaling.training import save_train_state, seed_everything, train

    spec, _, inputs = _spec(args)
    if args.topk is not None and args.topk[-1] > spec.num_classes:
        raise UserError(f"--topk {args.topk[-1]} exceeds the {spec.num_classes} classes of {args.dataset}; "
                        f"use ranks from 1 to {spec.num_classes}")
    config = _config(args)
    out: Path = args.output or Path("runs") / spec.name
    checkpoint = out / CHECKPOINT
    fingerprint = _fingerprint(spec, args, config)
    state, run_id = _resumable(checkpoint, fingerprint, args.resume)
    data = load_dataset(args.dataset, resolution=spec.resolution, in_channels=spec.in_channels,
                        data_dir=Path(args.data_dir) if args.data_dir else None, download=args.download,
                        seed=args.seed)
    for line in inputs:  # after every check, so a refused command says one line only
        print(line, file=sys.stderr)
    if data.num_classes != spec.num_classes:  # pragma: no cover - inspect_dataset and the loader agree
        raise UserError(f"{args.dataset}: {data.num_classes} classes loaded, {spec.num_classes} expected")
    tracker = tracker if tracker is not None else open_tracker()
    run_id = _open_run(tracker, run_id, spec, args, config)
    if state is not None:
        print(f"resuming {spec.name} after epoch {state.epoch} of {config.epochs} (MLflow run {run_id})",
              file=sys.stderr)

    def report(r: EpochReport) -> None:
        tracker.log(run_id, metrics={"val_top1": r.val_top1, "val_top5": r.val_top5, "val_loss": r.val_loss,
                                     "train_loss": r.train_loss, "lr": r.lr, "epoch_seconds": r.seconds},
                    step=r.epoch)

    def save(s: TrainState) -> None:
        save_train_state(checkpoint, s, {"fingerprint": fingerprint, "run_id": run_id})

    seed_everything(args.seed)
    model = build_model(spec)
    try:
        result = train(model, data, config, evaluate_test=True, report=report, checkpoint=save, resume=state)
    except BaseException:  # Ctrl-C, a crash: the run is KILLED until resumed; the checkpoint stays
        with contextlib.suppress(Exception):
            tracker.end_run(run_id, "KILLED")
        raise
    ranks = _rank_accuracy(model, data, args.topk, config.device) if args.topk and result.status != "failed" else {}
    metrics = _finish(spec, args, model, result, out, tracker, run_id, ranks)
    checkpoint.unlink(missing_ok=True)
    return metrics


def _finish(spec: NetworkSpec, args: argparse.Namespace, model: Any, result: TrainResult, out: Path,
            tracker: Tracker, run_id: str, ranks: dict[str, float]) -> dict[str, object]:
    """Write spec, weights and metrics; log the final metrics and artifacts; end the MLflow run."""
    from nas_scaling.cost import count_cost
    from nas_scaling.spec import save_spec
    from nas_scaling.tracking import finite_numbers
    from nas_scaling.training import save_checkpoint

    cost = count_cost(spec)  # train_seconds below covers every session of a resumed training
    metrics: dict[str, object] = {
        "name": spec.name, "dataset": args.dataset, "recipe": args.recipe, "status": result.status,
        "reason": result.reason, "epochs": result.epochs_run, "val_top1": result.val_top1,
        "val_top5": result.val_top5, "test_top1": result.test_top1, "test_top5": result.test_top5, **ranks,
        "train_seconds": round(result.train_seconds, 3), "images_per_second": round(result.images_per_second, 1),
        "params": cost.params, "macs": cost.macs, "resolution": spec.resolution, "in_channels": spec.in_channels,
    }
    out.mkdir(parents=True, exist_ok=True)
    save_spec(spec, out / "spec.yaml")
    save_checkpoint(out / "weights.pt", model)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    final = finite_numbers({k: metrics[k] for k in ("val_top1", "val_top5", "test_top1", "test_top5", *ranks,
                                                     "train_seconds", "images_per_second", "params", "macs")})
    tracker.log(run_id, metrics=final, step=result.epochs_run)
    tracker.log_artifact(run_id, out / "spec.yaml")
    tracker.log_artifact(run_id, out / "metrics.json")
    tracker.end_run(run_id, "FINISHED" if result.status == "completed" else "FAILED")
    metrics["output"] = str(out)
    metrics["mlflow_run_id"] = run_id
    return metrics


def run(args: argparse.Namespace) -> int:
    metrics = train_arch(args)
    if args.format == "json":
        emit(metrics)
    else:
        print_table([{k: v for k, v in metrics.items() if k not in ("reason", "mlflow_run_id")}])
        if metrics["status"] != "completed":
            print(f"training {metrics['status']}: {metrics['reason']}")
    return 0 if metrics["status"] == "completed" else 1
