"""The CIFAR-10 ResNets: He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition",
CVPR 2016 (arXiv:1512.03385), section 4.2 and Table 6.

6n+2 weighted layers: a 3x3 conv of 16 channels (+ BN + ReLU), three stages of n basic blocks at 16,
32 and 64 channels with strides 1, 2, 2, global average pooling and a 10-way fully connected layer,
on 32x32x3 inputs. As the paper uses on CIFAR, every shortcut is the identity, option A where the
shape changes (subsampled by 2, the extra channels zero-padded), so the shortcuts hold no
parameters: 0.27M, 0.46M, 0.66M, 0.85M, 1.7M and 19.4M for n = 3, 5, 7, 9, 18, 200.
"""

from __future__ import annotations

from nas_scaling.errors import UserError
from nas_scaling.spec import ConvBlock, Head, NetworkSpec, Residual, Stage
from nas_scaling.zoo.registry import register

__all__ = ["resnet_cifar"]

_DEPTHS = (20, 32, 44, 56, 110, 1202)
_PAPER = "He et al., Deep Residual Learning for Image Recognition, CVPR 2016 (arXiv:1512.03385), section 4.2"
_SMALL = "native 32x32 CIFAR network (the paper's own input): small=True builds the same spec."


def resnet_cifar(depth: int, *, num_classes: int = 10, in_channels: int = 3, small: bool = False) -> NetworkSpec:
    """ResNet-``depth`` for CIFAR (``depth = 6n + 2``), option A shortcuts."""
    if depth < 8 or (depth - 2) % 6:
        raise UserError(f"a CIFAR ResNet's depth must be 6n+2 with n >= 1 (20, 32, 44, 56, 110, 1202), got {depth!r}")
    n = (depth - 2) // 6
    stages = tuple(
        Stage(Residual(width, style="basic", shortcut="pad"), repeats=n, stride=stride)
        for width, stride in ((16, 1), (32, 2), (64, 2))
    )
    return NetworkSpec(
        name=f"resnet{depth}",
        stem=(Stage(ConvBlock(16, kernel=3)),),
        stages=stages,
        head=Head(pool="avg"),
        in_channels=in_channels,
        resolution=32,
        num_classes=num_classes,
    )


def _register(depth: int) -> None:
    def build(*, num_classes: int = 10, in_channels: int = 3, small: bool = False) -> NetworkSpec:
        return resnet_cifar(depth, num_classes=num_classes, in_channels=in_channels, small=small)

    build.__doc__ = f"ResNet-{depth} for CIFAR-10 (He et al., CVPR 2016, section 4.2), option A shortcuts."
    register(f"resnet{depth}", family="resnet", paper=_PAPER, small=_SMALL)(build)


for _depth in _DEPTHS:
    _register(_depth)
