"""The CIFAR-scale base ``efficientnet_cifar``: its exact size, that it runs on 3x32x32 images, and
that a 2xFLOPS compound-scaling grid keeps candidates that scale resolution (gamma > 1)."""

from __future__ import annotations

import torch

from nas_scaling import zoo
from nas_scaling.cost import count_cost, parse_budget
from nas_scaling.experiments.grid_plan import plan_grid
from nas_scaling.models import build_model, count_parameters
from nas_scaling.spec import MBConv, block_shapes


def test_b0_stages_for_32px_colour_inputs() -> None:
    spec = zoo.get_spec("efficientnet_cifar")
    assert (spec.in_channels, spec.resolution, spec.num_classes) == (3, 32, 10)
    assert spec.stem[0].stride == 1
    blocks = [s.block for s in spec.stages]
    assert all(isinstance(b, MBConv) and b.se == 0.25 and b.act == "silu" for b in blocks)
    assert [(b.expand, b.kernel) for b in blocks] == [  # type: ignore[union-attr]
        (1.0, 3), (6.0, 3), (6.0, 5), (6.0, 3), (6.0, 5), (6.0, 5), (6.0, 3)
    ]
    assert block_shapes(spec)[-1].out_size == 4  # 32 px ends on a 4x4 map
    assert zoo.get_spec("efficientnet_cifar", small=True) == spec


def test_exact_parameters_and_multiply_adds() -> None:
    spec = zoo.get_spec("efficientnet_cifar")
    cost = count_cost(spec)
    assert (cost.params, cost.macs) == (654_174, 19_220_480)
    assert count_parameters(build_model(spec)) == cost.params


def test_builds_and_runs_on_colour_32x32_batches() -> None:
    model = build_model(zoo.get_spec("efficientnet_cifar")).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10)
    assert torch.isfinite(out).all()


def test_resolution_scaling_survives_a_2x_flops_grid() -> None:
    """At 32 px a few more pixels grow the last map from 4x4 to 5x5 only, so grid points with
    gamma > 1 keep their real multiply-adds within the grid's window, at most 2x."""
    plan = plan_grid(zoo.get_spec("efficientnet_cifar"), parse_budget("2xFLOPS"), max_candidates=None)
    scaled = [c for c in plan.candidates if c.gamma > 1]
    assert len(scaled) >= 5
    assert {38, 40} <= {c.spec.resolution for c in scaled}  # 32 * 1.2, 1.25
    assert all(2 * (1 - 0.15) <= c.factor_real <= 2 for c in scaled)
    default = plan_grid(zoo.get_spec("efficientnet_cifar"), parse_budget("2xFLOPS"))
    assert any(c.gamma > 1 for c in default.candidates)  # and the 8 the grid trains include some
