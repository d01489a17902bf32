"""Search-space files: distributions, validation, and the contract every shipped space keeps."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import optuna
import pytest

from nas_scaling import zoo
from nas_scaling.cost import count_cost
from nas_scaling.errors import UserError
from nas_scaling.models import build_model, example_input
from nas_scaling.search.distributions import Dist, parse_dist
from nas_scaling.search.space import KIND_SETTINGS, cheapest, load_space, resolve_resolution, space_from_dict
from nas_scaling.spec import DenseBlock, Fire, Inception, Pool, Transition, spec_from_dict, spec_to_dict

SPACES = sorted(Path(__file__).resolve().parents[2].joinpath("search_spaces").glob("*.yaml"))
REFERENCE = dataclasses.replace(zoo.get_spec("efficientnet_tiny"), num_classes=10, in_channels=1)

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _draw(space, n: int, seed: int = 0):  # type: ignore[no-untyped-def]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    out = []
    for _ in range(n):
        trial = study.ask()
        out.append((trial.params, space.sample(trial, num_classes=10, in_channels=1)))
        study.tell(trial, 0.0)
    return out


# --- distributions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "kind", "values"),
    [
        (3, "fixed", [3]),
        ("silu", "fixed", ["silu"]),
        ([3, 5], "categorical", [3, 5]),
        ([7], "fixed", [7]),
        ({"low": 1, "high": 3}, "int", [1, 2, 3]),
        ({"type": "int", "low": 8, "high": 32, "step": 8}, "int", [8, 16, 24, 32]),
        ({"low": 0.5, "high": 1.0, "step": 0.25}, "float", [0.5, 0.75, 1.0]),
        ({"type": "float", "low": 0.1, "high": 1.0, "log": True}, "float", None),
        ({"type": "categorical", "choices": ["none", "simple"]}, "categorical", ["none", "simple"]),
    ],
)
def test_parse_dist_forms(raw: object, kind: str, values: list | None) -> None:
    dist = parse_dist(raw, "x")
    assert dist.kind == kind
    assert dist.values() == values


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"low": 3, "high": 1}, "x: low must be <= high, got low=3 high=1"),
        ({"type": "int", "low": 1.5, "high": 3}, "x.low must be an integer, got 1.5"),
        ({"type": "uniform", "low": 0, "high": 1}, "x: type must be one of int, float, categorical, got 'uniform'"),
        ({"low": 1}, "x: a distribution needs 'choices' or 'low' and 'high'"),
        ({"low": 0.0, "high": 1.0, "step": 0.3}, "x: high - low must be a multiple of step"),
        ({"type": "float", "low": 0.0, "high": 1.0, "log": True}, "x: a log distribution needs low > 0, got 0.0"),
        ({"low": 1, "high": 8, "bins": 3}, "x: unknown distribution field 'bins'"),
        ([], "x: choices must not be empty"),
        ([1, 1], "x: choices must be distinct"),
        ([[1, 2]], "x: a choice must be a number, a string, true/false or null, got [1, 2]"),
    ],
)
def test_parse_dist_errors_name_the_field_and_value(raw: object, message: str) -> None:
    with pytest.raises(UserError) as err:
        parse_dist(raw, "x")
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_dist_suggests_through_optuna_with_its_name() -> None:
    trial = optuna.create_study().ask()
    assert Dist("fixed", value=4).suggest(trial, "a") == 4
    assert parse_dist({"low": 1, "high": 3}, "b").suggest(trial, "b") in (1, 2, 3)
    assert parse_dist([3, 5], "c").suggest(trial, "c") in (3, 5)
    assert set(trial.params) == {"b", "c"}  # fixed values are not parameters


# --- the shipped spaces ----------------------------------------------------------------------------


def test_the_issue_names_are_shipped() -> None:
    assert {p.stem for p in SPACES} >= {"mbconv", "fire", "dense", "inception", "mixed"}


@pytest.mark.parametrize("path", SPACES, ids=[p.stem for p in SPACES])
def test_contract_every_space_samples_valid_buildable_specs(path: Path) -> None:
    import torch

    space = resolve_resolution(load_space(path), REFERENCE)
    assert zoo.get_spec(space.reference) is not None
    kinds_seen = set()
    for i, (params, spec) in enumerate(_draw(space, 25, seed=1)):
        assert spec_from_dict(spec_to_dict(spec)) == spec  # a valid spec of the language
        cost = count_cost(spec)  # shapes never collapse
        assert cost.macs > 0
        kinds_seen |= {s.block.kind for s in spec.stages}
        assert all(v == params[k] for k, v in params.items())
        if i < 3:  # builds and runs (a few per space keeps this test fast)
            model = build_model(spec).eval()
            with torch.no_grad():
                out = model(example_input(spec))
            assert out.shape == (1, 10)
    if path.stem == "mixed":
        assert {"mbconv", "fire", "dense", "inception"} <= kinds_seen


@pytest.mark.parametrize("path", SPACES, ids=[p.stem for p in SPACES])
def test_every_space_has_networks_under_twice_its_reference(path: Path) -> None:
    space = load_space(path)
    reference = count_cost(REFERENCE)
    spec, ratio = cheapest(resolve_resolution(space, REFERENCE), lambda s: count_cost(s).macs / (2 * reference.macs),
                           num_classes=10, in_channels=1, default_resolution=16)
    assert ratio < 1.0
    assert ratio == count_cost(spec).macs / (2 * reference.macs)


def test_cheapest_is_no_more_than_any_draw() -> None:
    space = resolve_resolution(load_space(next(p for p in SPACES if p.stem == "mixed")), REFERENCE)
    low, _ = cheapest(space, lambda s: float(count_cost(s).macs), num_classes=10, in_channels=1, default_resolution=16)
    floor = count_cost(low).macs
    assert all(count_cost(spec).macs >= floor for _, spec in _draw(space, 60, seed=3))


# --- channel bookkeeping and downsampling -----------------------------------------------------------------


def _one_stage(kind: str, stride: int, **settings: object):  # type: ignore[no-untyped-def]
    raw = {"reference": "efficientnet_tiny", "resolution": 16, "stem": {"channels": 16},
           "stages": [{"kind": kind, "stride": stride, kind: settings}]}
    space = space_from_dict(raw)
    return space.sample(optuna.create_study().ask(), num_classes=10, in_channels=1)


def test_fire_splits_channels_by_pct3x3_and_squeeze_ratio_and_pools_to_downsample() -> None:
    spec = _one_stage("fire", 2, channels=64, squeeze_ratio=0.25, pct3x3=0.75)
    pool, fire = spec.stages
    assert isinstance(pool.block, Pool) and pool.stride == 2
    assert isinstance(fire.block, Fire)
    assert (fire.block.squeeze, fire.block.expand1x1, fire.block.expand3x3) == (16, 16, 48)


def test_dense_downsamples_with_a_transition_of_its_compression() -> None:
    spec = _one_stage("dense", 2, layers=3, growth=12, compression=0.5)
    transition, dense = spec.stages
    assert isinstance(transition.block, Transition) and transition.block.compression == 0.5
    assert transition.stride == 2
    assert isinstance(dense.block, DenseBlock) and (dense.block.layers, dense.block.growth) == (3, 12)
    assert count_cost(spec).stages  # the classifier sees 8 + 3 * 12 channels
    assert _one_stage("dense", 1, layers=2).stages[0].block == DenseBlock(2, 12)


def test_inception_branch_split() -> None:
    spec = _one_stage("inception", 1, channels=64, pct1x1=0.25, pct3x3=0.5, pct5x5=0.125, reduce=0.5, kernel5=3)
    [stage] = spec.stages
    assert stage.block == Inception(16, 16, 32, 4, 8, 8, kernel5=3)
    assert stage.block.channels == 64


def test_width_and_depth_multipliers_round_like_compound_scaling() -> None:
    raw = {"reference": "efficientnet_tiny", "resolution": 16, "width": 1.5, "depth": 1.5,
           "stages": [{"kind": "mbconv", "repeats": 3, "mbconv": {"channels": 24}}]}
    spec = space_from_dict(raw).sample(optuna.create_study().ask(), num_classes=10, in_channels=1)
    assert spec.stem[0].block.channels == 48  # 32 * 1.5
    assert spec.stages[0].block.channels == 40  # make_divisible(36, 8)
    assert spec.stages[0].repeats == 5  # ceil(3 * 1.5)


# --- validation of space files ---------------------------------------------------------------------


def _good() -> dict:
    return {"reference": "efficientnet_tiny", "stages": [{"kinds": ["mbconv", "fire"], "repeats": {"low": 1,
                                                                                                   "high": 2}}]}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.pop("reference"), "reference: a space must name the network"),
        (lambda r: r.update(stages=[]), "stages must be a non-empty list"),
        (lambda r: r.update(colour="red"), "colour: unknown key"),
        (lambda r: r["stages"][0].update(kinds=["mbconv", "capsule"]),
         "stages[0].kinds: block kind must be one of conv, dwsep, mbconv"),
        (lambda r: r["stages"][0].update(stride=3), "stages[0].stride must be 1 or 2, got 3"),
        (lambda r: r["stages"][0].update(repeats={"low": 0, "high": 2}),
         "stages[0].repeats: must be a positive integer, got 0"),
        (lambda r: r["stages"][0].update(mbconv={"kernel": [3, 4]}), "stages[0].mbconv.kernel: kernel must be one of"),
        (lambda r: r["stages"][0].update(mbconv={"expansion": 6}), "stages[0].mbconv.expansion: unknown key"),
        (lambda r: r["stages"][0].update(dense={"layers": 2}), "stages[0].dense: settings for a block kind"),
        (lambda r: r["stages"][0].update(fire={"squeeze_ratio": [0.25, 1.5]}),
         "stages[0].fire.squeeze_ratio: must be a number in (0, 1], got 1.5"),
        (lambda r: r["stages"][0].update(fire={"bypass": ["none", "sideways"]}),
         "stages[0].fire.bypass: bypass must be one of none, simple, complex, got 'sideways'"),
        (lambda r: r.update(width={"low": 0.0, "high": 1.0, "step": 0.5}), "width: must be a positive number, got 0.0"),
        (lambda r: r.update(head={"dropout": 1.0}), "head.dropout: must be a number in [0, 1), got 1.0"),
        (lambda r: r.update(stem={"stride": [1, 3]}), "stem.stride: must be 1 or 2, got 3"),
        (lambda r: r.update(blocks={"fire": {"pct3x3": 1.0}}), "stages[0].fire.pct3x3: must be a number in (0, 1)"),
        (lambda r: r["stages"][0].update(kinds=["inception"], inception={"pct1x1": 0.5, "pct3x3": 0.5}),
         "stages[0].inception: pct1x1 + pct3x3 + pct5x5 must stay below 1"),
    ],
)
def test_space_errors_are_one_line_naming_the_field(change, message: str) -> None:  # type: ignore[no-untyped-def]
    raw = _good()
    change(raw)
    with pytest.raises(UserError) as err:
        space_from_dict(raw)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_load_space_file_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        load_space(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages: [\n")
    with pytest.raises(UserError, match="is not valid YAML"):
        load_space(bad)
    unsafe = tmp_path / "unsafe.yaml"
    unsafe.write_text("reference: !!python/object/apply:os.system ['true']\nstages: [{kind: mbconv}]\n")
    with pytest.raises(UserError, match="is not valid YAML"):
        load_space(unsafe)


def test_grid_needs_a_finite_space() -> None:
    raw = _good()
    raw["width"] = {"type": "float", "low": 0.5, "high": 1.0}
    with pytest.raises(UserError, match="sampler 'grid' needs a finite space, but width is a continuous range"):
        space_from_dict(raw).grid()
    finite = space_from_dict(_good())
    grid = finite.grid()
    assert grid["s0.kind"] == ["mbconv", "fire"] and grid["s0.repeats"] == [1, 2]
    assert all(name.startswith(("s0.", "stem.", "head.", "resolution", "width", "depth")) for name in grid)


def test_size_counts_conditional_settings() -> None:
    raw = {"reference": "efficientnet_tiny", "stages": [{"kinds": ["conv", "dwsep"], "conv": {"kernel": [3, 5]}}]}
    assert space_from_dict(raw).size() == 3  # conv k3, conv k5, dwsep


def test_every_kind_has_settings_and_builds_with_its_defaults() -> None:
    for kind in KIND_SETTINGS:
        spec = _one_stage(kind, 2)
        assert count_cost(spec).macs > 0
