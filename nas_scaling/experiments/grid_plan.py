"""Plan a compound-scaling grid: (alpha, beta, gamma) candidates near a FLOP factor, checked on the
REAL multiply-adds after channel/depth/resolution rounding, and the family phi = 1..N they imply."""

from __future__ import annotations

import math
from dataclasses import dataclass

from nas_scaling.cost import Budget, count_cost
from nas_scaling.errors import SpecError, UserError
from nas_scaling.scaling.compound import compound_factor, compound_multipliers, compound_scale
from nas_scaling.scaling.transform import scale_spec
from nas_scaling.spec import NetworkSpec

__all__ = [
    "DEFAULT_MAX_CANDIDATES",
    "DEFAULT_STEP",
    "DEFAULT_TOLERANCE",
    "Candidate",
    "FamilyMember",
    "GridPlan",
    "extrapolate_family",
    "grid_points",
    "in_window",
    "plan_grid",
]

DEFAULT_STEP = 0.05
DEFAULT_TOLERANCE = 0.15
DEFAULT_MAX_CANDIDATES = 8


@dataclass(frozen=True)
class Candidate:
    """One (alpha, beta, gamma): the base scaled once (phi = 1), with its real cost."""

    alpha: float
    beta: float
    gamma: float
    factor_theoretical: float
    factor_real: float
    macs: int
    params: int
    spec: NetworkSpec

    @property
    def key(self) -> str:
        return f"a{self.alpha:.4g}_b{self.beta:.4g}_g{self.gamma:.4g}"


@dataclass(frozen=True)
class GridPlan:
    base: NetworkSpec
    base_macs: int
    base_params: int
    target_factor: float
    tolerance: float
    step: float
    candidates: tuple[Candidate, ...]
    considered: int
    """Grid points tried: every one whose theoretical factor is at most the window's upper end (rounding
    depth up and channels to multiples of 8 moves the real factor far from the theoretical one: on
    efficientnet_tiny, (1.05, 1.1, 1.0) is 1.27x in theory and 1.76x in real multiply-adds)."""
    dropped_real: int
    """Of those, how many the real (rounded) cost put outside the tolerance or over a params limit."""
    duplicates: int = 0
    """Of the rest, how many rounded to the same network as another point (trained once)."""
    approximately: bool = False
    """The paper's reading of the budget (real factor within ``tolerance`` either side of it) instead
    of an upper limit (within ``tolerance`` below it, never above)."""

    def window(self) -> str:
        """The real-MACs window in words: ``within 15% below 2x`` or ``within 15% of 2x``."""
        side = "of" if self.approximately else "below"
        return f"within {self.tolerance:.0%} {side} {self.target_factor:.3g}x"


def in_window(factor: float, target: float, tolerance: float, *, approximately: bool = False) -> bool:
    """Whether a real cost factor fits: at most ``target`` and at least ``target * (1 - tolerance)``,
    or with ``approximately`` (EfficientNet's "approximately 2x") within ``tolerance`` either side."""
    if approximately:
        return abs(factor - target) <= tolerance * target
    return target * (1 - tolerance) <= factor <= target


def grid_points(
    target: float, *, step: float, tolerance: float, lowest: float | None = None,
) -> list[tuple[float, float, float]]:
    """All (alpha, beta, gamma) >= 1 on a ``step`` grid with alpha*beta^2*gamma^2 within
    ``tolerance`` (relative) of ``target``, or from ``lowest`` up to that upper end."""
    if not step > 0 or not math.isfinite(step):
        raise UserError(f"step must be a positive number, got {step!r}")
    if not 0 < tolerance < 1:
        raise UserError(f"tolerance must be a number in (0, 1), got {tolerance!r}")
    high = target * (1 + tolerance)
    points: list[tuple[float, float, float]] = []
    i = 0
    while (alpha := round(1 + i * step, 10)) <= high:
        j = 0
        while alpha * (beta := round(1 + j * step, 10)) ** 2 <= high:
            k = 0
            while compound_factor(alpha, beta, gamma := round(1 + k * step, 10)) <= high:
                factor = compound_factor(alpha, beta, gamma)
                if (abs(factor - target) <= tolerance * target if lowest is None
                        else lowest <= factor and factor - target <= tolerance * target):
                    points.append((alpha, beta, gamma))
                k += 1
            j += 1
        i += 1
    return points


