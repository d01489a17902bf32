"""The analytic cost against the built module: every zoo entry, all block kinds in one network, random
specs (each kind alone: tests/test_block_kinds.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings

from nas_scaling import zoo
from nas_scaling.cost import count_cost, model_size_bytes
from nas_scaling.errors import SpecError, UserError
from nas_scaling.spec import Head, NetworkSpec
from tests.cost.helpers import HEAVY, assert_matches_module, meta_model
from tests.spec.strategies import ONE_OF_EACH, networks

ENTRIES = zoo.entries()
FAST = [e for e in ENTRIES if e.name not in HEAVY]
SLOW = [e for e in ENTRIES if e.name in HEAVY]


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
    assert [s.label for s in cost.stages] == ["stem[0]", *(f"stages[{i}]" for i in range(len(ONE_OF_EACH) - 1)),
                                              "head"]
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
