"""The experiments' plots, drawn from their results (computation returns data; this draws it).

Figures are made with matplotlib's object API (``matplotlib.figure.Figure``), which needs no backend
and changes no global state, so nothing here calls ``matplotlib.use``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from matplotlib.figure import Figure

if TYPE_CHECKING:
    from nas_scaling.experiments.grid import GridResult
    from nas_scaling.experiments.proxy_study import StudyResult

__all__ = ["plot_grid", "plot_proxies"]


def plot_grid(result: GridResult, path: Path) -> None:
    budget = result.budget
    fig = Figure(figsize=(12, 4.8))
    left, right = fig.subplots(1, 2)
    done = [r for r in result.ranked if r.val_top1_mean is not None]
    xs = [r.candidate.macs / 1e6 for r in done]
    ys = [100 * (r.val_top1_mean or 0.0) for r in done]
    errs = [100 * (r.standard_error if r.standard_error is not None else r.val_top1_std or 0.0) for r in done]
    left.errorbar(xs, ys, yerr=errs, fmt="o", capsize=3, label="candidates (phi = 1), +- 1 standard error")
    b = result.best
    left.plot([b.candidate.macs / 1e6], [100 * (b.val_top1_mean or 0.0)], "r*", markersize=15,
              label=f"best: alpha={b.candidate.alpha:g}, beta={b.candidate.beta:g}, gamma={b.candidate.gamma:g}")
    control = result.base
    if control.val_top1_mean is not None:
        left.errorbar([control.candidate.macs / 1e6], [100 * control.val_top1_mean],
                      yerr=[100 * (control.standard_error or 0.0)], fmt="ks", capsize=3,
                      label="base (phi = 0), same schedule")
    for r in done:
        left.annotate(f"{r.candidate.alpha:g}/{r.candidate.beta:g}/{r.candidate.gamma:g}",
                      (r.candidate.macs / 1e6, 100 * (r.val_top1_mean or 0.0)), fontsize=7,
                      textcoords="offset points", xytext=(4, 4))
    plan = result.plan
    limit = plan.base_macs * plan.target_factor / 1e6
    left.axvline(limit, color="gray", ls="--", label=f"budget {budget}")
    low, high = limit * (1 - plan.tolerance), limit * (1 + plan.tolerance if plan.approximately else 1)
    left.axvspan(low, high, color="gray", alpha=0.1, label=f"candidates' window ({plan.window()})")
    left.set_xlabel("MFLOPs (multiply-adds)")
    left.set_ylabel("validation top-1 (%)")
    left.set_title("Grid candidates: accuracy vs cost (labels: alpha/beta/gamma)")
    left.legend(fontsize=8)
    phis = [m.phi for m in result.family]
    right.semilogy(phis, [m.macs / 1e6 for m in result.family], "o-", label="MFLOPs (multiply-adds)")
    right.semilogy(phis, [m.params / 1e6 for m in result.family], "s--", label="M params")
    right.set_xlabel("phi (compound coefficient)")
    right.set_ylabel("millions (log scale)")
    right.set_title("Extrapolated family phi = 0..N")
    right.legend(fontsize=8)
    right.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def plot_proxies(result: StudyResult, path: Path) -> None:
    from nas_scaling.proxies.registry import VOTE_PROXIES  # imports torch and the models: only here

    names = [c.proxy for c in result.correlations]
    cols = 3
    rows = math.ceil(len(names) / cols)
    fig = Figure(figsize=(4.2 * cols, 3.6 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    trained = [c for c in result.candidates if c["val_top1"] is not None]
    for ax, corr in zip(axes.flat, result.correlations, strict=False):
        points = [(c[corr.proxy], 100 * c["val_top1"]) for c in trained if math.isfinite(c[corr.proxy])]
        ax.scatter([p[0] for p in points], [p[1] for p in points], s=18, alpha=0.8)
        if corr.proxy == "synflow" and points and all(p[0] > 0 for p in points):
            ax.set_xscale("log")
        label = "vote (mean rank of " + ", ".join(VOTE_PROXIES) + ")" if corr.proxy == "vote" else corr.proxy
        ax.set_xlabel(label, fontsize=8)
        ax.set_ylabel("validation top-1 (%)")
        left_out = f", {corr.n - len(points)} non-finite not shown" if corr.n > len(points) else ""
        ax.set_title(f"{corr.proxy}: rho={corr.spearman:.2f} tau={corr.kendall:.2f} (n={corr.n}{left_out})",
                     fontsize=9)
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.suptitle(f"Zero-cost proxies vs trained accuracy: space {result.space}, {result.dataset}, "
                 f"budget {result.budget}, {result.train.get('epochs', '?')} epoch(s)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