def _spread(items: list[Candidate], count: int) -> list[Candidate]:
    """``count`` items spread evenly over ``items`` (kept in order), ends included."""
    if count >= len(items):
        return items
    if count == 1:
        return [items[len(items) // 2]]
    picks = sorted({round(i * (len(items) - 1) / (count - 1)) for i in range(count)})
    return [items[i] for i in picks]


def plan_grid(
    base: NetworkSpec,
    budget: Budget,
    *,
    step: float = DEFAULT_STEP,
    tolerance: float = DEFAULT_TOLERANCE,
    max_candidates: int | None = DEFAULT_MAX_CANDIDATES,
    approximately: bool = False,
) -> GridPlan:
    """Candidates whose REAL MACs at phi = 1 are at most the budget's FLOP factor and within
    ``tolerance`` below it (``approximately``: within ``tolerance`` either side, the paper's reading).

    The budget's FLOPs term sets the target factor (relative to ``base``'s MACs at its own
    resolution); a params term, if any, is a hard limit. ``max_candidates`` keeps that many,
    spread evenly over the grid.
    """
    base_cost = count_cost(base)
    resolved = budget.resolve(base_cost)
    if resolved.max_macs is None:
        raise UserError(f"grid needs a FLOPs budget such as '2xFLOPS' or '600MFLOPS', got {str(budget)!r}")
    target = resolved.max_macs / base_cost.macs
    if target < 1.0:
        raise UserError(
            f"budget {str(budget)!r} is {target:.3g}x the base's {base_cost.macs / 1e6:.3g} MFLOPs; "
            "grid scales up (alpha, beta, gamma >= 1), so the budget must be at least 1x"
        )
    points = grid_points(target, step=step, tolerance=tolerance, lowest=1.0)
    kept: list[Candidate] = []
    seen: dict[NetworkSpec, int] = {}
    duplicates = 0
    for alpha, beta, gamma in points:
        try:
            spec = scale_spec(base, depth=alpha, width=beta, resolution=gamma, name=f"{base.name}_grid")
            cost = count_cost(spec)
        except SpecError:
            continue
        factor_real = cost.macs / base_cost.macs
        if not in_window(factor_real, target, tolerance, approximately=approximately):
            continue
        if resolved.max_params is not None and cost.params > resolved.max_params:
            continue
        candidate = Candidate(
            alpha, beta, gamma, compound_factor(alpha, beta, gamma), factor_real, cost.macs, cost.params, spec
        )
        if spec in seen:  # rounding made the same network: keep the point nearest the target in theory
            duplicates += 1
            other = kept[seen[spec]]
            if abs(candidate.factor_theoretical - target) < abs(other.factor_theoretical - target):
                kept[seen[spec]] = candidate
            continue
        seen[spec] = len(kept)
        kept.append(candidate)
    if not kept:
        side = "of" if approximately else "below"
        raise UserError(
            f"no (alpha, beta, gamma) on a {step:g} grid has real MACs within {tolerance:.0%} {side} budget "
            f"{str(budget)!r} ({target:.3g}x the base's {base_cost.macs / 1e6:.3g} MFLOPs, {len(points)} grid "
            "points tried); try a larger --tolerance or a smaller --step"
        )
    chosen = _spread(kept, max_candidates) if max_candidates is not None else kept
    return GridPlan(base, base_cost.macs, base_cost.params, target, tolerance, step, tuple(chosen), len(points),
                    len(points) - len(kept) - duplicates, duplicates, approximately)


@dataclass(frozen=True)
class FamilyMember:
    phi: int
    depth: float
    width: float
    resolution: int
    params: int
    macs: int
    spec: NetworkSpec


def extrapolate_family(
    base: NetworkSpec, *, alpha: float, beta: float, gamma: float, phi_max: int
) -> list[FamilyMember]:
    """The family phi = 0..phi_max (0 is the base) scaled by (alpha, beta, gamma)."""
    if not isinstance(phi_max, int) or phi_max < 1:
        raise UserError(f"phi-max must be a positive integer, got {phi_max!r}")
    family = []
    for phi in range(phi_max + 1):
        depth, width, _res = compound_multipliers(phi, alpha, beta, gamma)
        spec = compound_scale(base, phi=phi, alpha=alpha, beta=beta, gamma=gamma, name=f"{base.name}_phi{phi}")
        cost = count_cost(spec)
        family.append(FamilyMember(phi, depth, width, spec.resolution, cost.params, cost.macs, spec))
    return family
