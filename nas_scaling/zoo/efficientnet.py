"""EfficientNet B0-B7: Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural
Networks", ICML 2019. B0 is Table 1 of the paper; B1-B7 are B0 compound-scaled with the released
multipliers (:data:`nas_scaling.scaling.EFFICIENTNET_MULTIPLIERS`)."""

from __future__ import annotations

from dataclasses import replace

from nas_scaling.scaling import EFFICIENTNET_MULTIPLIERS, scale_spec
from nas_scaling.spec import ConvBlock, Head, MBConv, NetworkSpec, Stage
from nas_scaling.zoo.registry import register

__all__ = ["efficientnet"]

# (expand, kernel, stride, channels, repeats) of B0's seven MBConv stages (paper Table 1).
_B0_STAGES = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)

_SMALL = "small=True: 32x32 input and a stride-1 stem, so the last stage sees 2x2 instead of 1x1."


def efficientnet(phi: int, *, num_classes: int = 1000, in_channels: int = 3, small: bool = False) -> NetworkSpec:
    """EfficientNet-B``phi`` built from B0 with the released multipliers."""
    m = EFFICIENTNET_MULTIPLIERS[phi]
    b0 = NetworkSpec(
        name="efficientnet_b0",
        stem=(Stage(ConvBlock(32, kernel=3, act="silu"), stride=2),),
        stages=tuple(
            Stage(MBConv(c, expand=float(e), kernel=k, se=0.25, act="silu"), repeats=n, stride=s)
            for e, k, s, c, n in _B0_STAGES
        ),
        head=Head(conv=1280, act="silu", dropout=0.2),
        in_channels=in_channels,
        resolution=224,
        num_classes=num_classes,
        stochastic_depth=0.2,
    )
    spec = scale_spec(b0, width=m.width, depth=m.depth, resolution=m.resolution, name=f"efficientnet_b{phi}")
    spec = replace(spec, head=replace(spec.head, dropout=m.dropout))
    if small:
        stem = (replace(spec.stem[0], stride=1),)
        spec = replace(spec, stem=stem, resolution=32)
    return spec


def _register(phi: int) -> None:
    def build(*, num_classes: int = 1000, in_channels: int = 3, small: bool = False) -> NetworkSpec:
        return efficientnet(phi, num_classes=num_classes, in_channels=in_channels, small=small)

    build.__doc__ = f"EfficientNet-B{phi} (Tan & Le, ICML 2019)."
    register(
        f"efficientnet_b{phi}",
        family="efficientnet",
        paper="Tan & Le, EfficientNet, ICML 2019 (arXiv:1905.11946)",
        torchvision=f"efficientnet_b{phi}",
        small=_SMALL,
    )(build)


for _phi in range(8):
    _register(_phi)


# (expand, kernel, stride, channels, repeats): B0's seven stages and depths at half B0's widths.
_TINY_STAGES = (
    (1, 3, 1, 8, 1),
    (6, 3, 2, 16, 2),
    (6, 5, 2, 24, 2),
    (6, 3, 2, 40, 3),
    (6, 5, 1, 56, 3),
    (6, 5, 2, 96, 4),
    (6, 3, 1, 160, 1),
)


@register(
    "efficientnet_tiny",
    family="efficientnet",
    paper="EfficientNet-B0's layout (Tan & Le, ICML 2019) at half width for 16x16 inputs",
    small="Native form is already small (16x16, stride-1 stem); small=True uses 32x32 with the same layers.",
)
def efficientnet_tiny(*, num_classes: int = 10, in_channels: int = 1, small: bool = False) -> NetworkSpec:
    """The default base of ``nas-scaling grid``: B0's seven MBConv stages (same expand ratios,
    kernels, strides, repeats, SE 0.25, SiLU) at half B0's widths, a stride-1 stem and 16x16
    one-channel inputs and 10 classes natively (1.0 M params, 2.47 M MACs), so that one candidate trains on
    the digits in seconds on a CPU while depth, width and resolution still round finely enough for
    a 0.05 grid."""
    return NetworkSpec(
        name="efficientnet_tiny",
        stem=(Stage(ConvBlock(16, kernel=3, act="silu"), stride=1),),
        stages=tuple(
            Stage(MBConv(c, expand=float(e), kernel=k, se=0.25, act="silu"), repeats=n, stride=s)
            for e, k, s, c, n in _TINY_STAGES
        ),
        head=Head(conv=320, act="silu", dropout=0.2),
        in_channels=in_channels,
        resolution=32 if small else 16,
        num_classes=num_classes,
        stochastic_depth=0.0,
    )


# (expand, kernel, stride, channels, repeats): B0's seven stages, expand ratios and kernels for 32x32
# inputs. The stem does not downsample, so B0's four stride-2 stages would leave a 2x2 map; stage 4
# keeps stride 1 instead, and 32 px ends on 4x4 (B0: 224 px on 7x7). Widths are half B0's (as
# efficientnet_tiny) and B0's repeats are kept up to stage 4; stages 5 and 6 repeat twice instead of 3
# and 4, which halves the time of a proxy candidate on a CPU (measured in the docstring).
_CIFAR_STAGES = (
    (1, 3, 1, 8, 1),
    (6, 3, 2, 16, 2),
    (6, 5, 2, 24, 2),
    (6, 3, 1, 40, 3),
    (6, 5, 1, 56, 2),
    (6, 5, 2, 96, 2),
    (6, 3, 1, 160, 1),
)


@register(
    "efficientnet_cifar",
    family="efficientnet",
    paper="EfficientNet-B0's layout (Tan & Le, ICML 2019) for 32x32 colour images",
    small="Native form is already small: 32x32, 3 channels, stride-1 stem; small=True is the same network.",
)
def efficientnet_cifar(*, num_classes: int = 10, in_channels: int = 3, small: bool = False) -> NetworkSpec:
    """A base for CIFAR-scale data (``nas-scaling grid --base efficientnet_cifar``): EfficientNet-B0's
    seven MBConv stages (Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural
    Networks", ICML 2019: same expand ratios and kernels, SE 0.25, SiLU) at half B0's widths, a
    stride-1 stem and three stride-2 stages, so 32x32 colour inputs end on a 4x4 map. At 4x4 a few
    more pixels add one row and column to the last map (32 -> 35 px: 4x4 -> 5x5) instead of doubling
    it, so a 2xFLOPS grid keeps candidates with gamma > 1."""
    return NetworkSpec(
        name="efficientnet_cifar",
        stem=(Stage(ConvBlock(16, kernel=3, act="silu"), stride=1),),
        stages=tuple(
            Stage(MBConv(c, expand=float(e), kernel=k, se=0.25, act="silu"), repeats=n, stride=s)
            for e, k, s, c, n in _CIFAR_STAGES
        ),
        head=Head(conv=320, act="silu", dropout=0.2),
        in_channels=in_channels,
        resolution=32,
        num_classes=num_classes,
        stochastic_depth=0.0,
    )
