"""Deterministic, stratified index splits: the same labels and seed always give the same indices."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["SPLIT_SEED", "stratified_split", "stratified_subset"]

#: Seed of every fixed train/val/test split. It is a constant, independent of the training seed,
#: so every trial of a search sees exactly the same validation images.
SPLIT_SEED = 20240229


def _class_order(labels: np.ndarray, seed: int) -> dict[int, np.ndarray]:
    """Indices of each class, each shuffled by its own seeded generator."""
    rng = np.random.default_rng(seed)
    order: dict[int, np.ndarray] = {}
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        order[int(cls)] = idx[rng.permutation(idx.size)]
    return order


def stratified_split(
    labels: Sequence[int] | np.ndarray, fractions: Sequence[float], *, seed: int = SPLIT_SEED
) -> list[np.ndarray]:
    """Split indices into ``len(fractions)`` parts that keep each class's share.

    Fractions must sum to 1. Per class, part sizes are rounded down and the remainder goes to the
    parts in order, so every index lands in exactly one part. Each part is sorted.
    """
    labels_arr = np.asarray(labels).reshape(-1)
    fracs = np.asarray(fractions, dtype=np.float64)
    if fracs.ndim != 1 or fracs.size == 0 or np.any(fracs < 0) or abs(fracs.sum() - 1.0) > 1e-9:
        raise ValueError(f"fractions must be non-negative and sum to 1, got {list(fractions)}")
    parts: list[list[np.ndarray]] = [[] for _ in fracs]
    for idx in _class_order(labels_arr, seed).values():
        sizes = np.floor(fracs * idx.size).astype(np.int64)
        # Hand out the rounding remainder to the parts with the largest fractional loss.
        remainder = int(idx.size - sizes.sum())
        if remainder:
            loss = fracs * idx.size - sizes
            for k in np.argsort(-loss, kind="stable")[:remainder]:
                sizes[k] += 1
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        for k in range(fracs.size):
            parts[k].append(idx[bounds[k] : bounds[k + 1]])
    return [np.sort(np.concatenate(p)) if p else np.zeros(0, np.int64) for p in parts]


def stratified_subset(labels: Sequence[int] | np.ndarray, fraction: float, *, seed: int) -> np.ndarray:
    """Sorted indices of ``fraction`` of the samples, per class, keeping at least one per class."""
    labels_arr = np.asarray(labels).reshape(-1)
    if fraction >= 1.0:
        return np.arange(labels_arr.size)
    chosen = []
    for idx in _class_order(labels_arr, seed).values():
        chosen.append(idx[: max(1, round(fraction * idx.size))])
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)
