"""The CIFAR DenseNets: Huang, Liu, van der Maaten & Weinberger, "Densely Connected Convolutional
Networks", CVPR 2017 (arXiv:1608.06993), section 3 ("Implementation Details") and Table 2.

Three dense blocks of equal depth on 32x32, 16x16 and 8x8 maps, a 3x3 conv of 16 channels (2k for
DenseNet-BC) before the first, transitions of BN-ReLU-1x1 conv-2x2 average pool between them, then
BN-ReLU, global average pooling and a linear classifier. The plain DenseNet (L=40, k=12: 12 layers a
block, each BN-ReLU-3x3) keeps every channel in its transitions; DenseNet-BC (L=100, k=12: 16 layers a
block, each with a 1x1 bottleneck of 4k) halves them (compression 0.5). Table 2: 1.0M and 0.8M.
The first conv is a bare conv, as in the authors' code: the first dense layer's BN-ReLU follows it.
"""

from __future__ import annotations

from nas_scaling.errors import UserError
from nas_scaling.spec import ConvBlock, DenseBlock, Head, NetworkSpec, Stage, Transition
from nas_scaling.zoo.registry import register

__all__ = ["densenet_cifar"]

_PAPER = "Huang et al., Densely Connected Convolutional Networks, CVPR 2017 (arXiv:1608.06993), Table 2"
_SMALL = "native 32x32 CIFAR network (the paper's own input): small=True builds the same spec."


def densenet_cifar(
    depth: int, *, growth: int = 12, bc: bool = False, num_classes: int = 10, in_channels: int = 3,
    small: bool = False,
) -> NetworkSpec:
    """DenseNet (``bc=False``) or DenseNet-BC of ``depth`` layers with growth ``growth`` for CIFAR.

    ``depth = 3 * layers_per_block * (2 if bc else 1) + 4`` (the first conv, two transitions, the
    classifier).
    """
    per_layer = 2 if bc else 1
    if depth < 3 * per_layer + 4 or (depth - 4) % (3 * per_layer):
        form = "6n+4 (DenseNet-BC)" if bc else "3n+4 (DenseNet)"
        raise UserError(f"a CIFAR DenseNet's depth must be {form} with n >= 1, got {depth!r}")
    layers = (depth - 4) // (3 * per_layer)
    block = DenseBlock(layers, growth=growth, bn_size=4 if bc else 0)
    transition = Stage(Transition(0.5 if bc else 1.0), stride=2)
    return NetworkSpec(
        name=f"densenet_bc{depth}_k{growth}" if bc else f"densenet{depth}_k{growth}",
        stem=(Stage(ConvBlock(2 * growth if bc else 16, kernel=3, norm=False, bias=False, act="none")),),
        stages=(Stage(block), transition, Stage(block), transition, Stage(block)),
        head=Head(norm=True, pool="avg"),
        in_channels=in_channels,
        resolution=32,
        num_classes=num_classes,
    )


def _register(depth: int, bc: bool) -> None:
    def build(*, num_classes: int = 10, in_channels: int = 3, small: bool = False) -> NetworkSpec:
        return densenet_cifar(depth, bc=bc, num_classes=num_classes, in_channels=in_channels, small=small)

    name = f"densenet_bc{depth}_k12" if bc else f"densenet{depth}_k12"
    build.__doc__ = (
        f"{'DenseNet-BC' if bc else 'DenseNet'} (L={depth}, k=12) for CIFAR (Huang et al., CVPR 2017, Table 2)."
    )
    register(name, family="densenet", paper=_PAPER, small=_SMALL)(build)


_register(40, False)
_register(100, True)
