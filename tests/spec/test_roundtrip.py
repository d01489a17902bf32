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
