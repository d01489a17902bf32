from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
import torchvision

from nas_scaling.cost import count_cost, parse_budget
from nas_scaling.errors import UserError
from nas_scaling.experiments.grid_plan import extrapolate_family, grid_points, plan_grid
from nas_scaling.models import count_parameters
from nas_scaling.scaling import (
    EFFICIENTNET_MULTIPLIERS,
    compound_factor,
    compound_multipliers,
    make_divisible,
    round_repeats,
    scale_spec,
)
from nas_scaling.spec import MBConv
from nas_scaling.zoo import get_spec


def test_make_divisible_never_drops_below_90_percent() -> None:
    assert make_divisible(32 * 1.1) == 32  # 35.2 -> 32 (>= 31.7)
    assert make_divisible(40 * 1.1) == 48  # 44 -> 48 (44 is not a multiple of 8; rounds half up)
    assert make_divisible(11.0) == 16  # 8 < 9.9, so one more step
    for v in range(1, 2000):
        assert make_divisible(v / 3) % 8 == 0
        assert make_divisible(v / 3) >= 0.9 * v / 3


def test_repeats_round_up() -> None:
    assert round_repeats(1, 1.1) == 2
    assert round_repeats(4, 3.1) == 13
    assert round_repeats(3, 1.0) == 3


def test_compound_formula() -> None:
    assert compound_factor(1.2, 1.1, 1.15) == pytest.approx(1.92, abs=1e-3)
    d, w, r = compound_multipliers(2, 1.2, 1.1, 1.15)
    assert (d, w, r) == pytest.approx((1.44, 1.21, 1.3225))
    with pytest.raises(UserError, match=r"alpha must be a number >= 1, got 0\.9"):
        compound_multipliers(1, 0.9, 1.1, 1.1)


def _torchvision_stages(model: torch.nn.Module) -> list[tuple[int, int]]:
    """(out channels, blocks) of each MBConv stage of a torchvision EfficientNet."""
    out = []
    for stage in list(model.features)[1:-1]:
        out.append((stage[-1].block[-1][0].out_channels, len(stage)))
    return out


@pytest.mark.parametrize("phi", range(8))
def test_scaling_b0_with_published_multipliers_gives_torchvision_b1_to_b7(phi: int) -> None:
    m = EFFICIENTNET_MULTIPLIERS[phi]
    b0 = get_spec("efficientnet_b0")
    scaled = scale_spec(b0, width=m.width, depth=m.depth, resolution=m.resolution)
    tv = getattr(torchvision.models, f"efficientnet_b{phi}")(weights=None)
    ours = [(s.block.channels, s.repeats) for s in scaled.stages]
    assert ours == _torchvision_stages(tv)
    assert scaled.stem[0].block.channels == tv.features[0][0].out_channels
    assert count_cost(scaled).params == count_parameters(tv)
    assert scaled.resolution == m.resolution
    assert replace(scaled, name=f"efficientnet_b{phi}", head=replace(scaled.head, dropout=m.dropout)) == get_spec(
        f"efficientnet_b{phi}"
    )


def test_width_scaling_touches_every_channel_kind() -> None:
    spec = get_spec("densenet121")
    wide = scale_spec(spec, width=1.5)
    assert wide.stages[0].block.growth == 48
    squeeze = scale_spec(get_spec("squeezenet1_0"), width=2.0)
    assert squeeze.stages[0].block.squeeze == 32
    deep = scale_spec(get_spec("densenet121"), depth=2.0)
    assert deep.stages[0].block.layers == 12
    assert isinstance(scale_spec(get_spec("efficientnet_b0"), width=1.3).stages[0].block, MBConv)


def test_grid_points_are_near_the_target() -> None:
    points = grid_points(2.0, step=0.05, tolerance=0.05)
    assert (1.2, 1.1, 1.15) in points  # EfficientNet's own choice (1.92)
    assert all(abs(compound_factor(*p) - 2.0) <= 0.1 for p in points)
    assert all(min(p) >= 1.0 for p in points)


def test_plan_uses_real_macs_after_rounding() -> None:
    base = get_spec("efficientnet_tiny", num_classes=10, in_channels=1)
    plan = plan_grid(base, parse_budget("2xFLOPS"), step=0.05, tolerance=0.15)
    assert plan.considered > len(plan.candidates) >= 8
    assert plan.duplicates > 0  # e.g. alpha 1.8 .. 2.0 all round every stage's repeats up the same way
    assert len({c.spec for c in plan.candidates}) == len(plan.candidates)
    for c in plan.candidates:
        assert c.macs == count_cost(c.spec).macs
        assert 1.7 <= c.factor_real <= 2.0  # the budget is an upper limit: within 15% below it, never above
        assert c.factor_real == c.macs / plan.base_macs
    assert any(abs(c.factor_real - c.factor_theoretical) > 0.05 for c in plan.candidates)
    spread = plan_grid(base, parse_budget("2xFLOPS"), max_candidates=4)
    assert len(spread.candidates) == 4


def test_the_papers_approximate_budget_is_an_option() -> None:
    """EfficientNet's "approximately 2x" admits candidates above the budget too; the default does not."""
    base = get_spec("efficientnet_tiny", num_classes=10, in_channels=1)
    upper = plan_grid(base, parse_budget("2xFLOPS"), max_candidates=None)
    around = plan_grid(base, parse_budget("2xFLOPS"), max_candidates=None, approximately=True)
    assert max(c.factor_real for c in upper.candidates) <= 2.0 < max(c.factor_real for c in around.candidates)
    assert all(abs(c.factor_real - 2.0) <= 0.3 for c in around.candidates)
    assert {c.key for c in upper.candidates} < {c.key for c in around.candidates}
    assert (upper.window(), around.window()) == ("within 15% below 2x", "within 15% of 2x")


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        ("0.5xFLOPS", "must be at least 1x"),
        ("5Mparams", "grid needs a FLOPs budget"),
        ("1.0001xFLOPS,1Kparams", "no \\(alpha, beta, gamma\\)"),
    ],
)
def test_impossible_budgets_are_clear_errors(budget: str, message: str) -> None:
    base = get_spec("efficientnet_tiny", num_classes=10, in_channels=1)
    with pytest.raises(UserError, match=message):
        plan_grid(base, parse_budget(budget))


def test_family_grows_with_phi() -> None:
    base = get_spec("efficientnet_tiny", num_classes=10, in_channels=1)
    family = extrapolate_family(base, alpha=1.2, beta=1.1, gamma=1.15, phi_max=4)
    assert [m.phi for m in family] == [0, 1, 2, 3, 4]
    assert family[0].macs == count_cost(base).macs
    macs = [m.macs for m in family]
    assert macs == sorted(macs)
    assert family[4].resolution == round(16 * 1.15**4)
    assert math.isclose(family[2].depth, 1.44)
