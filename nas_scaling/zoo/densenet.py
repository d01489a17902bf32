"""DenseNet-BC 121/169/201/264: Huang et al., "Densely Connected Convolutional Networks",
CVPR 2017 (paper Table 1: growth k=32, bottleneck width 4k, compression 0.5).

121, 169 and 201 follow torchvision's layout exactly (conv7 s2 + BN + ReLU + 3x3/2 max pool stem,
dense blocks separated by BN-ReLU-1x1-avgpool transitions, a final BN + ReLU before the global
pool). torchvision has no 264; its published size, 33,337,704 parameters, is what this layout
gives with blocks of 6, 12, 64 and 48 layers.
"""

from __future__ import annotations

from nas_scaling.spec import ConvBlock, DenseBlock, Head, NetworkSpec, Pool, Stage, Transition
from nas_scaling.zoo.registry import register

__all__ = ["densenet"]

_PAPER = "Huang et al., Densely Connected Convolutional Networks, CVPR 2017 (arXiv:1608.06993)"
_SMALL = (
    "small=True: 32x32 input; the stem is a single conv3 s1 to 2k = 64 channels without the max pool "
    "(the paper's CIFAR DenseNet-BC stem), so the dense blocks see 32, 16, 8 and 4 pixels."
)

_BLOCKS: dict[int, tuple[int, int, int, int]] = {
    121: (6, 12, 24, 16),
    169: (6, 12, 32, 32),
    201: (6, 12, 48, 32),
    264: (6, 12, 64, 48),
}
_TORCHVISION = (121, 169, 201)
_PUBLISHED = {264: 33_337_704}


def densenet(
    depth: int,
    *,
    growth: int = 32,
    bn_size: int = 4,
    compression: float = 0.5,
    num_classes: int = 1000,
    in_channels: int = 3,
    small: bool = False,
) -> NetworkSpec:
    """DenseNet-BC-``depth`` (121, 169, 201 or 264)."""
    init = 2 * growth
    if small:
        stem: tuple[Stage, ...] = (Stage(ConvBlock(init, kernel=3, norm=True, bias=False)),)
    else:
        stem = (
            Stage(ConvBlock(init, kernel=7, norm=True, bias=False), stride=2),
            Stage(Pool("max", kernel=3, padding=1), stride=2),
        )
    stages: list[Stage] = []
    for i, layers in enumerate(_BLOCKS[depth]):
        if i:
            stages.append(Stage(Transition(compression), stride=2))
        stages.append(Stage(DenseBlock(layers, growth=growth, bn_size=bn_size)))
    return NetworkSpec(
        name=f"densenet{depth}",
        stem=stem,
        stages=tuple(stages),
        head=Head(norm=True, pool="avg"),
        in_channels=in_channels,
        resolution=32 if small else 224,
        num_classes=num_classes,
    )


def _register(depth: int) -> None:
    def build(*, num_classes: int = 1000, in_channels: int = 3, small: bool = False) -> NetworkSpec:
        return densenet(depth, num_classes=num_classes, in_channels=in_channels, small=small)

    build.__doc__ = f"DenseNet-{depth} (Huang et al., CVPR 2017)."
    register(
        f"densenet{depth}",
        family="densenet",
        paper=_PAPER,
        torchvision=f"densenet{depth}" if depth in _TORCHVISION else None,
        published_params=_PUBLISHED.get(depth),
        small=_SMALL,
    )(build)


for _depth in _BLOCKS:
    _register(_depth)
