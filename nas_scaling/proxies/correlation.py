"""How well does a proxy rank networks? Rank correlations of proxy scores with trained accuracy."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["MIN_TRAINED", "Correlation", "correlate"]

MIN_TRAINED = 3
"""Fewest trained candidates a rank correlation is computed from."""


@dataclass(frozen=True)
class Correlation:
    proxy: str
    n: int
    """Trained candidates the coefficients are computed from."""
    non_finite: int
    """Of those, how many scored nan or +-inf (ranked lowest, as the prescreen does)."""
    spearman: float
    kendall: float
    spearman_p: float | None = None
    kendall_p: float | None = None


def _rankable(values: Sequence[float]) -> list[float]:
    """nan ranks lowest (as in :func:`~nas_scaling.proxies.vote` and the prescreen)."""
    return [-math.inf if math.isnan(v) else v for v in values]


def correlate(proxy: str, scores: Sequence[float], accuracy: Sequence[float]) -> Correlation:
    """Spearman rho and Kendall tau-b of ``scores`` with ``accuracy`` (scipy, else pandas: no p-values)."""
    x = _rankable(scores)
    y = list(accuracy)
    non_finite = sum(1 for v in scores if not math.isfinite(v))
    if len(x) < MIN_TRAINED or len(set(x)) < 2 or len(set(y)) < 2:
        return Correlation(proxy, len(x), non_finite, math.nan, math.nan)
    try:
        from scipy import stats
    except ImportError:  # pragma: no cover - scikit-learn installs scipy
        import pandas as pd

        # pandas ranks before correlating, so -inf is simply the lowest rank
        xs, ys = pd.Series(x).rank(), pd.Series(y)
        return Correlation(proxy, len(x), non_finite, float(xs.corr(ys, method="spearman")),
                           float(xs.corr(ys, method="kendall")))
    ranks = stats.rankdata(x)  # -inf is the lowest rank; scipy's coefficients expect finite data
    rho = stats.spearmanr(ranks, y)
    tau = stats.kendalltau(ranks, y)
    return Correlation(proxy, len(x), non_finite, float(rho.statistic), float(tau.statistic), float(rho.pvalue),
                       float(tau.pvalue))
