"""MobileNets.

v1: Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision
Applications", arXiv:1704.04861 (2017), Table 1, with its width multiplier alpha and resolution
multiplier rho (section 3.3-3.4). v2: Sandler et al., "MobileNetV2: Inverted Residuals and Linear
Bottlenecks", CVPR 2018 (arXiv:1801.04381), Table 2, as torchvision's ``mobilenet_v2`` builds it.
"""

from __future__ import annotations

from nas_scaling.errors import UserError
from nas_scaling.spec import ConvBlock, DepthwiseSeparable, Head, MBConv, NetworkSpec, Stage
from nas_scaling.zoo.registry import register, register_variants

__all__ = ["mobilenet_v1", "mobilenet_v2"]

# MobileNet v1 body, Table 1: (channels, repeats, stride) of the depthwise-separable stages. The
# table's stride 2 on the second-to-last 1024 layer is a known typo (7x7 in and out): stride 1 here,
# as in every released implementation.
_V1_STAGES = ((64, 1, 1), (128, 2, 2), (256, 2, 2), (512, 6, 2), (1024, 2, 2))

# MobileNet v2 body, Table 2: (expand t, channels c, repeats n, stride s).
_V2_STAGES = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


@register(
    "mobilenet_v1",
    family="mobilenet",
    paper="Howard et al., MobileNets, arXiv:1704.04861 (2017)",
    published_params=4_231_976,
    small="small=True: 32x32 input and a stride-1 stem, so the last stage sees 2x2 instead of 1x1.",
)
def mobilenet_v1(
    *,
    width: float = 1.0,
    resolution: int = 224,
    num_classes: int = 1000,
    in_channels: int = 3,
    small: bool = False,
) -> NetworkSpec:
    """MobileNet v1 ``width``-``resolution`` (the paper's alpha and rho; 1.0-224: 4,231,976
    parameters, 568.74 M multiply-adds with the classifier).

    ``width`` multiplies every layer's channels, truncated to ``int(c * width)`` as in the paper
    (no rounding to multiples of 8, unlike v2 and :func:`nas_scaling.scaling.scale_spec`): 0.75,
    0.5 and 0.25 give exact integers for every layer. ``small=True`` overrides ``resolution``.
    """
    if not 0 < width <= 4:
        raise UserError(f"width must be a number in (0, 4], got {width!r}")
    if not small and resolution < 32:
        raise UserError(f"resolution must be at least 32 (MobileNet v1 halves its input 5 times), got {resolution}")

    def w(c: int) -> int:
        return max(1, int(c * width))

    res = 32 if small else resolution
    name = "mobilenet_v1" if (width, resolution) == (1.0, 224) else f"mobilenet_v1_{width:g}_{resolution}"
    return NetworkSpec(
        name=name,
        stem=(Stage(ConvBlock(w(32), kernel=3), stride=1 if small else 2),),
        stages=tuple(Stage(DepthwiseSeparable(w(c)), repeats=n, stride=s) for c, n, s in _V1_STAGES),
        head=Head(pool="avg"),
        in_channels=in_channels,
        resolution=res,
        num_classes=num_classes,
    )


register_variants(
    r"mobilenet_v1_(?P<width>\d+(?:\.\d+)?)(?:_(?P<resolution>\d+))?",
    base="mobilenet_v1",
    parse=lambda m: {"width": float(m["width"]), "resolution": int(m["resolution"] or 224)},
    form="mobilenet_v1_<width>[_<resolution>]",
)


@register(
    "mobilenet_v2",
    family="mobilenet",
    paper="Sandler et al., MobileNetV2, CVPR 2018 (arXiv:1801.04381)",
    torchvision="mobilenet_v2",
    small="small=True: 32x32 input and a stride-1 stem, so the last stage sees 2x2 instead of 1x1.",
)
def mobilenet_v2(*, num_classes: int = 1000, in_channels: int = 3, small: bool = False) -> NetworkSpec:
    """MobileNet v2 1.0-224 as torchvision builds it: ReLU6, no squeeze-excitation, a 1x1 conv to
    1280 channels before pooling and dropout 0.2 (3,504,872 parameters)."""
    return NetworkSpec(
        name="mobilenet_v2",
        stem=(Stage(ConvBlock(32, kernel=3, act="relu6"), stride=1 if small else 2),),
        stages=tuple(
            Stage(MBConv(c, expand=float(t), kernel=3, se=0.0, act="relu6"), repeats=n, stride=s)
            for t, c, n, s in _V2_STAGES
        ),
        head=Head(conv=1280, act="relu6", dropout=0.2),
        in_channels=in_channels,
        resolution=32 if small else 224,
        num_classes=num_classes,
    )
