"""Compound scaling: pure functions on specs."""

from __future__ import annotations

from nas_scaling.scaling.compound import (
    EFFICIENTNET_MULTIPLIERS,
    CompoundMultipliers,
    compound_factor,
    compound_multipliers,
    compound_scale,
)
from nas_scaling.scaling.rounding import make_divisible, round_channels, round_repeats
from nas_scaling.scaling.transform import scale_block_width, scale_spec, scale_stage_depth

__all__ = [
    "EFFICIENTNET_MULTIPLIERS",
    "CompoundMultipliers",
    "compound_factor",
    "compound_multipliers",
    "compound_scale",
    "make_divisible",
    "round_channels",
    "round_repeats",
    "scale_block_width",
    "scale_spec",
    "scale_stage_depth",
]
