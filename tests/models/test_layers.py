"""Our Conv2dNormActivation, SqueezeExcitation and StochasticDepth against torchvision's: same
modules, state-dict keys, initialisation (same seed, same values) and outputs, random draws included."""

from __future__ import annotations

import subprocess
import sys
from functools import partial

import pytest
import torch
from torch import nn
from torchvision.ops import SqueezeExcitation as TvSqueezeExcitation
from torchvision.ops import StochasticDepth as TvStochasticDepth
from torchvision.ops.misc import Conv2dNormActivation as TvConv2dNormActivation

from nas_scaling.models.layers import Conv2dNormActivation, SqueezeExcitation, StochasticDepth


def _same_state(ours: nn.Module, theirs: nn.Module) -> None:
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize("norm", [True, False])
@pytest.mark.parametrize("act", [None, nn.ReLU, partial(nn.SiLU, inplace=True)])
@pytest.mark.parametrize(("kernel", "stride", "groups", "padding"), [(3, 1, 1, None), (5, 2, 8, 2), (1, 1, 1, 0)])
def test_conv_norm_activation_is_torchvisions(
    norm: bool, act: type[nn.Module] | None, kernel: int, stride: int, groups: int, padding: int | None
) -> None:
    kwargs = dict(stride=stride, padding=padding, groups=groups, norm_layer=partial(nn.BatchNorm2d, eps=1e-3)
                  if norm else None, activation_layer=act, inplace=None)
    torch.manual_seed(0)
    ours = Conv2dNormActivation(8, 8, kernel, **kwargs)
    torch.manual_seed(0)
    theirs = TvConv2dNormActivation(8, 8, kernel, **kwargs)
    assert [type(m) for m in ours] == [type(m) for m in theirs]
    assert ours.out_channels == theirs.out_channels
    _same_state(ours, theirs)
    x = torch.randn(2, 8, 9, 9)
    assert torch.equal(ours(x.clone()), theirs(x.clone()))
    assert repr(ours).split("\n", 1)[1] == repr(theirs).split("\n", 1)[1]


def test_squeeze_excitation_is_torchvisions() -> None:
    torch.manual_seed(1)
    ours = SqueezeExcitation(24, 6, activation=partial(nn.SiLU, inplace=True))
    torch.manual_seed(1)
    theirs = TvSqueezeExcitation(24, 6, activation=partial(nn.SiLU, inplace=True))
    _same_state(ours, theirs)
    assert [name for name, _ in ours.named_children()] == [name for name, _ in theirs.named_children()]
    x = torch.randn(3, 24, 5, 5)
    assert torch.equal(ours(x), theirs(x))


@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 1.0])
def test_stochastic_depth_draws_as_torchvisions(p: float) -> None:
    ours, theirs = StochasticDepth(p, "row"), TvStochasticDepth(p, "row")
    x = torch.randn(64, 4, 3, 3)
    torch.manual_seed(2)
    out_ours = ours(x)
    torch.manual_seed(2)
    out_theirs = theirs(x)
    assert torch.equal(out_ours, out_theirs)
    assert torch.equal(ours.eval()(x), x)
    assert repr(ours) == repr(theirs)


def test_bad_stochastic_depth_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="drop probability"):
        StochasticDepth(1.5)
    with pytest.raises(ValueError, match="mode"):
        StochasticDepth(0.1, "batch")


def test_building_and_training_a_network_does_not_import_torchvision() -> None:
    probe = (
        "import sys, torch; from nas_scaling.models import build_model; from nas_scaling.zoo import get_spec; "
        "from nas_scaling.training import TrainConfig, train; from nas_scaling.data import load_dataset; "
        "data = load_dataset('digits', resolution=16, in_channels=1, subset=0.1); "
        "spec = get_spec('efficientnet_tiny'); "
        "train(build_model(spec), data, TrainConfig(epochs=1)); print('torchvision' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"
