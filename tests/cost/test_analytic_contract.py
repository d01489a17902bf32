"""The analytic cost against the built module: every zoo entry, every block kind, random specs."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings

from nas_scaling import zoo
from nas_scaling.cost import BLOCK_COSTS, Cost, count_cost, model_size_bytes
from nas_scaling.errors import SpecError, UserError
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
)
from tests.cost.helpers import HEAVY, meta_model, module_params, torch_macs
from tests.spec.strategies import networks

ENTRIES = zoo.entries()
FAST = [e for e in ENTRIES if e.name not in HEAVY]
SLOW = [e for e in ENTRIES if e.name in HEAVY]


def assert_matches_module(spec: NetworkSpec, resolution: int | None = None) -> Cost:
    res = spec.resolution if resolution is None else resolution
    cost = count_cost(spec, resolution=resolution)
    model = meta_model(spec, resolution=resolution)
    assert cost.resolution == res
    assert cost.params == module_params(model), spec.name
    assert cost.macs == torch_macs(model, res, spec.in_channels), spec.name
    assert cost.params == sum(s.params for s in cost.stages)
    assert cost.macs == sum(s.macs for s in cost.stages)
    return cost


def test_every_block_kind_has_a_cost() -> None:
    assert set(BLOCK_COSTS) == set(BLOCK_TYPES.values())


@pytest.mark.parametrize("entry", FAST, ids=lambda e: e.name)
def test_zoo_entry_matches_built_module(entry: zoo.ZooEntry) -> None:
    assert_matches_module(entry.spec())


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_zoo_entry_small_form_matches_built_module(entry: zoo.ZooEntry) -> None:
    assert_matches_module(entry.spec(num_classes=10, in_channels=1, small=True))


@pytest.mark.slow
@pytest.mark.parametrize("entry", SLOW, ids=lambda e: e.name)
def test_heavy_zoo_entry_matches_built_module(entry: zoo.ZooEntry) -> None:
    assert_matches_module(entry.spec())


def test_other_resolution_matches_built_module() -> None:
    spec = zoo.get_spec("efficientnet_b0")
    cost = assert_matches_module(spec, resolution=160)
    assert cost.macs < count_cost(spec).macs
    assert cost.params == count_cost(spec).params


ONE_OF_EACH = (
    Stage(ConvBlock(16, kernel=5, norm=False, bias=True, act="tanh"), stride=2),
    Stage(DepthwiseSeparable(24), stride=2),
    Stage(MBConv(24, expand=4, kernel=5, se=0.25), repeats=2),
    Stage(MBConv(40, expand=1, kernel=3, se=0.5), stride=2),
    Stage(Residual(32, style="basic"), stride=2),
    Stage(Residual(64, style="bottleneck"), repeats=2),
    Stage(Fire(8, 32, 32, bypass="complex")),
    Stage(Fire(8, 32, 32, bypass="simple", norm=True)),
    Stage(Fire(8, 16, 16, bypass="complex", norm=True)),
    Stage(DenseBlock(3, growth=8)),
    Stage(Transition(0.5), stride=2),
    Stage(Inception(8, 8, 16, 4, 8, 8, kernel5=5)),
    Stage(Pool("avg", kernel=2), stride=2),
)


@pytest.mark.parametrize(
    "head",
    [
        Head(),
        Head(conv=64, norm=True, act="silu", pool="max", pool_size=2, hidden=(32, 16), dropout=0.5),
        Head(pool="none", hidden=(10,)),
        Head(norm=True, classifier="conv", dropout=0.5),
    ],
)
def test_one_of_each_block_and_head(head: Head) -> None:
    spec = NetworkSpec("all", stem=ONE_OF_EACH[:1], stages=ONE_OF_EACH[1:], head=head, resolution=96)
    cost = assert_matches_module(spec)
    assert [s.label for s in cost.stages] == ["stem[0]", *(f"stages[{i}]" for i in range(12)), "head"]
    assert cost.stages[2].repeats == 2 and cost.stages[2].compact.startswith("mbconv_r2_s1_c24")
    assert cost.stages[-1].compact == "head" and cost.stages[-1].out_channels == 1000
    assert [s.out_size for s in cost.stages[:3]] == [48, 24, 24]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks)
def test_random_specs_match_built_module(spec: NetworkSpec) -> None:
    try:
        count_cost(spec)
    except SpecError:  # the map collapses: the builder refuses the same spec
        with pytest.raises(SpecError):
            meta_model(spec)
        return
    assert_matches_module(spec)


def test_collapse_is_a_user_error() -> None:
    with pytest.raises(SpecError, match="collapses"):
        count_cost(zoo.get_spec("lenet5"), resolution=8)


def test_analytic_path_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from nas_scaling.cost import count_cost, parse_budget\n"
        "from nas_scaling.zoo import get_spec\n"
        "cost = count_cost(get_spec('efficientnet_b0'))\n"
        "parse_budget('2xFLOPS').resolve(cost).check(cost)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print(cost.macs)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "385814752"


def test_model_size_bytes() -> None:
    squeezenet = count_cost(zoo.get_spec("squeezenet1_0")).params
    assert squeezenet == 1_248_424
    assert model_size_bytes(squeezenet) == 4_993_696
    assert round(model_size_bytes(squeezenet, "fp32") / 2**20, 2) == 4.76  # the paper's "4.8 MB"
    assert model_size_bytes(squeezenet, "int8") == squeezenet
    with pytest.raises(UserError, match="dtype must be one of fp32, fp16, bf16, int8, got 'fp64'"):
        model_size_bytes(1, "fp64")
