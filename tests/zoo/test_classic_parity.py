"""Classic zoo entries (LeNet, AlexNet, VGG, ResNet, MobileNet) against their published sizes:
torchvision twins in parameters, multiply-adds and outputs; the rest against the papers' figures."""

from __future__ import annotations

import math

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from nas_scaling.models import build_model, count_parameters
from nas_scaling.zoo import get_entry
from nas_scaling.zoo.lenet import lenet5
from nas_scaling.zoo.mobilenet import mobilenet_v1

TWINS = [
    "alexnet",
    "vgg11", "vgg13", "vgg16", "vgg19",
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
    "mobilenet_v2",
]
PUBLISHED = {"lenet5": 61_706, "vgg16_c": 133_638_952, "mobilenet_v1": 4_231_976}
ALL = [*TWINS, *PUBLISHED]


def macs(model: nn.Module, resolution: int, in_channels: int = 3) -> int:
    """Multiply-adds of one image in eval mode: torch's FLOP counter (convs and matmuls) halved.

    The model is moved to the meta device first (in place): the counter reads shapes only, so the
    count is the same as on the CPU without doing the arithmetic."""
    model.to("meta").eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.empty(1, in_channels, resolution, resolution, device="meta"))
    return counter.get_total_flops() // 2


def copy_weights(source: nn.Module, target: nn.Module) -> None:
    """Copy ``source``'s parameters and buffers into ``target`` in definition order."""
    src, dst = list(source.state_dict().values()), target.state_dict()
    assert len(src) == len(dst)
    for (key, theirs), ours in zip(dst.items(), src, strict=True):
        assert theirs.shape == ours.shape, key
    target.load_state_dict(dict(zip(dst, src, strict=True)))


def test_registered_with_twins_and_figures() -> None:
    for name in TWINS:
        assert get_entry(name).torchvision == name
    for name, count in PUBLISHED.items():
        entry = get_entry(name)
        assert entry.torchvision is None and entry.published_params == count
    for name in ALL:
        assert get_entry(name).small


@pytest.mark.parametrize("name", TWINS)
def test_torchvision_parity(name: str) -> None:
    """Same parameter count and MACs at 224 as torchvision, and with its weights the same outputs
    (layer for layer, so also the same ReLU / pooling / shortcut placement)."""
    torch.manual_seed(0)
    ours = build_model(get_entry(name).spec())
    twin = getattr(torchvision.models, name)(weights=None)
    assert count_parameters(ours) == count_parameters(twin)
    copy_weights(twin, ours)
    side = 64 if name == "alexnet" else 32  # the smallest input each survives: a cheap check
    x = torch.randn(2, 3, side, side)
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), twin.eval()(x), rtol=1e-4, atol=1e-5)
    assert macs(ours, 224) == macs(twin, 224)


def test_lenet5_published() -> None:
    native = lenet5()
    assert (native.in_channels, native.num_classes, native.resolution) == (1, 10, 32)
    assert count_parameters(build_model(native)) == 61_706
    via_registry = get_entry("lenet5").spec(num_classes=10, in_channels=1)
    assert count_parameters(build_model(via_registry)) == 61_706


def test_vgg16_c_published() -> None:
    model = build_model(get_entry("vgg16_c").spec())
    assert count_parameters(model) == 133_638_952
    # D minus three 3x3 -> 1x1 convs (256x256, 512x512, 512x512 weights, 8 taps each fewer).
    vgg16 = count_parameters(torchvision.models.vgg16(weights=None))
    assert vgg16 - count_parameters(model) == 8 * (256 * 256 + 2 * 512 * 512)


def test_vgg11_lrn_is_a_with_lrn_after_the_first_conv() -> None:
    """A-LRN (Table 1): torchvision's vgg11 with ``nn.LocalResponseNorm(5, 1e-4, 0.75, 2)`` after the
    first conv + ReLU gives the same outputs with the same weights; LRN holds no parameters, so the
    count is A's, Table 2's 133M."""
    torch.manual_seed(0)
    entry = get_entry("vgg11_lrn")
    assert entry.torchvision is None and entry.small
    ours = build_model(entry.spec())
    twin = torchvision.models.vgg11(weights=None)
    twin.features.insert(2, nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0))
    assert count_parameters(ours) == count_parameters(twin) == 132_863_336
    assert round(count_parameters(ours) / 1e6) == 133
    copy_weights(twin, ours)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), twin.eval()(x), rtol=1e-4, atol=1e-5)
    assert macs(ours, 224) == macs(torchvision.models.vgg11(weights=None), 224)


def test_mobilenet_v1_published() -> None:
    assert count_parameters(build_model(get_entry("mobilenet_v1").spec())) == 4_231_976


def test_mobilenet_v1_width_truncates() -> None:
    """The width multiplier truncates, without rounding to multiples of 8."""
    spec = mobilenet_v1(width=0.25)
    assert spec.stem[0].block.channels == 8
    assert [s.block.channels for s in spec.stages] == [16, 32, 64, 128, 256]
    assert spec.name == "mobilenet_v1_0.25_224"
    assert mobilenet_v1().name == "mobilenet_v1"


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("in_channels", [1, 3])
def test_small_forward(name: str, in_channels: int) -> None:
    spec = get_entry(name).spec(num_classes=10, in_channels=in_channels, small=True)
    assert spec.resolution == 32
    model = build_model(spec)
    with torch.no_grad():
        out = model(torch.randn(2, in_channels, 32, 32))
    assert out.shape == (2, 10)
    assert math.isfinite(out.abs().sum().item())
