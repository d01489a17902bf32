from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings

from nas_scaling.errors import SpecError
from nas_scaling.models import build_model, count_parameters
from nas_scaling.spec import Head, NetworkSpec, Pool, Stage, block_shapes
from tests.spec.strategies import ONE_OF_EACH, networks

# Each block kind alone, its shapes against the spec's: tests/test_block_kinds.py.


def test_a_network_of_every_block_kind_trains_a_step() -> None:
    spec = NetworkSpec("all", stem=(), stages=ONE_OF_EACH, head=Head(dropout=0.2), resolution=96,
                       num_classes=3, stochastic_depth=0.1)
    model = build_model(spec)
    out = model(torch.randn(2, 3, 96, 96))
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
