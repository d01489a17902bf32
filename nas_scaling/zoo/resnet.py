"""ResNet-18/34/50/101/152: He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition",
CVPR 2016 (arXiv:1512.03385), Table 1, as torchvision builds them: "v1.5", with the stride of a
bottleneck on its 3x3 conv rather than its first 1x1, and 1x1 projection shortcuts (option B) where
the shape changes."""

from __future__ import annotations

from nas_scaling.errors import UserError
from nas_scaling.spec import ConvBlock, Head, NetworkSpec, Pool, Residual, Stage
from nas_scaling.zoo.registry import register

__all__ = ["resnet"]

# depth -> (style, repeats of the four stages); stage widths are 64, 128, 256, 512 (x4 out, bottleneck).
_LAYOUTS: dict[int, tuple[str, tuple[int, int, int, int]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
_SMALL = (
    "small=True: 32x32 input with a 3x3 stride-1 stem conv and no max pool, as in the CIFAR ResNets "
    "(He et al. 2016, section 4.2), so the last stage sees 4x4."
)


def resnet(depth: int, *, num_classes: int = 1000, in_channels: int = 3, small: bool = False) -> NetworkSpec:
    """ResNet-``depth`` (18, 34, 50, 101 or 152)."""
    if depth not in _LAYOUTS:
        raise UserError(f"ResNet depth must be one of {', '.join(map(str, _LAYOUTS))}, got {depth!r}")
    style, repeats = _LAYOUTS[depth]
    expansion = 4 if style == "bottleneck" else 1
    stem = (
        (Stage(ConvBlock(64, kernel=3)),)
        if small
        else (Stage(ConvBlock(64, kernel=7), stride=2), Stage(Pool(op="max", kernel=3, padding=1), stride=2))
    )
    stages = tuple(
        Stage(Residual(width * expansion, style=style), repeats=n, stride=1 if i == 0 else 2)
        for i, (width, n) in enumerate(zip((64, 128, 256, 512), repeats, strict=True))
    )
    return NetworkSpec(
        name=f"resnet{depth}",
        stem=stem,
        stages=stages,
        head=Head(pool="avg"),
        in_channels=in_channels,
        resolution=32 if small else 224,
        num_classes=num_classes,
    )


def _register(depth: int) -> None:
    def build(*, num_classes: int = 1000, in_channels: int = 3, small: bool = False) -> NetworkSpec:
        return resnet(depth, num_classes=num_classes, in_channels=in_channels, small=small)

    build.__doc__ = f"ResNet-{depth} (He et al., CVPR 2016), torchvision's v1.5."
    register(
        f"resnet{depth}",
        family="resnet",
        paper="He et al., Deep Residual Learning for Image Recognition, CVPR 2016 (arXiv:1512.03385)",
        torchvision=f"resnet{depth}",
        small=_SMALL,
    )(build)


for _depth in _LAYOUTS:
    _register(_depth)
