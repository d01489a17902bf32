"""GoogLeNet, SqueezeNet and DenseNet zoo entries against torchvision and the published sizes.

Parameter and MAC parity is checked on the meta device: shapes only, no memory, no arithmetic, so
DenseNet-201 at 224x224 costs milliseconds.
"""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from nas_scaling import zoo
from nas_scaling.models import build_model
from nas_scaling.models.blocks import ConvModule, InceptionModule
from nas_scaling.spec import ConvBlock, Fire, Inception
from nas_scaling.zoo.registry import ZooEntry

FAMILIES = ("googlenet", "squeezenet", "densenet")
ENTRIES = [e for e in zoo.entries() if e.family in FAMILIES]
TWINS = [e for e in ENTRIES if e.torchvision]


def _params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _macs(model: nn.Module, *shape: int) -> int:
    """Multiply-accumulates of one forward pass (convs and linear layers), as torch counts them."""
    model.eval()
    device = next(model.parameters()).device
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(*shape, device=device))
    return counter.get_total_flops() // 2


def test_all_entries_are_registered() -> None:
    assert sorted(e.name for e in ENTRIES) == sorted([
        "googlenet", "googlenet_aux",
        "squeezenet1_0", "squeezenet1_0_simple", "squeezenet1_0_complex",
        "squeezenet1_1", "squeezenet1_1_simple", "squeezenet1_1_complex",
        "densenet121", "densenet169", "densenet201", "densenet264",
        "densenet40_k12", "densenet_bc100_k12",
    ])


@pytest.mark.parametrize("entry", TWINS, ids=lambda e: e.name)
def test_params_and_macs_match_torchvision(entry: ZooEntry) -> None:
    assert entry.torchvision is not None
    with torch.device("meta"):
        ours = build_model(entry.spec())
        theirs = getattr(torchvision.models, entry.torchvision)(weights=None, **dict(entry.torchvision_kwargs))
    assert _params(ours) == _params(theirs)
    assert _macs(ours, 1, 3, 224, 224) == _macs(theirs, 1, 3, 224, 224)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("googlenet", 6_624_904),
        ("squeezenet1_0", 1_248_424),
        ("squeezenet1_1", 1_235_496),
        ("densenet121", 7_978_856),
        ("densenet169", 14_149_480),
        ("densenet201", 20_013_928),
        ("densenet264", 33_337_704),
    ],
)
def test_published_parameter_counts(name: str, params: int) -> None:
    entry = zoo.get_entry(name)
    with torch.device("meta"):
        assert _params(build_model(entry.spec())) == params
    if entry.published_params is not None:
        assert entry.published_params == params


def test_densenet264_is_registered_with_its_published_size() -> None:
    entry = zoo.get_entry("densenet264")
    assert entry.torchvision is None
    assert entry.published_params == 33_337_704


def test_googlenet_uses_torchvision_3x3_in_the_5x5_branch() -> None:
    spec = zoo.get_spec("googlenet")
    inceptions = [s.block for s in spec.stages if isinstance(s.block, Inception)]
    assert len(inceptions) == 9
    assert {b.kernel5 for b in inceptions} == {3}
    assert inceptions[-1].channels == 1024


@pytest.mark.parametrize("version", ["1_0", "1_1"])
def test_squeezenet_bypass_variants(version: str) -> None:
    # Fire input -> output channels of Fire 2..9; the first Fire follows the stem (96 or 64 channels).
    stem = {"1_0": 96, "1_1": 64}[version]
    fires = [(stem, 128), (128, 128), (128, 256), (256, 256), (256, 384), (384, 384), (384, 512), (512, 512)]
    # Complex bypass: a biased 1x1 conv in -> out wherever the channels change (Fire 2, 4, 6, 8).
    extra = sum(cin * cout + cout for cin, cout in fires if cin != cout)
    assert extra == {"1_0": 341_248, "1_1": 337_152}[version]

    counts, macs = {}, {}
    for bypass in Fire.bypasses:
        name = f"squeezenet{version}" + ("" if bypass == "none" else f"_{bypass}")
        entry = zoo.get_entry(name)
        spec = entry.spec()
        got = [s.block for s in spec.stages if isinstance(s.block, Fire)]
        assert {b.bypass for b in got} == {bypass}
        with torch.device("meta"):
            model = build_model(spec)
        counts[bypass], macs[bypass] = _params(model), _macs(model, 1, 3, 224, 224)
        if bypass != "none":
            assert entry.published_params == counts[bypass]
        bypasses = [m.bypass for m in model.modules() if hasattr(m, "bypass") and hasattr(m, "squeeze")]
        assert len(bypasses) == 8
        kinds = [type(b).__name__ if b is not None else None for b in bypasses]
        identity = ["Identity" if cin == cout else None for cin, cout in fires]
        if bypass == "simple":
            assert kinds == identity
        elif bypass == "complex":
            assert kinds == [k or "Conv2dNormActivation" for k in identity]

    assert counts["simple"] == counts["none"]
    assert macs["simple"] == macs["none"]
    assert counts["complex"] == counts["none"] + extra


def test_inception_5x5_branch_reduction_textbook_example() -> None:
    """A 28x28x192 map to 32 channels with a 5x5 conv: 120.4M MACs directly, 12.4M after a 16-channel
    1x1 reduction (the Inception module's motivation, Szegedy et al. 2015, section 4)."""
    x = torch.zeros(1, 192, 28, 28)
    direct = ConvModule(ConvBlock(32, kernel=5), 192, 1)
    module = InceptionModule(Inception(64, 96, 128, 16, 32, 32, kernel5=5), 192, 1)
    for model, expected in ((direct, 120_422_400), (module.branch3, 12_443_648)):
        model.eval()
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            out = model(x)
        assert out.shape == (1, 32, 28, 28)
        assert counter.get_total_flops() // 2 == expected


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
@pytest.mark.parametrize("channels", [1, 3])
def test_small_inputs(entry: ZooEntry, channels: int) -> None:
    spec = entry.spec(num_classes=10, in_channels=channels, small=True)
    assert spec.resolution == 32
    model = build_model(spec).eval()
    with torch.no_grad():
        out = model(torch.randn(2, channels, 32, 32))
    assert out.shape == (2, 10)
    assert torch.isfinite(out).all()
