"""``nas-scaling train ARCH``: one proxy training run, with the spec and weights saved."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from nas_scaling.cli.common import add_format, emit, load_arch, positive_float, positive_int, print_table

__all__ = ["add_parser", "train_arch"]


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("train", help="train a zoo entry or spec file and report val/test accuracy")
    p.add_argument("arch", metavar="ARCH", help="zoo name or spec file (YAML/JSON)")
    p.add_argument("--dataset", default="digits", help="digits (default), mnist, fashion-mnist, cifar10, "
                   "cifar100, svhn, imagefolder:PATH, fake")
    p.add_argument("--data-dir", default=None, help="where torchvision datasets live")
    p.add_argument("--download", action="store_true", help="download a torchvision dataset if missing")
    p.add_argument("--epochs", type=positive_int, default=None, help="default: the proxy schedule's")
    p.add_argument("--batch-size", type=positive_int, default=None)
    p.add_argument("--lr", type=positive_float, default=None)
    p.add_argument("--optimizer", choices=["adamw", "sgd"], default=None)
    p.add_argument("--resolution", type=positive_int, default=None, help="input side (default: the spec's)")
    p.add_argument("--small", action="store_true", help="use a zoo entry's small-input (32x32) form")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    p.add_argument("--output", type=Path, default=None, help="folder for spec.yaml, weights.pt, metrics.json "
                   "(default runs/<name>)")
    add_format(p)
    p.set_defaults(func=run)


def train_arch(args: argparse.Namespace) -> dict[str, object]:
    from nas_scaling import zoo
    from nas_scaling.cost import count_cost
    from nas_scaling.data import load_dataset
    from nas_scaling.models import build_model
    from nas_scaling.spec import block_shapes, save_spec
    from nas_scaling.training import TrainConfig, save_checkpoint, seed_everything, train

    spec = zoo.get_spec(args.arch, small=True) if args.small and args.arch in zoo.names() else load_arch(args.arch)
    if args.resolution is not None:
        block_shapes(spec, args.resolution)  # a clear error before loading any data
        spec = replace(spec, resolution=args.resolution)
    data = load_dataset(args.dataset, resolution=spec.resolution, in_channels=spec.in_channels,
                        data_dir=Path(args.data_dir) if args.data_dir else None, download=args.download,
                        seed=args.seed)
    spec = replace(spec, num_classes=data.num_classes)
    overrides = {k: v for k, v in (("epochs", args.epochs), ("batch_size", args.batch_size), ("lr", args.lr),
                                   ("optimizer", args.optimizer)) if v is not None}
    config = TrainConfig(seed=args.seed, device=args.device, **overrides)  # type: ignore[arg-type]
    seed_everything(args.seed)
    model = build_model(spec)
    start = time.perf_counter()
    result = train(model, data, config, evaluate_test=True)
    wall = time.perf_counter() - start
    cost = count_cost(spec)
    metrics: dict[str, object] = {
        "name": spec.name, "dataset": args.dataset, "status": result.status, "reason": result.reason,
        "epochs": result.epochs_run, "val_top1": result.val_top1, "val_top5": result.val_top5,
        "test_top1": result.test_top1, "test_top5": result.test_top5, "train_seconds": round(wall, 3),
        "images_per_second": round(result.images_per_second, 1), "params": cost.params, "macs": cost.macs,
        "resolution": spec.resolution,
    }
    out = args.output or Path("runs") / spec.name
    out.mkdir(parents=True, exist_ok=True)
    save_spec(spec, out / "spec.yaml")
    save_checkpoint(out / "weights.pt", model)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    metrics["output"] = str(out)
    return metrics


def run(args: argparse.Namespace) -> int:
    metrics = train_arch(args)
    if args.format == "json":
        emit(metrics)
    else:
        print_table([{k: v for k, v in metrics.items() if k not in ("reason",)}])
        if metrics["status"] != "completed":
            print(f"training {metrics['status']}: {metrics['reason']}")
    return 0 if metrics["status"] == "completed" else 1
