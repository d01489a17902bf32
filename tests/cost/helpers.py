"""Reference counts for the cost tests: torch's FLOP counter on models built on the meta device.

``FlopCounterMode`` counts by shapes, so a meta-device model (no storage, no arithmetic) gives the
same count as a real one in a fraction of the time; halved, it is multiply-adds of conv and matmul.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from nas_scaling.cost import Cost, count_cost
from nas_scaling.models import build_model
from nas_scaling.spec import NetworkSpec

# Entries whose native-resolution checks take seconds: the fast suite uses their small=True form.
HEAVY = ("efficientnet_b5", "efficientnet_b6", "efficientnet_b7", "densenet264", "resnet152")


def meta_model(spec: NetworkSpec, *, resolution: int | None = None) -> nn.Module:
    with torch.device("meta"):
        return build_model(spec, resolution=resolution).eval()


def torch_macs(model: nn.Module, resolution: int, in_channels: int = 3) -> int:
    """Multiply-adds of one image through ``model`` (on its device): FlopCounterMode total // 2."""
    device = next(model.parameters()).device
    x = torch.randn(1, in_channels, resolution, resolution, device=device)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.eval()(x)
    return counter.get_total_flops() // 2


def module_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def assert_matches_module(spec: NetworkSpec, resolution: int | None = None) -> Cost:
    """The analytic cost of ``spec`` equals the built module's parameters and FLOP-counted MACs."""
    res = spec.resolution if resolution is None else resolution
    cost = count_cost(spec, resolution=resolution)
    model = meta_model(spec, resolution=resolution)
    assert cost.resolution == res
    assert cost.params == module_params(model), spec.name
    assert cost.macs == torch_macs(model, res, spec.in_channels), spec.name
    assert cost.params == sum(s.params for s in cost.stages)
    assert cost.macs == sum(s.macs for s in cost.stages)
    return cost
