from __future__ import annotations

from hypothesis import given, settings

from nas_scaling.spec import (
    NetworkSpec,
    Stage,
    spec_from_dict,
    spec_from_json,
    spec_from_yaml,
    spec_to_dict,
    spec_to_json,
    spec_to_yaml,
    stage_from_compact,
    stage_to_compact,
)
from nas_scaling.zoo import entries
from tests.spec.strategies import networks, stages


@settings(max_examples=200, deadline=None)
@given(networks)
def test_yaml_round_trip_is_exact(spec: NetworkSpec) -> None:
    assert spec_from_yaml(spec_to_yaml(spec)) == spec


@settings(max_examples=200, deadline=None)
@given(networks)
def test_json_round_trip_is_exact(spec: NetworkSpec) -> None:
    text = spec_to_json(spec)
    assert spec_from_json(text) == spec
    assert spec_to_json(spec_from_json(text)) == text


@settings(max_examples=100, deadline=None)
@given(networks)
def test_dict_round_trip_is_exact(spec: NetworkSpec) -> None:
    assert spec_from_dict(spec_to_dict(spec)) == spec


@settings(max_examples=300, deadline=None)
@given(stages())
def test_compact_stage_round_trip(stage: Stage) -> None:
    text = stage_to_compact(stage)
    assert " " not in text
    assert stage_from_compact(text) == stage


def test_every_zoo_entry_round_trips() -> None:
    for entry in entries():
        for small in (False, True):
            spec = entry.spec(small=small)
            assert spec_from_yaml(spec_to_yaml(spec)) == spec
            assert spec_from_json(spec_to_json(spec)) == spec
            for stage in spec.all_stages:
                assert stage_from_compact(stage_to_compact(stage)) == stage


def test_compact_form_reads_like_timm() -> None:
    from nas_scaling.spec import MBConv

    stage = Stage(MBConv(24, expand=6, kernel=3, se=0.25), repeats=2, stride=2)
    assert stage_to_compact(stage) == "mbconv_r2_s2_c24_e6_k3_se0.25_silu_sk1"


@settings(max_examples=200, deadline=None)
@given(networks, networks)
def test_compact_network_line_tells_different_specs_apart(a: NetworkSpec, b: NetworkSpec) -> None:
    """The line is the identity search uses to skip re-training: equal lines mean equal specs (name aside)."""
    from dataclasses import replace

    from nas_scaling.spec import network_to_compact

    same_name = replace(b, name=a.name)
    assert (network_to_compact(a) == network_to_compact(b)) == (a == same_name)


def test_compact_network_line_shows_the_head() -> None:
    from dataclasses import replace

    from nas_scaling.spec import Head, network_to_compact
    from nas_scaling.zoo import get_spec

    spec = get_spec("efficientnet_tiny")
    line = network_to_compact(spec)
    assert line.endswith("| head_c320_n0_silu_avg1_h0_d0.2_linear @16x1 ->10 sd0")
    assert network_to_compact(replace(spec, head=Head(conv=160, act="silu", dropout=0.2))) != line
