"""Throughput of ``nas_scaling.training.train`` against a minimal hand-written PyTorch loop.

Both train the same model on the same in-memory data with the same batch size, thread count and
number of optimizer steps; only training steps are timed (train() also validates each epoch, which
its ``images_per_second`` excludes). Rounds alternate between the two to share any machine noise;
the median round is reported. Target: ratio >= 0.95.

    python benchmarks/train_loop.py [--model lenet5|tiny] [--epochs 3] [--batch-size 64]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nas_scaling.data import DatasetSplits, TensorImageDataset, load_dataset
from nas_scaling.training import TrainConfig, resolve_device, seed_everything, train


def build_model(name: str, *, in_channels: int, classes: int) -> nn.Module:
    """The benchmarked model; LeNet-5 at 32x32 is what a digits search trains most."""
    if name == "lenet5":
        return nn.Sequential(
            nn.Conv2d(in_channels, 6, 5), nn.Tanh(), nn.AvgPool2d(2),
            nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
            nn.Conv2d(16, 120, 5), nn.Tanh(), nn.Flatten(),
            nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, classes),
        )  # fmt: skip
    if name == "tiny":
        return nn.Sequential(
            nn.Conv2d(in_channels, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, classes),
        )  # fmt: skip
    raise SystemExit(f"unknown model {name!r}; choose lenet5 or tiny")


def hand_loop(
    model: nn.Module,
    data: TensorImageDataset,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    device: torch.device,
    weight_decay: float = 0.01,
    label_smoothing: float = 0.0,
    seed: int = 0,
) -> float:
    """The baseline: shuffle, slice, forward, backward, AdamW step. Returns training images/s.

    Same loss and optimizer maths as train(), without its schedule, parameter groups, NaN checks
    and validation.
    """
    cuda = device.type == "cuda"
    # channels_last like train() (faster for convolutions on both oneDNN and cuDNN)
    model.to(device)
    model.to(memory_format=torch.channels_last)
    images = data.images.to(device).contiguous(memory_format=torch.channels_last)
    labels = data.labels.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, fused=True if cuda else None)
    criterion = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    generator = torch.Generator().manual_seed(seed)
    steps = len(labels) // batch_size
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else contextlib.nullcontext()
    model.train()
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(labels), generator=generator).to(device)
        for step in range(steps):
            idx = order[step * batch_size : (step + 1) * batch_size]
            with autocast:
                loss = criterion(model(images[idx]), labels[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    if cuda:
        torch.cuda.synchronize(device)
    return epochs * steps * batch_size / (time.perf_counter() - start)


def ours(model: nn.Module, data: DatasetSplits, config: TrainConfig) -> float:
    """Training images/s as reported by train()."""
    return train(model, data, config).images_per_second


def compare(model_name: str, data: DatasetSplits, config: TrainConfig, *, rounds: int) -> tuple[float, float]:
    """Median images/s of (train(), hand loop) over rounds that alternate which one goes first."""
    device = resolve_device(config.device)
    assert isinstance(data.train, TensorImageDataset)
    train_split = data.train

    def run_ours() -> float:
        seed_everything(0)
        return ours(build_model(model_name, in_channels=data.in_channels, classes=data.num_classes), data, config)

    def run_hand() -> float:
        seed_everything(0)
        model = build_model(model_name, in_channels=data.in_channels, classes=data.num_classes)
        previous = torch.get_num_threads()
        torch.set_num_threads(config.cpu_threads())
        try:
            return hand_loop(
                model,
                train_split,
                epochs=config.epochs,
                batch_size=config.batch_size,
                lr=config.lr,
                weight_decay=config.weight_decay,
                label_smoothing=config.label_smoothing,
                device=device,
            )
        finally:
            torch.set_num_threads(previous)

    ours_ips, hand_ips = [], []
    for round_ in range(rounds):
        if round_ % 2:
            hand_ips.append(run_hand())
            ours_ips.append(run_ours())
        else:
            ours_ips.append(run_ours())
            hand_ips.append(run_hand())
    return statistics.median(ours_ips), statistics.median(hand_ips)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lenet5", choices=("lenet5", "tiny"))
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--in-channels", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()

    data = load_dataset(args.dataset, resolution=args.resolution, in_channels=args.in_channels)
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        threads=args.threads,
        device=args.device,
    )
    # one untimed round first: allocator, oneDNN/cuDNN kernel selection, lazy imports
    compare(args.model, data, dataclasses.replace(config, epochs=1), rounds=1)
    ours_ips, hand_ips = compare(args.model, data, config, rounds=args.rounds)
    print(
        f"{args.model} on {data.describe()}; batch {config.batch_size}, {config.epochs} epochs, "
        f"device {args.device}, threads {config.cpu_threads()}, median of {args.rounds} rounds"
    )
    print(f"train():    {ours_ips:10.0f} images/s")
    print(f"hand loop:  {hand_ips:10.0f} images/s")
    print(f"ratio:      {ours_ips / hand_ips:10.3f}  (target >= 0.95)")


if __name__ == "__main__":
    main()
