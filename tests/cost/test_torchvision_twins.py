"""Analytic MACs and parameters against torchvision's own models (torch's FLOP counter, halved)."""

from __future__ import annotations

from functools import lru_cache

import pytest
import torch
import torchvision
from torch import nn

from nas_scaling import zoo
from nas_scaling.cost import count_cost
from tests.cost.helpers import HEAVY, module_params, torch_macs

TWINS = [e for e in zoo.entries() if e.torchvision]
EFFICIENTNET_RESOLUTIONS = (224, 240, 260, 300, 380, 456, 528, 600)


@lru_cache(maxsize=2)
def torchvision_model(entry: zoo.ZooEntry) -> nn.Module:
    with torch.device("meta"):
        return getattr(torchvision.models, entry.torchvision or "")(**dict(entry.torchvision_kwargs)).eval()


def twin_resolution(entry: zoo.ZooEntry) -> int:
    """224, the resolution torchvision quotes GFLOPS at; Inception-style nets at their own."""
    return entry.spec().resolution if entry.family in ("googlenet", "inception") else 224


def check_twin(entry: zoo.ZooEntry, resolution: int) -> None:
    cost = count_cost(entry.spec(), resolution=resolution)
    model = torchvision_model(entry)
    assert cost.params == module_params(model)
    assert cost.macs == torch_macs(model, resolution)


@pytest.mark.parametrize("entry", [e for e in TWINS if e.name not in HEAVY], ids=lambda e: e.name)
def test_twin_at_224(entry: zoo.ZooEntry) -> None:
    check_twin(entry, twin_resolution(entry))


@pytest.mark.slow
@pytest.mark.parametrize("entry", [e for e in TWINS if e.name in HEAVY], ids=lambda e: e.name)
def test_heavy_twin_at_224(entry: zoo.ZooEntry) -> None:
    check_twin(entry, twin_resolution(entry))


@pytest.mark.parametrize("phi", range(5))
def test_efficientnet_at_native_resolution(phi: int) -> None:
    entry = zoo.get_entry(f"efficientnet_b{phi}")
    check_twin(entry, entry.spec().resolution)


@pytest.mark.slow
@pytest.mark.parametrize("phi", range(8))
def test_efficientnet_at_every_published_resolution(phi: int) -> None:
    entry = zoo.get_entry(f"efficientnet_b{phi}")
    for resolution in EFFICIENTNET_RESOLUTIONS:
        check_twin(entry, resolution)


def test_efficientnet_b4_golden() -> None:
    cost = count_cost(zoo.get_spec("efficientnet_b4"))
    assert cost.resolution == 380
    assert round(cost.macs / 1e9, 4) == 4.3938
    assert cost.params == 19_341_616
