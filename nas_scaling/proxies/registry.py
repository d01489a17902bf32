"""Proxies by name with one signature, seeded scoring of a spec, and rank voting across proxies."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from nas_scaling.errors import UserError
from nas_scaling.models import build_model
from nas_scaling.proxies.scores import grad_norm, jacob_cov, naswot, snip, synflow
from nas_scaling.spec import NetworkSpec

__all__ = ["PROXIES", "Batch", "ProxyFn", "compute_proxies", "vote"]

Batch = tuple[Tensor, Tensor]
"""``(images (N, C, H, W) float, labels (N,) long)``."""

ProxyFn = Callable[[NetworkSpec | nn.Module, Batch], float]


def _model(spec_or_model: NetworkSpec | nn.Module, x: Tensor) -> nn.Module:
    if isinstance(spec_or_model, nn.Module):
        return spec_or_model
    _check_batch(spec_or_model, x)
    return build_model(spec_or_model, resolution=x.shape[-1])


def _check_batch(spec: NetworkSpec, x: Tensor) -> None:
    if x.dim() != 4 or x.shape[1] != spec.in_channels or x.shape[2] != x.shape[3]:
        raise UserError(
            f"batch images must be (N, {spec.in_channels}, R, R) for spec {spec.name!r}, got {tuple(x.shape)}"
        )


def _synflow(m: NetworkSpec | nn.Module, batch: Batch) -> float:
    return synflow(_model(m, batch[0]), batch[0].shape[1:])


def _naswot(m: NetworkSpec | nn.Module, batch: Batch) -> float:
    return naswot(_model(m, batch[0]), batch[0])


def _grad_norm(m: NetworkSpec | nn.Module, batch: Batch) -> float:
    return grad_norm(_model(m, batch[0]), *batch)


def _snip(m: NetworkSpec | nn.Module, batch: Batch) -> float:
    return snip(_model(m, batch[0]), *batch)


def _jacob_cov(m: NetworkSpec | nn.Module, batch: Batch) -> float:
    return jacob_cov(_model(m, batch[0]), batch[0])


PROXIES: dict[str, ProxyFn] = {
    "synflow": _synflow,
    "naswot": _naswot,
    "grad_norm": _grad_norm,
    "snip": _snip,
    "jacob_cov": _jacob_cov,
}
"""Name -> ``score(spec_or_model, (x, y)) -> float``, higher = better. A spec is built from the global
RNG; use :func:`compute_proxies` for seeded, reproducible scores."""


def _check_names(names: Sequence[str]) -> list[str]:
    if isinstance(names, str):
        names = [names]
    unknown = [n for n in names if n not in PROXIES]
    if unknown:
        raise UserError(f"unknown proxy {unknown[0]!r}; choose from {', '.join(PROXIES)}")
    return list(names)


def compute_proxies(
    spec: NetworkSpec, x: Tensor, y: Tensor, *, names: Sequence[str] | None = None, seed: int = 0
) -> dict[str, float]:
    """Score ``spec`` with each proxy in ``names`` (default: all) on the batch ``(x, y)``.

    Each proxy gets a fresh model built at the batch's resolution from ``seed`` (the global RNG is
    left untouched), as proxies that run backward passes must not see each other's side effects.
    """
    chosen = _check_names(list(PROXIES) if names is None else names)
    _check_batch(spec, x)
    x, y = x.float(), y.long()
    scores: dict[str, float] = {}
    for name in chosen:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = build_model(spec, resolution=x.shape[-1])
        scores[name] = PROXIES[name](model, (x, y))
    return scores


def _ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ascending, ties averaged; ``nan`` ranks lowest."""
    keyed = [-math.inf if math.isnan(v) else v for v in values]
    order = sorted(range(len(keyed)), key=keyed.__getitem__)
    ranks = [0.0] * len(keyed)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and keyed[order[j + 1]] == keyed[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


VOTE_PROXIES = ("synflow", "jacob_cov", "snip")
"""The proxies ``vote`` averages the ranks of: the three Abdelfattah et al. (ICLR 2021) vote with."""


def vote(scores_by_candidate: Sequence[dict[str, float]]) -> list[float]:
    """Average rank of each candidate over the proxies (Abdelfattah et al. 2021's vote); higher = better.

    Ranks run from 1 (worst) to the number of candidates, ties share their average rank, and a
    ``nan`` score ranks last. Every candidate must have been scored with the same proxies.
    """
    if not scores_by_candidate:
        return []
    names = list(scores_by_candidate[0])
    for i, scores in enumerate(scores_by_candidate):
        if set(scores) != set(names):
            raise UserError(
                f"candidate {i} was scored with {sorted(scores)}, expected the same proxies {sorted(names)}"
            )
    if not names:
        raise UserError("vote needs at least one proxy score per candidate, got none")
    totals = [0.0] * len(scores_by_candidate)
    for name in names:
        for i, r in enumerate(_ranks([s[name] for s in scores_by_candidate])):
            totals[i] += r
    return [t / len(names) for t in totals]
