"""adapt_inputs: a spec fitted to a dataset's channels, classes and a chosen resolution."""

from __future__ import annotations

import pytest
import torch

from nas_scaling.cost import count_cost
from nas_scaling.errors import SpecError, UserError
from nas_scaling.models import build_model
from nas_scaling.spec import ConvBlock, network_to_compact
from nas_scaling.spec.adapt import adapt_inputs
from nas_scaling.zoo import get_spec


def test_channels_and_classes_follow_the_data_and_the_model_and_cost_follow_the_spec() -> None:
    base = get_spec("efficientnet_tiny")
    assert (base.in_channels, base.resolution, base.num_classes) == (1, 16, 10)
    rgb, notes = adapt_inputs(base, in_channels=3, num_classes=100)
    assert notes == ["efficientnet_tiny: stem adapted from 1 to 3 input channels"]
    assert (rgb.in_channels, rgb.num_classes, rgb.resolution) == (3, 100, 16)
    assert base.in_channels == 1  # a new spec; the old one is untouched
    assert "@16x3 ->100" in network_to_compact(rgb)
    model = build_model(rgb).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 16, 16)).shape == (2, 100)
    # only the stem's first conv weights (2 more input channels) and the classifier change
    first = base.stem[0].block
    assert isinstance(first, ConvBlock)
    stem_weights = 2 * first.channels * first.kernel**2
    classifier = 90 * (rgb.head.conv or 0) + 90
    assert count_cost(rgb).params - count_cost(base).params == stem_weights + classifier
    assert count_cost(rgb).params == sum(p.numel() for p in model.parameters())


def test_nothing_to_change_gives_the_same_spec_and_no_notes() -> None:
    base = get_spec("efficientnet_tiny")
    assert adapt_inputs(base, in_channels=1, num_classes=10) == (base, [])
    assert adapt_inputs(base, in_channels=1, num_classes=10, resolution=16)[0] is base
    # a change of classes alone is silent: the classifier always follows the dataset
    other, notes = adapt_inputs(base, in_channels=1, num_classes=7)
    assert other.num_classes == 7 and notes == []


def test_resolution_is_a_visible_choice() -> None:
    base = get_spec("efficientnet_tiny")
    big, notes = adapt_inputs(base, in_channels=3, num_classes=10, resolution=32)
    assert notes == [
        "efficientnet_tiny: stem adapted from 1 to 3 input channels",
        "efficientnet_tiny: resolution 16 -> 32 (--resolution)",
    ]
    assert big.resolution == 32 and "@32x3" in network_to_compact(big)
    assert count_cost(big).macs > 3 * count_cost(base).macs


def test_network_without_stem_says_first_layer() -> None:
    lenet = get_spec("lenet5")
    changed, notes = adapt_inputs(lenet, in_channels=3 if lenet.in_channels == 1 else 1, num_classes=10)
    where = "stem" if lenet.stem else "first layer"
    assert notes == [f"lenet5: {where} adapted from {lenet.in_channels} to {changed.in_channels} input channels"]


def test_too_small_a_resolution_is_one_line() -> None:
    with pytest.raises(SpecError) as info:
        adapt_inputs(get_spec("lenet5"), in_channels=3, num_classes=10, resolution=4)
    message = str(info.value)
    assert message.startswith("resolution 4 is too small for lenet5") and "\n" not in message
    assert "collapses below 1x1 at" in message


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"in_channels": 0, "num_classes": 10}, "in_channels must be a positive integer, got 0"),
        ({"in_channels": 3, "num_classes": True}, "num_classes must be a positive integer, got True"),
        ({"in_channels": 3, "num_classes": 10, "resolution": 0}, "resolution must be a positive integer, got 0"),
        ({"in_channels": 3, "num_classes": 10, "resolution": 16.5}, "resolution must be a positive integer, got 16.5"),
    ],
)
def test_bad_values_are_user_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        adapt_inputs(get_spec("efficientnet_tiny"), **kwargs)  # type: ignore[arg-type]
