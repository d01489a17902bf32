"""Batch sources for the training loop: tensor slicing for in-memory data, a DataLoader otherwise."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler

from nas_scaling.data import TensorImageDataset

__all__ = ["Batches", "make_batches"]


class Batches:
    """Yields ``(images, labels)`` already on ``device``; ``len()`` is the number of steps.

    ``generator`` is the seeded shuffling generator (None when not shuffling); a checkpoint saves
    its state so a resumed training draws the same orders.
    """

    def __init__(self, loader: Any, steps: int, images: int, generator: torch.Generator | None = None) -> None:
        self._loader = loader
        self.steps = steps
        self.images = images  # images per pass
        self.generator = generator

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return iter(self._loader())


def _steps(count: int, batch_size: int, drop_last: bool) -> tuple[int, int]:
    """(steps, images) per pass. Training drops the last partial batch (BatchNorm needs > 1
    sample and full batches keep steps comparable) unless the whole set is smaller than a batch."""
    if drop_last and count >= batch_size:
        steps = count // batch_size
        return steps, steps * batch_size
    return -(-count // batch_size), count


def _tensor_batches(
    ds: TensorImageDataset,
    *,
    batch_size: int,
    device: torch.device,
    shuffle: bool,
    generator: torch.Generator | None,
    channels_last: bool,
) -> Batches:
    # Moved to the device once; on CUDA an epoch then never touches the host.
    non_blocking = device.type == "cuda"
    images = ds.images.to(device, non_blocking=non_blocking)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    labels = ds.labels.to(device, non_blocking=non_blocking)
    count = labels.shape[0]
    steps, seen = _steps(count, batch_size, drop_last=shuffle)

    def run() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if not shuffle:
            for start in range(0, count, batch_size):
                yield images[start : start + batch_size], labels[start : start + batch_size]
            return
        order = torch.randperm(count, generator=generator).to(device, non_blocking=non_blocking)
        for step in range(steps):
            # Advanced indexing (not index_select) keeps the channels_last layout.
            idx = order[step * batch_size : (step + 1) * batch_size]
            yield images[idx], labels[idx]

    return Batches(run, steps, seen, generator)


def _loader_batches(
    ds: Dataset[Any],
    *,
    batch_size: int,
    device: torch.device,
    shuffle: bool,
    generator: torch.Generator | None,
    channels_last: bool,
    workers: int,
) -> Batches:
    count = len(ds)  # type: ignore[arg-type]
    steps, seen = _steps(count, batch_size, drop_last=shuffle)
    cuda = device.type == "cuda"
    # The sampler owns the seeded generator, so it draws the same permutations as the tensor
    # path (the DataLoader would otherwise take a worker seed from it first).
    sampler = RandomSampler(ds, generator=generator) if shuffle else None  # type: ignore[arg-type]
    loader = DataLoader(
        ds,
        batch_size=batch_size,
        sampler=sampler,
        drop_last=shuffle and count >= batch_size,
        num_workers=workers,
        pin_memory=cuda,
        persistent_workers=workers > 0,
    )
    memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def run() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for x, y in loader:
            yield (
                x.to(device, non_blocking=cuda, memory_format=memory_format),
                y.to(device, non_blocking=cuda),
            )

    return Batches(run, steps, seen, generator)


def make_batches(
    ds: Dataset[Any],
    *,
    batch_size: int,
    device: torch.device,
    shuffle: bool,
    seed: int = 0,
    workers: int | None = None,
) -> Batches:
    """The fastest batch source for ``ds`` on ``device``; shuffling uses its own seeded generator."""
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    channels_last = True  # mkldnn on CPU and cuDNN on CUDA are both faster in NHWC (benchmarks/README.md)
    if isinstance(ds, TensorImageDataset):
        return _tensor_batches(
            ds,
            batch_size=batch_size,
            device=device,
            shuffle=shuffle,
            generator=generator,
            channels_last=channels_last,
        )
    if workers is None:
        workers = min(8, os.cpu_count() or 1) if device.type == "cuda" else 0
    return _loader_batches(
        ds,
        batch_size=batch_size,
        device=device,
        shuffle=shuffle,
        generator=generator,
        channels_last=channels_last,
        workers=workers,
    )
