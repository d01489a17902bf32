"""Published ImageNet accuracies: literals equal torchvision's metadata; every name is a zoo entry."""

from __future__ import annotations

import pytest
import torchvision

from nas_scaling import zoo
from nas_scaling.zoo.reference import IMAGENET_REFERENCE, ImageNetReference, imagenet_reference

TWINS = [e for e in zoo.entries() if e.torchvision is not None]
NO_FIGURE = {"lenet5", "efficientnet_tiny", "efficientnet_cifar", "squeezenet1_1_simple", "squeezenet1_1_complex"}


@pytest.mark.parametrize("entry", TWINS, ids=lambda e: e.name)
def test_twin_literals_equal_torchvision_v1_metadata(entry: zoo.ZooEntry) -> None:
    weights = torchvision.models.get_model_weights(entry.torchvision)  # type: ignore[arg-type]
    metrics = weights.IMAGENET1K_V1.meta["_metrics"]["ImageNet-1K"]
    ref = imagenet_reference(entry.name)
    assert ref is not None, f"{entry.name} has a torchvision twin but no reference"
    assert ref.top1 == round(metrics["acc@1"] / 100, 6)
    assert ref.top5 == round(metrics["acc@5"] / 100, 6)
    assert ref.source == f"torchvision {weights.__name__}.IMAGENET1K_V1 metadata"


def test_every_value_is_a_fraction_and_every_name_a_zoo_entry() -> None:
    names = set(zoo.names())
    for name, ref in IMAGENET_REFERENCE.items():
        assert name in names
        assert 0.0 < ref.top1 <= 1.0
        assert ref.top5 is None or ref.top1 <= ref.top5 <= 1.0
        assert ref.source


def test_paper_figures() -> None:
    assert IMAGENET_REFERENCE["mobilenet_v1"].top1 == 0.706 and IMAGENET_REFERENCE["mobilenet_v1"].top5 is None
    assert (IMAGENET_REFERENCE["densenet264"].top1, IMAGENET_REFERENCE["densenet264"].top5) == (0.7785, 0.9388)
    assert (IMAGENET_REFERENCE["squeezenet1_0_simple"].top1, IMAGENET_REFERENCE["squeezenet1_0_simple"].top5) == (
        0.604, 0.825)
    assert (IMAGENET_REFERENCE["squeezenet1_0_complex"].top1,
            IMAGENET_REFERENCE["squeezenet1_0_complex"].top5) == (0.588, 0.82)


def test_entries_without_a_published_figure_have_none() -> None:
    for name in NO_FIGURE:
        assert name in zoo.names() and imagenet_reference(name) is None
    assert imagenet_reference("not-a-net") is None


def test_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match=r"fraction in \[0, 1\], got 77.7"):
        ImageNetReference(77.7, None, "x")
