"""The block-kind contract: every kind of ``BLOCK_TYPES`` through every table and method.

A kind is a frozen dataclass in ``spec/blocks.py`` that says what it produces, how it scales and how
it is written in the compact form; its module (``models.MODULES``) and its cost
(``cost.BLOCK_COSTS``) are the two tables kept elsewhere. Each stage of ``ONE_OF_EACH`` (one per
kind and variant) goes through all of them here, as do its width- and depth-scaled forms.
"""

from __future__ import annotations

import dataclasses
from typing import get_args

import pytest
import torch
from torchvision.ops import StochasticDepth

from nas_scaling.cost import BLOCK_COSTS, count_cost
from nas_scaling.models import MODULES, build_model
from nas_scaling.scaling import scale_block_width, scale_stage_depth
from nas_scaling.spec import (
    BLOCK_TYPES,
    Block,
    ConvBlock,
    NetworkSpec,
    Stage,
    block_shapes,
    spec_from_json,
    spec_to_dict,
    spec_to_json,
    stage_from_compact,
    stage_to_compact,
)
from tests.cost.helpers import assert_matches_module
from tests.spec.strategies import ONE_OF_EACH

KINDS = set(BLOCK_TYPES.values())
IN_CHANNELS = 64
RESOLUTION = 17  # odd, so that floor and ceil of every stride-2 size differ


def _network(stage: Stage) -> NetworkSpec:
    """``stage`` after a 64-channel conv stage; both are body stages, so the stage under test gets a
    non-zero stochastic-depth rate from its first repeat."""
    first = Stage(ConvBlock(IN_CHANNELS))
    return NetworkSpec(stage.block.kind, stem=(), stages=(first, stage), resolution=RESOLUTION, num_classes=5,
                       stochastic_depth=0.5)


def _variants(stage: Stage) -> list[Stage]:
    """The stage as given, at each stride its kind allows, narrowed, widened and deepened."""
    return [
        stage,
        *(dataclasses.replace(stage, stride=s) for s in type(stage.block).strides if s != stage.stride),
        dataclasses.replace(stage, block=scale_block_width(stage.block, 0.5)),
        dataclasses.replace(stage, block=scale_block_width(stage.block, 1.6)),
        scale_stage_depth(stage, 2.0),
    ]


def _ids(stage: Stage) -> str:
    return stage_to_compact(stage)


def test_every_kind_is_in_every_table() -> None:
    assert set(get_args(Block)) == KINDS
    assert all(name == cls.kind for name, cls in BLOCK_TYPES.items())
    assert set(MODULES) == KINDS
    assert set(BLOCK_COSTS) == KINDS
    assert {type(s.block) for s in ONE_OF_EACH} == KINDS


@pytest.mark.parametrize("cls", sorted(KINDS, key=lambda c: c.kind), ids=lambda c: c.kind)
def test_compact_keys_name_every_field_once(cls: type[Block]) -> None:
    fields = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    keys = cls.compact_keys
    assert set(keys) == set(fields)
    keyed = [key for key in keys.values() if key]
    assert len(set(keyed)) == len(keyed), f"{cls.kind}: two fields share a compact key"
    assert len(set(cls.compact_words)) == len(cls.compact_words), f"{cls.kind}: a word of two string fields"
    assert not {"r", "s"} & set(keys.values()), "r and s are the stage's repeats and stride"
    words = {name for name, key in keys.items() if key == ""}
    assert words == {name for name, kind in fields.items() if kind == "str"}, "a string field is a bare word"
    assert bool(words) == bool(cls.compact_words)
    assert {cls.word_field(w) for w in cls.compact_words} == words, "every word sets one string field"
    assert set(cls.quiet) <= set(fields), "quiet names fields of the kind"
    for f in dataclasses.fields(cls):
        assert f.name not in cls.quiet or f.default is not dataclasses.MISSING, "a quiet field has a default"


