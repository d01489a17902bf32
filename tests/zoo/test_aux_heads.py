"""Auxiliary classifiers (training only): GoogLeNet's two and Inception v3's one against torchvision's
``aux_logits=True`` models, the spec field, the cost split and the training loss."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from nas_scaling import zoo
from nas_scaling.cli.main import main
from nas_scaling.cost import count_cost
from nas_scaling.errors import SpecError
from nas_scaling.models import build_model, count_parameters
from nas_scaling.proxies import PROXIES
from nas_scaling.spec import (
    AuxHead,
    ConvBlock,
    NetworkSpec,
    Pool,
    Stage,
    network_to_compact,
    spec_from_json,
    spec_to_dict,
    spec_to_json,
)
from nas_scaling.training import AUX_WEIGHT, training_loss

# name, torchvision model, params with aux heads, without, aux loss weight, input side for outputs
CASES = [
    ("googlenet_aux", "googlenet", 13_004_888, 6_624_904, 0.3, 64),
    ("inception_v3_aux", "inception_v3", 27_161_264, 23_834_568, 0.4, 299),
]


def _twin(name: str) -> nn.Module:
    return getattr(torchvision.models, name)(weights=None, aux_logits=True, init_weights=False)


def _copy_aux_last(source: nn.Module, target: nn.Module) -> None:
    """torchvision's state in definition order, its aux heads moved after the classifier (where ours are)."""
    state = source.state_dict()
    aux = [k for k in state if k.startswith(("aux", "AuxLogits"))]
    values = [v for k, v in state.items() if k not in aux] + [state[k] for k in aux]
    dst = target.state_dict()
    assert [t.shape for t in dst.values()] == [v.shape for v in values]
    target.load_state_dict(dict(zip(dst, values, strict=True)))


@pytest.mark.parametrize(("name", "tv", "params", "eval_params", "weight", "side"), CASES, ids=[c[0] for c in CASES])
def test_counts_match_torchvision_with_aux_logits(
    name: str, tv: str, params: int, eval_params: int, weight: float, side: int
) -> None:
    spec = zoo.get_spec(name)
    base = zoo.get_spec(tv)
    assert dataclasses.replace(spec, name=tv, aux=()) == base  # the same network plus its aux heads
    cost = count_cost(spec)
    assert (cost.params, cost.aux_params) == (params, params - eval_params)
    assert cost.macs == count_cost(base).macs  # MACs are eval-time
    assert count_cost(base).params == eval_params
    with torch.device("meta"):
        assert count_parameters(build_model(spec)) == count_parameters(_twin(tv)) == params
    assert {a.weight for a in spec.aux} == {weight}
    assert zoo.get_entry(name).torchvision_kwargs == (("aux_logits", True), ("init_weights", False))


def _train_macs(model: nn.Module, side: int) -> int:
    model.train()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.empty(2, 3, side, side, device="meta"))
    return counter.get_total_flops() // 4  # two images, multiply-adds


@pytest.mark.parametrize("name", ["googlenet_aux", "inception_v3_aux"])
def test_aux_macs_are_what_training_adds(name: str) -> None:
    spec = zoo.get_spec(name)
    with torch.device("meta"):
        model = build_model(spec)
    cost = count_cost(spec)
    assert _train_macs(model, spec.resolution) == cost.macs + cost.aux_macs


