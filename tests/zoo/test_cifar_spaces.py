"""The search spaces for 32x32 colour images (``search_spaces/cifar_*.yaml``) around the zoo's
``efficientnet_cifar``: they load, draw valid networks for 3x32x32 inputs that build and run, and a
good share of random draws fits 2xFLOPS of the reference (the rest are rejected without training).

They live beside the zoo tests because their contract is with the zoo base; the generic space
contract in tests/search runs over them too."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import torch

from nas_scaling import zoo
from nas_scaling.cost import count_cost, parse_budget
from nas_scaling.models import build_model
from nas_scaling.search.space import cheapest, load_space, resolve_resolution
from nas_scaling.spec import spec_from_dict, spec_to_dict

ROOT = Path(__file__).resolve().parents[2] / "search_spaces"
NAMES = ["cifar_mbconv", "cifar_fire", "cifar_dense", "cifar_inception", "cifar_mixed"]
# Share of 400 random draws (seed 0) under 2xFLOPS, as measured for search_spaces/README.md.
SHARES = {"cifar_mbconv": 0.795, "cifar_fire": 0.8125, "cifar_dense": 0.75, "cifar_inception": 0.76,
          "cifar_mixed": 0.7175}

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _space(name: str):  # type: ignore[no-untyped-def]
    space = load_space(ROOT / f"{name}.yaml")
    return resolve_resolution(space, zoo.get_spec(space.reference))


def _draws(space, n: int, seed: int = 0):  # type: ignore[no-untyped-def]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    for _ in range(n):
        trial = study.ask()
        yield space.sample(trial, num_classes=10, in_channels=3)
        study.tell(trial, 0.0)


def test_every_cifar_space_is_shipped() -> None:
    assert {p.stem for p in ROOT.glob("cifar_*.yaml")} == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_draws_build_for_colour_32px_inputs_under_the_budget(name: str) -> None:
    space = _space(name)
    assert space.name == name and space.reference == "efficientnet_cifar"
    budget = parse_budget("2xFLOPS").resolve(count_cost(zoo.get_spec(space.reference)))
    built = 0
    for spec in _draws(space, 20, seed=1):
        assert spec.in_channels == 3 and spec.resolution in (32, 36, 40)
        assert spec_from_dict(spec_to_dict(spec)) == spec
        if built < 2 and budget.check(count_cost(spec)).fits:
            model = build_model(spec).eval()
            with torch.no_grad():
                out = model(torch.randn(2, 3, spec.resolution, spec.resolution))
            assert out.shape == (2, 10) and torch.isfinite(out).all()
            built += 1
    assert built == 2


@pytest.mark.parametrize("name", NAMES)
def test_share_of_random_draws_under_2x_flops(name: str) -> None:
    space = _space(name)
    budget = parse_budget("2xFLOPS").resolve(count_cost(zoo.get_spec(space.reference)))
    fits = [budget.check(count_cost(spec)).fits for spec in _draws(space, 400)]
    assert sum(fits) / len(fits) == pytest.approx(SHARES[name], abs=1e-9)
    low, ratio = cheapest(space, lambda s: budget.check(count_cost(s)).ratio, num_classes=10, in_channels=3,
                          default_resolution=32)
    assert ratio < 0.25  # room below the budget: the space is not only networks near it
    assert low.in_channels == 3
