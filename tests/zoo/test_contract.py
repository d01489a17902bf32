"""Every zoo entry through the same checks."""

from __future__ import annotations

import pytest
import torch

from nas_scaling import zoo
from nas_scaling.models import build_model
from nas_scaling.zoo.registry import register

ENTRIES = zoo.entries()


def test_registry_refuses_duplicate_names() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register("efficientnet_b0", family="x", paper="x")(lambda **_: None)  # type: ignore[arg-type,return-value]


def test_every_entry_cites_its_paper_and_says_how_it_adapts() -> None:
    for entry in ENTRIES:
        assert entry.paper and entry.family
        assert entry.small, f"{entry.name} does not document its small-input form"
        assert entry.builder.__doc__, f"{entry.name} has no docstring"


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_builds_and_runs_at_native_resolution(entry: zoo.ZooEntry) -> None:
    spec = entry.spec()
    model = build_model(spec).eval()
    with torch.no_grad():
        out = model(torch.randn(1, spec.in_channels, spec.resolution, spec.resolution))
    assert out.shape == (1, spec.num_classes)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
@pytest.mark.parametrize("channels", [1, 3])
def test_builds_and_runs_at_32x32_with_10_classes(entry: zoo.ZooEntry, channels: int) -> None:
    spec = entry.spec(num_classes=10, in_channels=channels, small=True)
    assert spec.resolution == 32
    model = build_model(spec).eval()
    with torch.no_grad():
        out = model(torch.randn(2, channels, 32, 32))
    assert out.shape == (2, 10)
    assert torch.isfinite(out).all()