@pytest.mark.parametrize("cls", sorted(KINDS, key=lambda c: c.kind), ids=lambda c: c.kind)
def test_quiet_fields_at_their_default_leave_files_and_compact_forms_as_they_were(cls: type[Block]) -> None:
    stage = next(s for s in ONE_OF_EACH if type(s.block) is cls)
    spec = _network(stage)
    stage_dict = spec_to_dict(spec)["stages"][1]
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    for name in cls.quiet:
        at_default = getattr(stage.block, name) == defaults[name]
        assert (name in stage_dict) != at_default
        quiet_default = dataclasses.replace(stage, block=dataclasses.replace(stage.block, **{name: defaults[name]}))
        assert name not in spec_to_dict(_network(quiet_default))["stages"][1]
        assert stage_from_compact(stage_to_compact(quiet_default)) == quiet_default


@pytest.mark.parametrize("stage", ONE_OF_EACH, ids=_ids)
def test_specs_round_trip_through_compact_and_json(stage: Stage) -> None:
    for variant in _variants(stage):
        assert stage_from_compact(stage_to_compact(variant)) == variant
        spec = _network(variant)
        assert spec_from_json(spec_to_json(spec)) == spec


@pytest.mark.parametrize("stage", ONE_OF_EACH, ids=_ids)
def test_predicted_shapes_and_cost_match_the_built_module(stage: Stage) -> None:
    """Each repeat's ``out_channels`` and ``out_size`` are the built module's actual output shape;
    the analytic cost (``BLOCK_COSTS``) is the module's parameters and counted MACs."""
    for variant in _variants(stage):
        spec = _network(variant)
        shapes = [s for s in block_shapes(spec) if s.stage_index == 1]
        model = build_model(spec).eval()
        with torch.no_grad():
            x = model.stages[0](torch.randn(2, spec.in_channels, RESOLUTION, RESOLUTION))
            assert len(shapes) == variant.repeats
            for module, shape in zip(model.stages[1], shapes, strict=True):
                assert shape.out_channels == shape.block.out_channels(shape.in_channels)
                assert shape.out_size == shape.block.out_size(shape.in_size, shape.stride)
                x = module(x)
                assert x.shape == (2, shape.out_channels, shape.out_size, shape.out_size), stage_to_compact(variant)
        assert_matches_module(spec)


@pytest.mark.parametrize("stage", ONE_OF_EACH, ids=_ids)
@pytest.mark.parametrize("width", [0.5, 1.6])
def test_width_scaling_gives_a_block_of_the_same_kind(stage: Stage, width: float) -> None:
    block = stage.block
    assert scale_block_width(block, 1.0) is block
    scaled = scale_block_width(block, width)
    assert type(scaled) is type(block)
    change = scaled.out_channels(IN_CHANNELS) - block.out_channels(IN_CHANNELS)
    assert change <= 0 if width < 1 else change >= 0
    # Every channel count that makes the output is scaled: exactly doubled widths on a doubled
    # input give exactly twice the output channels.
    doubled = block.scale_width(lambda c: 2 * c)
    assert doubled.out_channels(2 * IN_CHANNELS) == 2 * block.out_channels(IN_CHANNELS)


@pytest.mark.parametrize("stage", ONE_OF_EACH, ids=_ids)
def test_depth_scaling_gives_a_stage_of_the_same_kind(stage: Stage) -> None:
    assert scale_stage_depth(stage, 1.0) is stage
    deeper = scale_stage_depth(stage, 2.0)
    assert type(deeper.block) is type(stage.block)
    assert deeper.stride == stage.stride and deeper.repeats >= stage.repeats
    assert count_cost(_network(deeper)).params >= count_cost(_network(stage)).params


def _holds_stochastic_depth(module: torch.nn.Module) -> bool:
    return any(isinstance(m, StochasticDepth) for m in module.modules())


def test_stochastic_depth_reaches_exactly_the_kinds_whose_modules_use_it() -> None:
    """A kind's module that uses a drop-path rate handed to it directly is a kind that declares
    ``has_drop_path``, so the builder hands it the network's rate; no other kind gets one."""
    using, built = set(), set()
    for stage in ONE_OF_EACH:
        spec = _network(stage)
        for shape in (s for s in block_shapes(spec) if s.stage_index == 1):
            if _holds_stochastic_depth(MODULES[type(shape.block)](shape.block, shape.in_channels, shape.stride, 0.5)):
                using.add(type(stage.block))
        if _holds_stochastic_depth(build_model(spec).stages[1]):
            built.add(type(stage.block))
    assert using == {cls for cls in KINDS if cls.has_drop_path}
    assert built == using
