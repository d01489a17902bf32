from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings

from nas_scaling.errors import SpecError
from nas_scaling.models import MODULES, build_model, count_parameters
from nas_scaling.spec import (
    BLOCK_TYPES,
    ConvBlock,
    DenseBlock,
    DepthwiseSeparable,
    Fire,
    Head,
    Inception,
    MBConv,
    NetworkSpec,
    Pool,
    Residual,
    Stage,
    Transition,
    block_shapes,
)
from tests.spec.strategies import networks

ONE_OF_EACH = [
    Stage(ConvBlock(16, kernel=5, norm=False, bias=True, act="tanh"), stride=2),
    Stage(DepthwiseSeparable(24), stride=2),
    Stage(MBConv(24, expand=4, kernel=5, se=0.25), repeats=2),
    Stage(Residual(32, style="basic"), stride=2),
    Stage(Residual(64, style="bottleneck"), repeats=2),
    Stage(Fire(8, 32, 32, bypass="complex")),
    Stage(Fire(8, 32, 32, bypass="simple", norm=True)),
    Stage(DenseBlock(3, growth=8)),
    Stage(Transition(0.5), stride=2),
    Stage(Inception(8, 8, 16, 4, 8, 8, kernel5=5)),
    Stage(Pool("avg", kernel=2), stride=2),
]


def test_every_block_kind_has_a_module() -> None:
    assert set(MODULES) == set(BLOCK_TYPES.values())
    assert {type(s.block) for s in ONE_OF_EACH} == set(BLOCK_TYPES.values())


@pytest.mark.parametrize("stage", ONE_OF_EACH, ids=lambda s: s.block.kind)
def test_each_block_kind_builds_with_the_shapes_the_spec_predicts(stage: Stage) -> None:
    spec = NetworkSpec("one", stem=(Stage(ConvBlock(64)),), stages=(stage,), resolution=16, num_classes=5)
    model = build_model(spec).eval()
    features = model.stages(model.stem(torch.randn(2, 3, 16, 16)))
    last = block_shapes(spec)[-1]
    assert features.shape == (2, last.out_channels, last.out_size, last.out_size)
    out = model(torch.randn(2, 3, 16, 16))
    assert out.shape == (2, 5)
    assert torch.isfinite(out).all()


def test_a_network_of_every_block_kind_trains_a_step() -> None:
    spec = NetworkSpec("all", stem=(), stages=tuple(ONE_OF_EACH), head=Head(dropout=0.2), resolution=32,
                       num_classes=3, stochastic_depth=0.1)
    model = build_model(spec)
    out = model(torch.randn(2, 3, 32, 32))
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


@settings(max_examples=15, deadline=None)
@given(networks)
def test_random_specs_build_or_fail_with_a_spec_error(spec: NetworkSpec) -> None:
    res = min(spec.resolution, 48)
    try:
        shapes = block_shapes(spec, res)
    except SpecError as exc:
        assert "collapses below 1x1" in str(exc)
        with pytest.raises(SpecError):
            build_model(spec, resolution=res)
        return
    if sum(s.out_channels * s.out_size**2 for s in shapes) > 300_000:
        return  # too big to run in a unit test
    model = build_model(spec, resolution=res).eval()
    with torch.no_grad():
        out = model(torch.randn(1, spec.in_channels, res, res))
    assert out.shape == (1, spec.num_classes)
    assert count_parameters(model) > 0


def test_resolution_that_collapses_is_a_clear_error() -> None:
    spec = NetworkSpec("deep", stem=(), stages=(Stage(Pool(kernel=3), stride=2),) * 4, resolution=64)
    with pytest.raises(SpecError, match=r"resolution 8 is too small for deep: .*at stages\[2\]"):
        build_model(spec, resolution=8)
