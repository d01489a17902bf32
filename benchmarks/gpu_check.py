"""GPU smoke test and throughput: one epoch of a model on FakeData with bf16 autocast + channels_last.

Prints train()'s images/s and a hand-written loop's (same model, data and steps) and their ratio.
Exits with status 1 and a message when CUDA is not available.

    python benchmarks/gpu_check.py [--model resnet18] [--resolution 224] [--images 4096]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from train_loop import hand_loop

from nas_scaling.data import DatasetSplits, TensorImageDataset, load_dataset
from nas_scaling.training import TrainConfig, seed_everything, train


def build_model(name: str, *, num_classes: int) -> nn.Module:
    """The model under test. Today a torchvision builder by name; later the zoo."""
    import torchvision.models as tvm

    try:
        return tvm.get_model(name, weights=None, num_classes=num_classes)
    except ValueError as exc:
        raise SystemExit(f"unknown torchvision model {name!r}: {exc}") from exc


def fake_data(*, resolution: int, images: int) -> DatasetSplits:
    """FakeData's 256 training images tiled to ``images`` (generating more on the CPU is slow)."""
    data = load_dataset("fake", resolution=resolution, in_channels=3)
    assert isinstance(data.train, TensorImageDataset)
    repeats = -(-images // len(data.train))
    tiled = TensorImageDataset(
        data.train.images.repeat(repeats, 1, 1, 1)[:images], data.train.labels.repeat(repeats)[:images]
    )
    return dataclasses.replace(data, train=tiled)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet18", help="a torchvision model name")
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--images", type=int, default=4096, help="training images in the epoch")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()

    if not torch.cuda.is_available():
        print("gpu_check: CUDA is not available on this machine; nothing to check", file=sys.stderr)
        return 1
    device = torch.device(args.device)
    print(f"device: {torch.cuda.get_device_name(device)}, torch {torch.__version__}")
    started = time.perf_counter()
    data = fake_data(resolution=args.resolution, images=args.images)
    print(f"data: {data.describe()} ({time.perf_counter() - started:.1f}s to build)")
    config = TrainConfig(epochs=1, batch_size=args.batch_size, device=args.device, warmup_epochs=0)

    # warm-up: cudnn.benchmark picks kernels on the first batches of each shape
    seed_everything(0)
    warm = dataclasses.replace(data, train=_head(data.train, 4 * args.batch_size))
    train(build_model(args.model, num_classes=data.num_classes), warm, config)

    seed_everything(0)
    result = train(build_model(args.model, num_classes=data.num_classes), data, config)
    if result.status != "completed":
        print(f"train() {result.status}: {result.reason}", file=sys.stderr)
        return 1
    seed_everything(0)
    model = build_model(args.model, num_classes=data.num_classes)
    assert isinstance(data.train, TensorImageDataset)
    hand_loop(model, _head(data.train, 4 * args.batch_size), epochs=1, batch_size=args.batch_size,
              lr=config.lr, device=device)  # fmt: skip
    hand = hand_loop(model, data.train, epochs=1, batch_size=args.batch_size, lr=config.lr, device=device)
    print(f"{args.model} @ {args.resolution}px, batch {args.batch_size}, bf16 autocast + channels_last")
    print(f"train():    {result.images_per_second:10.0f} images/s  (val loss {result.val_loss:.3f})")
    print(f"hand loop:  {hand:10.0f} images/s")
    print(f"ratio:      {result.images_per_second / hand:10.3f}")
    print(f"peak memory: {torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB")
    return 0


def _head(ds: object, count: int) -> TensorImageDataset:
    assert isinstance(ds, TensorImageDataset)
    return TensorImageDataset(ds.images[:count], ds.labels[:count])


if __name__ == "__main__":
    sys.exit(main())
