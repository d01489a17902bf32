"""The lecture's worked examples, shipped as spec files in examples/worked/, give the textbook numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nas_scaling.cost import count_cost
from nas_scaling.models import build_model
from nas_scaling.spec import load_spec

WORKED = Path(__file__).resolve().parents[1] / "examples" / "worked"


def _stages(name: str) -> list[tuple[int, int]]:
    """(params, multiply-adds) of each stage of a worked example, the head left out."""
    return [(s.params, s.macs) for s in count_cost(load_spec(WORKED / name)).stages if s.label != "head"]


def test_standard_vs_depthwise_separable_conv() -> None:
    """8x8x3 -> 8x8x128 with 5x5 kernels: 614,400 vs 29,376 multiplies."""
    assert _stages("standard_conv.yaml") == [(5 * 5 * 3 * 128, 614_400)]
    ((_, macs),) = _stages("depthwise_separable.yaml")
    assert macs == 8 * 8 * 3 * 25 + 8 * 8 * 128 * 3 == 29_376


def test_a_1x1_bottleneck_cuts_the_5x5_branch_tenfold() -> None:
    """28x28x192 -> 28x28x32 by a 5x5 conv: ~120 M multiplies; ~12.4 M through a 16-channel 1x1 first."""
    assert _stages("inception_5x5.yaml") == [(5 * 5 * 192 * 32, 120_422_400)]
    assert _stages("inception_5x5_bottleneck.yaml") == [(192 * 16, 2_408_448), (5 * 5 * 16 * 32, 10_035_200)]
    assert sum(m for _, m in _stages("inception_5x5_bottleneck.yaml")) == 12_443_648


def test_the_fire_module_of_figure_1() -> None:
    """s1x1 = 3, e1x1 = 4, e3x3 = 4 on 8 channels: 8 output channels, 24 + 12 + 108 weights and 11 biases."""
    spec = load_spec(WORKED / "fire_module.yaml")
    (stage,) = (s for s in count_cost(spec).stages if s.label != "head")
    assert (stage.in_channels, stage.out_channels, stage.params) == (8, 8, 8 * 3 + 3 * 4 + 3 * 9 * 4 + 3 + 4 + 4)
    fire = build_model(spec).stages[0]
    assert sum(p.numel() for p in fire.parameters()) == stage.params
    assert fire(torch.randn(1, 8, 8, 8)).shape == (1, 8, 8, 8)


@pytest.mark.parametrize("path", sorted(WORKED.glob("*.yaml")), ids=lambda p: p.name)
def test_every_worked_example_builds_and_counts_what_its_module_has(path: Path) -> None:
    spec = load_spec(path)
    model = build_model(spec)
    assert sum(p.numel() for p in model.parameters()) == count_cost(spec).params
    x = torch.randn(1, spec.in_channels, spec.resolution, spec.resolution)
    assert model(x).shape == (1, spec.num_classes)
