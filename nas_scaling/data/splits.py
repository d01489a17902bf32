"""Deterministic, stratified index splits: the same labels and seed always give the same indices."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["SPLIT_SEED", "stratified_order", "stratified_split", "stratified_subset"]

#: Seed of every fixed train/val/test split. It is a constant, independent of the training seed,
#: so every trial of a search sees exactly the same validation images.
SPLIT_SEED = 20240229


def stratified_order(labels: Sequence[int] | np.ndarray, *, seed: int) -> np.ndarray:
    """All indices in an order where every prefix holds each class in proportion (within one).

    Each class is shuffled; its k-th of n samples gets the key (k + 0.5) / n, and indices are sorted
    by key (ties broken at random). Cutting this order anywhere gives a stratified split, with
    exact overall sizes even when classes are tiny.
    """
    labels_arr = np.asarray(labels).reshape(-1)
    rng = np.random.default_rng(seed)
    keys = np.empty(labels_arr.size, dtype=np.float64)
    for cls in np.unique(labels_arr):
        idx = np.flatnonzero(labels_arr == cls)
        keys[idx[rng.permutation(idx.size)]] = (np.arange(idx.size) + 0.5) / idx.size
    ties = rng.permutation(labels_arr.size)
    return np.lexsort((ties, keys))


def _sizes(total: int, fractions: np.ndarray) -> np.ndarray:
    """Part sizes summing to ``total``: rounded down, remainder to the largest rounding losses."""
    sizes = np.floor(fractions * total).astype(np.int64)
    remainder = int(total - sizes.sum())
    loss = fractions * total - sizes
    for k in np.argsort(-loss, kind="stable")[:remainder]:
        sizes[k] += 1
    return sizes


def stratified_split(
    labels: Sequence[int] | np.ndarray, fractions: Sequence[float], *, seed: int = SPLIT_SEED
) -> list[np.ndarray]:
    """Split indices into ``len(fractions)`` sorted parts that keep each class's share.

    Fractions must sum to 1; every index lands in exactly one part.
    """
    fracs = np.asarray(fractions, dtype=np.float64)
    if fracs.ndim != 1 or fracs.size == 0 or np.any(fracs < 0) or abs(fracs.sum() - 1.0) > 1e-9:
        raise ValueError(f"fractions must be non-negative and sum to 1, got {list(fractions)}")
    order = stratified_order(labels, seed=seed)
    bounds = np.concatenate([[0], np.cumsum(_sizes(order.size, fracs))])
    return [np.sort(order[bounds[k] : bounds[k + 1]]) for k in range(fracs.size)]


def stratified_subset(labels: Sequence[int] | np.ndarray, fraction: float, *, seed: int) -> np.ndarray:
    """Sorted indices of ``fraction`` of the samples, stratified, with at least one per class."""
    labels_arr = np.asarray(labels).reshape(-1)
    if fraction >= 1.0:
        return np.arange(labels_arr.size)
    order = stratified_order(labels_arr, seed=seed)
    chosen = order[: max(1, round(fraction * order.size))]
    missing = np.setdiff1d(np.unique(labels_arr), labels_arr[chosen])
    extra = [order[np.argmax(labels_arr[order] == cls)] for cls in missing]
    return np.sort(np.concatenate([chosen, np.asarray(extra, dtype=np.int64)]))
