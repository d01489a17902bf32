"""The analytic count against fvcore's on the built model, and latency measurement."""

from __future__ import annotations

import pytest

from nas_scaling import zoo
from nas_scaling.cost import count_cost, fvcore_by_operator, fvcore_conv_linear_macs, fvcore_flops, measure_latency
from nas_scaling.errors import UserError
from nas_scaling.spec import ConvBlock, MBConv, NetworkSpec, Stage


def _small_params(entry: zoo.ZooEntry) -> int:
    return count_cost(entry.spec(small=True)).params


def _fast_entries() -> set[str]:
    """fvcore traces a real model (seconds for the big ones): per family the cheapest entry, plus
    every entry under 2M parameters (the SqueezeNet bypass variants)."""
    cheapest: dict[str, zoo.ZooEntry] = {}
    for e in zoo.entries():
        if e.family not in cheapest or _small_params(e) < _small_params(cheapest[e.family]):
            cheapest[e.family] = e
    return {e.name for e in cheapest.values()} | {e.name for e in zoo.entries() if _small_params(e) < 2_000_000}


FAST = _fast_entries()
ENTRIES = zoo.entries()


@pytest.mark.parametrize(
    "entry",
    [pytest.param(e, id=e.name, marks=() if e.name in FAST else pytest.mark.slow) for e in ENTRIES],
)
def test_fvcore_conv_linear_agrees_at_32x32(entry: zoo.ZooEntry) -> None:
    spec = entry.spec(small=True)
    assert fvcore_conv_linear_macs(spec) == count_cost(spec).macs


@pytest.mark.slow
@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_fvcore_conv_linear_agrees_at_native_resolution(entry: zoo.ZooEntry) -> None:
    spec = entry.spec()
    assert fvcore_conv_linear_macs(spec) == count_cost(spec).macs


def test_fvcore_total_adds_batch_norm_and_pooling() -> None:
    spec = zoo.get_spec("efficientnet_b0", small=True)
    ops = fvcore_by_operator(spec)
    assert {"conv", "batch_norm", "linear"} <= set(ops)
    assert fvcore_flops(spec) == sum(ops.values()) > count_cost(spec).macs
    lenet = zoo.get_spec("lenet5")  # conv and linear only: fvcore's total is the analytic count
    assert fvcore_flops(lenet) == count_cost(lenet).macs


TINY = NetworkSpec(
    "tiny",
    stem=(Stage(ConvBlock(8), stride=2),),
    stages=(Stage(MBConv(16, expand=4, se=0.25), repeats=2, stride=2),),
    resolution=32,
    num_classes=10,
)


def test_measure_latency_per_image() -> None:
    out = measure_latency(TINY, batch_sizes=(1, 4), warmup=1, repeats=3)
    assert list(out) == [1, 4]
    assert all(ms > 0 for ms in out.values())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_sizes": (0,)}, "batch sizes must be positive integers"),
        ({"repeats": 0}, "repeats >= 1"),
        ({"device": "gpu7"}, "device must be a torch device"),
    ],
)
def test_measure_latency_rejects_bad_options(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UserError, match=message):
        measure_latency(TINY, **kwargs)  # type: ignore[arg-type]
