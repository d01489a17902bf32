"""Published ImageNet accuracies: literals equal torchvision's metadata; every name is a zoo entry."""

from __future__ import annotations

import pytest
import torchvision

from nas_scaling import zoo
from nas_scaling.zoo.reference import (
    IMAGENET_REFERENCE,
    IMAGENET_REFERENCES,
    PROTOCOLS,
    ImageNetReference,
    imagenet_reference,
    imagenet_references,
)

TWINS = [e for e in zoo.entries() if e.torchvision is not None]
NO_FIGURE = {"lenet5", "efficientnet_tiny", "efficientnet_cifar", "squeezenet1_1_simple", "squeezenet1_1_complex",
             "vgg16_c", "vgg11_lrn", "resnet20", "densenet40_k12"}


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
    assert set(IMAGENET_REFERENCES) == set(IMAGENET_REFERENCE)
    for name, refs in IMAGENET_REFERENCES.items():
        assert name in names
        assert refs[0] == IMAGENET_REFERENCE[name] == imagenet_reference(name)
        assert imagenet_references(name) == refs
        assert len(set(refs)) == len(refs)
        for ref in refs:
            assert 0.0 < ref.top1 <= 1.0
            assert ref.top5 is None or ref.top1 <= ref.top5 <= 1.0
            assert ref.source and ref.protocol in PROTOCOLS


def test_paper_figures() -> None:
    assert IMAGENET_REFERENCE["mobilenet_v1"].top1 == 0.706 and IMAGENET_REFERENCE["mobilenet_v1"].top5 is None
    assert (IMAGENET_REFERENCE["densenet264"].top1, IMAGENET_REFERENCE["densenet264"].top5) == (0.7785, 0.9388)
    assert (IMAGENET_REFERENCE["squeezenet1_0_simple"].top1, IMAGENET_REFERENCE["squeezenet1_0_simple"].top5) == (
        0.604, 0.825)
    assert (IMAGENET_REFERENCE["squeezenet1_0_complex"].top1,
            IMAGENET_REFERENCE["squeezenet1_0_complex"].top5) == (0.588, 0.82)


def _paper(name: str, protocol: str) -> tuple[float, float | None]:
    refs = [r for r in imagenet_references(name)[1:] if r.protocol == protocol]
    assert len(refs) == 1, (name, protocol)
    return refs[0].top1, refs[0].top5


def test_papers_figures_beside_torchvision() -> None:
    """Issue 16 item 5, each against its table: 1 - the paper's error, with its protocol."""
    assert _paper("alexnet", "10-crop") == (0.593, 0.818)  # Krizhevsky et al. 2012, Table 2: 40.7% / 18.2%
    assert _paper("squeezenet1_0", "unstated") == (0.575, 0.803)  # Iandola et al. 2016, Table 2
    assert _paper("vgg16", "multi-crop+dense") == (0.756, 0.928)  # Simonyan & Zisserman, Table 5, D: 24.4 / 7.2
    # Huang et al. 2017, Table 3: single-crop and 10-crop top-1/top-5 errors
    assert _paper("densenet121", "single-crop") == (0.7498, 0.9229)
    assert _paper("densenet121", "10-crop") == (0.7639, 0.9334)
    assert _paper("densenet169", "single-crop") == (0.762, 0.9315)
    assert _paper("densenet169", "10-crop") == (0.7792, 0.9408)
    assert _paper("densenet201", "single-crop") == (0.7742, 0.9366)
    assert _paper("densenet201", "10-crop") == (0.7854, 0.9446)
    assert _paper("densenet264", "10-crop") == (0.792, 0.9471)
    for name in ("alexnet", "squeezenet1_0", "vgg16", "densenet121"):
        assert imagenet_reference(name).source.startswith("torchvision ")  # type: ignore[union-attr]
    assert imagenet_references("efficientnet_b0") == (imagenet_reference("efficientnet_b0"),)
    assert imagenet_references("not-a-net") == ()


def test_entries_without_a_published_figure_have_none() -> None:
    for name in NO_FIGURE:
        assert name in zoo.names() and imagenet_reference(name) is None
    assert imagenet_reference("not-a-net") is None


def test_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match=r"fraction in \[0, 1\], got 77.7"):
        ImageNetReference(77.7, None, "x")
    with pytest.raises(ValueError, match="protocol must be one of single-crop, 10-crop, multi-crop\\+dense, unstated"):
        ImageNetReference(0.7, None, "x", "5-crop")
