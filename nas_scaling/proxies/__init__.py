"""Zero-cost proxies (Abdelfattah et al., ICLR 2021): rank untrained networks from one minibatch."""

from __future__ import annotations

from nas_scaling.proxies.registry import PROXIES, Batch, ProxyFn, compute_proxies, vote
from nas_scaling.proxies.scores import CODE_ACTIVATIONS, grad_norm, jacob_cov, naswot, prunable_weights, snip, synflow

__all__ = [
    "CODE_ACTIVATIONS",
    "PROXIES",
    "Batch",
    "ProxyFn",
    "compute_proxies",
    "grad_norm",
    "jacob_cov",
    "naswot",
    "prunable_weights",
    "snip",
    "synflow",
    "vote",
]
