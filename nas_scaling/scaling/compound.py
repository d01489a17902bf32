"""Compound scaling: depth = alpha^phi, width = beta^phi, resolution = gamma^phi.

The released EfficientNet B0-B7 multipliers are data, not the formula: Tan & Le rounded them by
hand (B7 is width 2.0, depth 3.1, resolution 600, not 1.1^7 etc.).
"""

from __future__ import annotations

from dataclasses import dataclass

from nas_scaling.errors import UserError
from nas_scaling.scaling.transform import scale_spec
from nas_scaling.spec import NetworkSpec

__all__ = [
    "EFFICIENTNET_MULTIPLIERS",
    "CompoundMultipliers",
    "compound_factor",
    "compound_multipliers",
    "compound_scale",
]


@dataclass(frozen=True)
class CompoundMultipliers:
    width: float
    depth: float
    resolution: int
    dropout: float = 0.2


EFFICIENTNET_MULTIPLIERS: dict[int, CompoundMultipliers] = {
    0: CompoundMultipliers(1.0, 1.0, 224, 0.2),
    1: CompoundMultipliers(1.0, 1.1, 240, 0.2),
    2: CompoundMultipliers(1.1, 1.2, 260, 0.3),
    3: CompoundMultipliers(1.2, 1.4, 300, 0.3),
    4: CompoundMultipliers(1.4, 1.8, 380, 0.4),
    5: CompoundMultipliers(1.6, 2.2, 456, 0.4),
    6: CompoundMultipliers(1.8, 2.6, 528, 0.5),
    7: CompoundMultipliers(2.0, 3.1, 600, 0.5),
}
"""EfficientNet B0-B7 (width, depth, resolution, dropout) as released (paper Table/official code)."""


def compound_factor(alpha: float, beta: float, gamma: float) -> float:
    """The theoretical FLOP factor of one compound step: alpha * beta^2 * gamma^2."""
    return alpha * beta**2 * gamma**2


def compound_multipliers(phi: float, alpha: float, beta: float, gamma: float) -> tuple[float, float, float]:
    """(depth, width, resolution) multipliers for compound coefficient ``phi``."""
    for name, value in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 1.0:
            raise UserError(f"{name} must be a number >= 1, got {value!r}")
    if not isinstance(phi, (int, float)) or isinstance(phi, bool) or phi < 0:
        raise UserError(f"phi must be a number >= 0, got {phi!r}")
    return alpha**phi, beta**phi, gamma**phi


def compound_scale(
    spec: NetworkSpec, *, phi: float, alpha: float, beta: float, gamma: float, name: str | None = None
) -> NetworkSpec:
    """``spec`` scaled by compound coefficient ``phi`` (resolution rounded to an integer)."""
    depth, width, res = compound_multipliers(phi, alpha, beta, gamma)
    return scale_spec(spec, width=width, depth=depth, resolution=float(res), name=name)