@pytest.mark.parametrize(("name", "tv", "params", "eval_params", "weight", "side"), CASES, ids=[c[0] for c in CASES])
def test_training_outputs_match_torchvision(
    name: str, tv: str, params: int, eval_params: int, weight: float, side: int
) -> None:
    """With torchvision's weights and dropout off: the same logits and aux logits in training mode
    (torchvision returns GoogLeNet's as (logits, aux2, aux1)), the same logits alone in eval mode."""
    torch.manual_seed(0)
    ours, twin = build_model(zoo.get_spec(name)), _twin(tv)
    _copy_aux_last(twin, ours)
    if tv == "googlenet":  # our GoogLeNet stem keeps torch's default eps (zoo/googlenet.py says why)
        for conv in (twin.conv1, twin.conv2, twin.conv3):
            conv.bn.eps = 1e-5
    for m in [*ours.modules(), *twin.modules()]:
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    x = torch.randn(2, 3, side, side)
    with torch.no_grad():
        got, want = ours.train()(x), twin.train()(x)
        expected = (want.logits, want.aux_logits1, want.aux_logits2) if tv == "googlenet" else tuple(want)
        assert isinstance(got, tuple) and len(got) == len(expected)
        for a, b in zip(got, expected, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
        out = ours.eval()(x)
        assert isinstance(out, torch.Tensor)
        torch.testing.assert_close(out, twin.eval()(x), rtol=1e-4, atol=1e-5)


def _tiny(aux: tuple[AuxHead, ...] = (AuxHead(after=0, pool=2, conv=4, hidden=(8,), dropout=0.5),)) -> NetworkSpec:
    stages = (Stage(ConvBlock(8)), Stage(Pool("max", kernel=2), stride=2), Stage(ConvBlock(16)))
    return NetworkSpec("tiny", stem=(), stages=stages, resolution=8, num_classes=3, aux=aux)


def test_spec_field_round_trips_and_is_absent_when_empty() -> None:
    spec = _tiny((AuxHead(after=0, pool=2, conv=4, hidden=(8,), dropout=0.5),
                  AuxHead(after=2, pool_kernel=3, pool_stride=2, conv=4, conv2=6, conv2_kernel=1, weight=0.4)))
    assert spec_from_json(spec_to_json(spec)) == spec
    assert "aux" not in spec_to_dict(_tiny(()))
    line = network_to_compact(spec)
    assert "aux_at0_p2_c4_h8_d0.5_w0.3 aux_at2_pk3x2_c4_cc6x1_h0_d0_w0.4 @8x3" in line
    with pytest.raises(SpecError, match=r"aux\.after must name one of the 3 body stages"):
        _tiny((AuxHead(after=3),))
    with pytest.raises(SpecError, match=r"aux\[0\]: unknown field"):
        spec_from_json(spec_to_json(spec).replace('"pool_stride"', '"stride"', 1))
    with pytest.raises(SpecError, match="collapses"):
        count_cost(_tiny((AuxHead(after=2, pool_kernel=5),)))


def test_training_loss_adds_weighted_aux_losses_and_one_step_trains_them() -> None:
    torch.manual_seed(0)
    spec = _tiny()
    model = build_model(spec)
    assert count_parameters(model) == count_cost(spec).params
    x, y = torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 2, 0])
    criterion = nn.CrossEntropyLoss()
    out = model.train()(x)
    assert isinstance(out, tuple) and len(out) == 2
    loss = training_loss(criterion, out, y, model)
    torch.testing.assert_close(loss, criterion(out[0], y) + 0.3 * criterion(out[1], y))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before = [p.detach().clone() for p in model.aux.parameters()]
    loss.backward()
    optimizer.step()
    assert all(not torch.equal(a, p) for a, p in zip(before, model.aux.parameters(), strict=True))
    assert isinstance(model.eval()(x), torch.Tensor)
    # a model without aux_weights (torchvision's) gets the GoogLeNet paper's 0.3 per head
    plain = nn.Identity()
    logits, aux = torch.randn(4, 3), torch.randn(4, 3)
    torch.testing.assert_close(training_loss(criterion, (logits, aux), y, plain),
                               criterion(logits, y) + AUX_WEIGHT * criterion(aux, y))
    assert training_loss(criterion, logits, y, plain) == criterion(logits, y)


def test_proxies_score_the_main_logits_of_a_network_with_aux_heads() -> None:
    """Proxies run networks in train mode, where aux heads answer too: they score the logits."""
    torch.manual_seed(0)
    batch = (torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 2, 0]))
    for name, proxy in PROXIES.items():
        assert isinstance(proxy(_tiny(), batch), float), name


def test_profile_and_zoo_say_the_count_includes_the_aux_heads(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "googlenet_aux"]) == 0
    out = capsys.readouterr().out
    assert "params: 13,004,888" in out
    assert "auxiliary classifiers (training only): 6,379,984 of the params (6,624,904 without them" in out
    assert main(["zoo", "--format", "json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["googlenet_aux"]["aux_params"] == 6_379_984 and rows["googlenet_aux"]["params"] == 13_004_888
    assert rows["inception_v3_aux"]["aux_params"] == 3_326_696
    assert "aux_params" not in rows["googlenet"] and rows["googlenet"]["params"] == 6_624_904
