"""Zero-cost proxies (Abdelfattah et al., ICLR 2021): rank untrained networks from one minibatch."""

from __future__ import annotations

from nas_scaling.proxies.correlation import MIN_TRAINED, Correlation, correlate
from nas_scaling.proxies.registry import PROXIES, VOTE_PROXIES, Batch, ProxyFn, compute_proxies, vote
from nas_scaling.proxies.scores import CODE_ACTIVATIONS, grad_norm, jacob_cov, naswot, prunable_weights, snip, synflow

__all__ = [
    "CODE_ACTIVATIONS",
    "MIN_TRAINED",
    "PROXIES",
    "VOTE_PROXIES",
    "Correlation",
    "correlate",
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
