"""MobileNet v1's published multiply-adds (Howard et al. 2017, Tables 6 and 7), exactly to 0.01 M."""

from __future__ import annotations

import pytest

from nas_scaling.cost import count_cost
from nas_scaling.zoo import mobilenet


@pytest.mark.parametrize(
    ("width", "resolution", "mmacs"),
    [
        (1.0, 224, 568.74),
        (0.75, 224, 325.40),
        (0.5, 224, 149.50),
        (0.25, 224, 41.03),
        (1.0, 192, 418.12),
        (1.0, 160, 290.68),
        (1.0, 128, 186.40),
    ],
)
def test_published_multiply_adds(width: float, resolution: int, mmacs: float) -> None:
    spec = mobilenet.mobilenet_v1(width=width, resolution=resolution)
    assert round(count_cost(spec).macs / 1e6, 2) == mmacs


def test_resolution_argument_equals_resolution_multiplier() -> None:
    base = mobilenet.mobilenet_v1()
    assert count_cost(base, resolution=160) == count_cost(mobilenet.mobilenet_v1(resolution=160))
