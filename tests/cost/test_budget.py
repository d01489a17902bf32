"""Budget parsing, resolution against a base, and checks."""

from __future__ import annotations

import pytest

from nas_scaling.cost import Budget, BudgetTerm, count_cost, parse_budget
from nas_scaling.errors import UserError
from nas_scaling.spec import ConvBlock, Head, NetworkSpec, Stage

M, G = 10**6, 10**9


@pytest.mark.parametrize(
    ("text", "terms", "canonical"),
    [
        ("2xFLOPS", [("macs", 2.0, True)], "2xFLOPS"),
        ("600MFLOPS", [("macs", 600 * M, False)], "600MFLOPS"),
        ("1.2GFLOPS", [("macs", 1.2 * G, False)], "1.2GFLOPS"),
        ("5Mparams", [("params", 5 * M, False)], "5Mparams"),
        ("2xparams", [("params", 2.0, True)], "2xparams"),
        ("2xFLOPS,8Mparams", [("macs", 2.0, True), ("params", 8 * M, False)], "2xFLOPS,8Mparams"),
        (" 1.5x FLOPs , 0.5xparams ", [("macs", 1.5, True), ("params", 0.5, True)], "1.5xFLOPS,0.5xparams"),
        ("300kFLOPS", [("macs", 300e3, False)], "300kFLOPS"),
        ("250Kparams", [("params", 250e3, False)], "250Kparams"),
        ("1Gparams", [("params", 1 * G, False)], "1Gparams"),
        ("0.6gflops", [("macs", 600 * M, False)], "600MFLOPS"),
        ("600mmacs", [("macs", 600 * M, False)], "600MFLOPS"),
        ("5e8FLOPS", [("macs", 500 * M, False)], "500MFLOPS"),
        ("12345params", [("params", 12345.0, False)], "12.345Kparams"),
        ("500FLOPS", [("macs", 500.0, False)], "500FLOPS"),
    ],
)
def test_good_budgets(text: str, terms: list[tuple[str, float, bool]], canonical: str) -> None:
    budget = parse_budget(text)
    assert budget == Budget(tuple(BudgetTerm(*t) for t in terms))
    assert str(budget) == canonical
    assert parse_budget(str(budget)) == budget
    assert budget.relative == any(t[2] for t in terms)


FORMS = "'2xFLOPS', '600MFLOPS', '1.2GFLOPS', '5Mparams', '2xparams' or a comma-list of them"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2x", f"budget must look like {FORMS}, got '2x'"),
        ("-1MFLOPS", f"budget must look like {FORMS}, got '-1MFLOPS'"),
        ("2xFOO", f"budget must look like {FORMS}, got '2xFOO'"),
        ("", f"budget must look like {FORMS}, got ''"),
        ("   ", f"budget must look like {FORMS}, got '   '"),
        ("2xFLOPS,", f"budget must look like {FORMS}, got '2xFLOPS,'"),
        ("nanFLOPS", f"budget must look like {FORMS}, got 'nanFLOPS'"),
        ("infxFLOPS", f"budget must look like {FORMS}, got 'infxFLOPS'"),
        ("2xMFLOPS", f"budget must look like {FORMS}, got '2xMFLOPS'"),
        ("600MB", f"budget must look like {FORMS}, got '600MB'"),
        ("0MFLOPS", "budget terms must be positive and finite, got '0MFLOPS' in '0MFLOPS'"),
        ("0xparams", "budget terms must be positive and finite, got '0xparams' in '0xparams'"),
        ("1e999FLOPS", "budget terms must be positive and finite, got '1e999FLOPS' in '1e999FLOPS'"),
        ("2xFLOPS,600MFLOPS", "budget limits FLOPS more than once, got '2xFLOPS,600MFLOPS'; give each at most once"),
    ],
)
def test_bad_budgets(text: str, message: str) -> None:
    with pytest.raises(UserError) as info:
        parse_budget(text)
    assert str(info.value) == message
    assert "\n" not in str(info.value)


TINY = NetworkSpec("tiny", stem=(Stage(ConvBlock(4, kernel=3), stride=2),), stages=(), head=Head(), resolution=8,
                   num_classes=10)
# conv 3->4 k3 at 4x4: 108 weights + 8 BN = 116 params, 108*16 = 1728 MACs; linear 4->10: 50 params, 40 MACs.
TINY_PARAMS, TINY_MACS = 166, 1768


def test_tiny_cost_by_hand() -> None:
    cost = count_cost(TINY)
    assert (cost.params, cost.macs) == (TINY_PARAMS, TINY_MACS)


def test_check_absolute_and_relative() -> None:
    cost = count_cost(TINY)
    fits = parse_budget("2kFLOPS,200params").resolve().check(cost)
    assert fits.fits and fits.macs_ratio == TINY_MACS / 2000 and fits.params_ratio == TINY_PARAMS / 200
    assert fits.ratio == max(TINY_MACS / 2000, TINY_PARAMS / 200)
    over = parse_budget("1kFLOPS").resolve(None).check(cost)
    assert not over.fits and over.ratio == TINY_MACS / 1000 and over.params_ratio is None
    exact = parse_budget("1xFLOPS,1xparams").resolve(cost)
    assert (exact.max_macs, exact.max_params) == (TINY_MACS, TINY_PARAMS)
    assert exact.check(cost).fits and exact.check(cost).ratio == 1.0
    half = parse_budget("0.5xparams").resolve(cost)
    assert half.max_macs is None and half.max_params == TINY_PARAMS / 2
    assert not half.check(cost).fits and half.check(cost).ratio == 2.0


def test_relative_without_base_is_a_user_error() -> None:
    budget = parse_budget("2xFLOPS,8Mparams")
    assert budget.relative
    with pytest.raises(UserError, match=r"budget '2xFLOPS,8Mparams' is relative \(2x...\) and needs a base network"):
        budget.resolve(None)
    assert not parse_budget("8Mparams").relative
    assert parse_budget("8Mparams").resolve().max_params == 8e6
