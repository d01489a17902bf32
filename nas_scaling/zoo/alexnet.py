"""AlexNet: Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep Convolutional Neural
Networks", NeurIPS 2012, in the one-GPU form of Krizhevsky, "One weird trick for parallelizing
convolutional neural networks", arXiv:1404.5997 (2014) that torchvision's ``alexnet`` implements:
64-192-384-256-256 channels, no local response normalisation, biases on every conv.

The small form (``small=True``) adds batch norm after every conv, as torchvision's ``vgg*_bn`` and the
CIFAR AlexNets do (see the comment above :func:`alexnet` for why)."""

from __future__ import annotations

from nas_scaling.spec import ConvBlock, Head, NetworkSpec, Pool, Stage
from nas_scaling.zoo.registry import register

__all__ = ["alexnet"]


def _conv(channels: int, kernel: int = 3, padding: int | None = None, *, norm: bool = False) -> ConvBlock:
    return ConvBlock(channels, kernel=kernel, padding=padding, norm=norm, bias=True, act="relu")


# Why the small form has batch norm: the ImageNet layout has none, and its small form without it does
# not learn under the proxy schedule (AdamW, lr 3e-3, 1 warm-up epoch, 3 epochs): digits val top-1
# 0.103 at one thread (0.236 in an earlier run; chance 0.1), the failure of the plain SqueezeNet
# (nas_scaling/zoo/squeezenet.py): a plain stack of biased ReLU convs from the default init, at that
# learning rate, loses its signal before it learns. Batch norm after every conv (torchvision's vgg*_bn
# recipe, the conv biases kept) keeps every layer's pre-activations centred and scaled, and the same
# schedule then trains it to 0.989 (benchmarks/README.md, "Every zoo entry learns"). The ImageNet
# form keeps the paper's layout and torchvision's exact 61,100,840 parameters.


@register(
    "alexnet",
    family="alexnet",
    paper="Krizhevsky et al., ImageNet Classification with Deep CNNs, NeurIPS 2012; arXiv:1404.5997",
    torchvision="alexnet",
    small="small=True: 32x32 input; the 11x11 stride-4 stem becomes a 3x3 stride-1 conv (64 channels) so "
    "the three 3x3/2 max pools leave a 3x3 map instead of collapsing; the head pools to 1x1 and its "
    "hidden layers are 1024 wide instead of 4096; batch norm after every conv (without it AlexNet does "
    "not learn in a short proxy schedule).",
)
def alexnet(*, num_classes: int = 1000, in_channels: int = 3, small: bool = False) -> NetworkSpec:
    """AlexNet as torchvision builds it: 61,100,840 parameters at 1000 classes (``small=False``)."""
    maxpool = Stage(Pool(op="max", kernel=3), stride=2)
    stem = (
        Stage(_conv(64, kernel=3, norm=True), stride=1) if small else Stage(_conv(64, kernel=11, padding=2), stride=4)
    )
    head = (
        Head(pool="avg", pool_size=1, hidden=(1024, 1024), dropout=0.5)
        if small
        else Head(pool="avg", pool_size=6, hidden=(4096, 4096), dropout=0.5)
    )
    return NetworkSpec(
        name="alexnet",
        stem=(stem, maxpool),
        stages=(
            Stage(_conv(192, kernel=5, norm=small)),
            maxpool,
            Stage(_conv(384, norm=small)),
            Stage(_conv(256, norm=small)),
            Stage(_conv(256, norm=small)),
            maxpool,
        ),
        head=head,
        in_channels=in_channels,
        resolution=32 if small else 224,
        num_classes=num_classes,
    )
