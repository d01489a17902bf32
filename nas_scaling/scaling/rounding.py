"""Rounding rules of compound scaling (EfficientNet / MobileNet): pure integer math."""

from __future__ import annotations

import math

__all__ = ["make_divisible", "round_channels", "round_repeats"]


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Nearest multiple of ``divisor``, at least ``min_value`` and never below 90% of ``value``."""
    floor = divisor if min_value is None else min_value
    new = max(floor, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return new


def round_channels(channels: int, multiplier: float, divisor: int = 8) -> int:
    """Channels after a width multiplier; unchanged at 1.0."""
    if multiplier == 1.0:
        return channels
    return make_divisible(channels * multiplier, divisor)


def round_repeats(repeats: int, multiplier: float) -> int:
    """Repeats after a depth multiplier, rounded up (EfficientNet)."""
    return math.ceil(repeats * multiplier)
