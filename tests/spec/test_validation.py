from __future__ import annotations

import pytest

from nas_scaling.errors import SpecError
from nas_scaling.spec import (
    ConvBlock,
    Fire,
    Head,
    MBConv,
    NetworkSpec,
    Pool,
    Stage,
    block_shapes,
    spec_from_dict,
    spec_from_yaml,
    spec_to_dict,
    stage_from_compact,
)

TINY = NetworkSpec(
    name="tiny",
    stem=(Stage(ConvBlock(8), stride=2),),
    stages=(Stage(MBConv(16, expand=4), repeats=2, stride=2), Stage(Pool(), stride=2)),
    head=Head(),
    resolution=32,
    num_classes=10,
)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: MBConv(16, kernel=4), "kernel must be one of 3, 5, 7, got 4"),
        (lambda: MBConv(-3), "channels must be a positive integer, got -3"),
        (lambda: MBConv(16, se=1.5), "se must be a number in [0, 1], got 1.5"),
        (lambda: MBConv(16, act="swish"), "act must be one of"),
        (lambda: Fire(16, 64, 64, bypass="weird"), "bypass must be one of none, simple, complex"),
        (lambda: Stage(MBConv(16), stride=3), "stride of a mbconv stage must be one of 1, 2, got 3"),
        (lambda: Stage(Fire(16, 64, 64), stride=2), "stride of a fire stage must be one of 1, got 2"),
        (lambda: Stage(MBConv(16), repeats=0), "repeats must be a positive integer, got 0"),
        (lambda: Head(dropout=1.0), "head.dropout must be a number in [0, 1)"),
        (lambda: Head(classifier="conv", hidden=(10,)), "head.hidden must be empty"),
    ],
)
def test_invalid_specs_are_refused_with_the_value(make, message: str) -> None:
    with pytest.raises(SpecError) as info:
        make()
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def _data() -> dict:
    return spec_to_dict(TINY)


def test_unknown_block_kind_names_the_stage() -> None:
    data = _data()
    data["stages"][1]["kind"] = "capsule"
    with pytest.raises(SpecError, match=r"stages\[1\]\.kind must be one of conv, .*got 'capsule'"):
        spec_from_dict(data)


def test_negative_channels_names_the_stage() -> None:
    data = _data()
    data["stages"][0]["channels"] = -4
    with pytest.raises(SpecError, match=r"stages\[0\]: channels must be a positive integer, got -4"):
        spec_from_dict(data)


def test_missing_field_is_named() -> None:
    data = _data()
    del data["stages"][0]["channels"]
    with pytest.raises(SpecError, match=r"stages\[0\]: missing field 'channels'"):
        spec_from_dict(data)


def test_unknown_field_is_named() -> None:
    data = _data()
    data["stem"][0]["colour"] = "blue"
    with pytest.raises(SpecError, match=r"stem\[0\]: unknown field 'colour'"):
        spec_from_dict(data)


def test_wrong_type_is_named() -> None:
    data = _data()
    data["stem"][0]["norm"] = "yes"
    with pytest.raises(SpecError, match=r"stem\[0\]\.norm must be true or false, got 'yes'"):
        spec_from_dict(data)


def test_yaml_syntax_error_is_one_line() -> None:
    with pytest.raises(SpecError, match="not valid YAML") as info:
        spec_from_yaml("name: x\nstages: [ {kind: conv\n")
    assert "\n" not in str(info.value)


def test_resolution_collapse_names_the_stage() -> None:
    with pytest.raises(SpecError, match=r"resolution 4 is too small for tiny: .* at stages\[1\] \(pool_r1_s2_max_k3"):
        block_shapes(TINY, 4)


def test_shapes_follow_strides() -> None:
    shapes = block_shapes(TINY)
    assert [(s.out_channels, s.out_size) for s in shapes] == [(8, 16), (16, 8), (16, 8), (16, 3)]


def test_bad_compact_strings() -> None:
    with pytest.raises(SpecError, match="must start with one of"):
        stage_from_compact("capsule_r1")
    with pytest.raises(SpecError, match="unknown key 'z'"):
        stage_from_compact("mbconv_r1_s1_c16_z4")
