"""Inception v3: Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR 2016.

The layout is torchvision's ``inception_v3`` (the paper's Table 1 as released, with batch norm), so
parameter and MAC counts match it exactly and its weights load layer for layer: a stem of five
unpadded or padded 3x3/1x1 convs and two max pools (299 -> 35), three 35x35 modules
(:class:`~nas_scaling.spec.InceptionA`), a grid reduction to 17x17 (``InceptionB``), four 17x17
modules with 7x7 convs factorized into 1x7 and 7x1 (``InceptionC``), a reduction to 8x8
(``InceptionD``) and two 8x8 modules with expanded filter banks (``InceptionE``), then global
average pooling, dropout 0.5 and the classifier. Every conv is conv (no bias) + batch norm (eps
1e-3) + ReLU, torchvision's ``BasicConv2d``. ``inception_v3`` is torchvision's ``aux_logits=False``
network (its eval-time form, 23,834,568 parameters); ``inception_v3_aux`` adds the auxiliary
classifier on the last 17x17 module (training only, loss weight 0.4), torchvision's
``aux_logits=True`` (27,161,264).
"""

from __future__ import annotations

from dataclasses import replace

from nas_scaling.spec import (
    AuxHead,
    ConvBlock,
    Head,
    InceptionA,
    InceptionB,
    InceptionC,
    InceptionD,
    InceptionE,
    NetworkSpec,
    Pool,
    Stage,
)
from nas_scaling.zoo.registry import register

__all__ = ["inception_v3", "inception_v3_aux"]

_EPS = 1e-3  # torchvision's BasicConv2d


def _conv(channels: int, kernel: int, padding: int, stride: int = 1) -> Stage:
    return Stage(ConvBlock(channels, kernel=kernel, padding=padding, eps=_EPS), stride=stride)


@register(
    "inception_v3",
    family="inception",
    paper="Szegedy et al., Rethinking the Inception Architecture for Computer Vision, CVPR 2016 (arXiv:1512.00567)",
    torchvision="inception_v3",
    torchvision_kwargs={"aux_logits": False, "init_weights": False},
    small=(
        "small=True: 32x32 input; the stem's five convs keep their widths but are padded and at stride 1, "
        "without the two max pools, so the 35x35 modules see 32x32, the 17x17 ones 15x15 and the 8x8 ones 7x7."
    ),
)
def inception_v3(*, num_classes: int = 1000, in_channels: int = 3, small: bool = False) -> NetworkSpec:
    """Inception v3 (Szegedy et al., CVPR 2016), torchvision's layout, 299x299 input."""
    if small:
        stem: tuple[Stage, ...] = (
            _conv(32, 3, 1), _conv(32, 3, 1), _conv(64, 3, 1), _conv(80, 1, 0), _conv(192, 3, 1),
        )
    else:
        pool = Stage(Pool("max", kernel=3), stride=2)
        stem = (_conv(32, 3, 0, stride=2), _conv(32, 3, 0), _conv(64, 3, 1), pool, _conv(80, 1, 0), _conv(192, 3, 0),
                pool)
    stages = (
        Stage(InceptionA(64, 48, 64, 64, 96, 32)),  # Mixed_5b
        Stage(InceptionA(64, 48, 64, 64, 96, 64), repeats=2),  # Mixed_5c, 5d
        Stage(InceptionB(384, 64, 96), stride=2),  # Mixed_6a
        Stage(InceptionC(192, 128, 192, 128, 192, 192)),  # Mixed_6b
        Stage(InceptionC(192, 160, 192, 160, 192, 192), repeats=2),  # Mixed_6c, 6d
        Stage(InceptionC(192, 192, 192, 192, 192, 192)),  # Mixed_6e
        Stage(InceptionD(192, 320, 192, 192), stride=2),  # Mixed_7a
        Stage(InceptionE(320, 384, 384, 448, 384, 192), repeats=2),  # Mixed_7b, 7c
    )
    return NetworkSpec(
        name="inception_v3",
        stem=stem,
        stages=stages,
        head=Head(pool="avg", dropout=0.5),
        in_channels=in_channels,
        resolution=32 if small else 299,
        num_classes=num_classes,
    )


@register(
    "inception_v3_aux",
    family="inception",
    paper="Szegedy et al., Rethinking the Inception Architecture for Computer Vision, CVPR 2016 (arXiv:1512.00567)",
    torchvision="inception_v3",
    torchvision_kwargs={"aux_logits": True, "init_weights": False},
    small=(
        "small=True: inception_v3's small form; the auxiliary head pools its 15x15 map adaptively to 5x5 "
        "(instead of a 5x5 pool at stride 3), so its 5x5 conv still ends at 1x1."
    ),
)
def inception_v3_aux(*, num_classes: int = 1000, in_channels: int = 3, small: bool = False) -> NetworkSpec:
    """Inception v3 with its auxiliary classifier on Mixed_6e (Szegedy et al., CVPR 2016, section 4:
    5x5 average pool at stride 3, 1x1 conv to 128, 5x5 conv to 768, FC), used in training only: the
    parameter count includes it, the MACs (eval) do not. Loss weight 0.4, as torchvision's recipe."""
    spec = inception_v3(num_classes=num_classes, in_channels=in_channels, small=small)
    pool = {"pool": 5} if small else {"pool_kernel": 5, "pool_stride": 3}
    aux = AuxHead(after=5, conv=128, conv2=768, conv2_kernel=5, weight=0.4, **pool)  # type: ignore[arg-type]
    return replace(spec, name="inception_v3_aux", aux=(aux,))
