"""VGG: Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition",
ICLR 2015 (arXiv:1409.1556), configurations A, A-LRN, B, C, D, E of Table 1 without batch norm.

A, B, D, E are torchvision's ``vgg11``, ``vgg13``, ``vgg16``, ``vgg19``; C (``vgg16_c``: D with the
last conv of blocks 3-5 a 1x1 conv) has no torchvision twin and is checked against Table 2 (134M,
exactly 133,638,952). A-LRN (``vgg11_lrn``) is A with local response normalisation after its first
conv (the paper's, AlexNet's: size 5, alpha 1e-4, beta 0.75, k 2); it holds no parameters, so its count
is A's, Table 2's 133M. The head is torchvision's: adaptive average pool to 7x7, two 4096-wide fully
connected layers with dropout 0.5 (here before each linear layer, as :class:`~nas_scaling.spec.Head`
places it; torchvision drops after the two hidden ones: same parameters, MACs and eval outputs).

The small form (``small=True``) is the batch-norm VGG (torchvision's ``vgg*_bn``, the usual CIFAR VGG):
batch norm after every conv, conv biases kept. Without it the 8-16 plain ReLU convs do not train
under the proxy schedule (AdamW, lr 3e-3, 3 epochs; vgg11 small: digits val top-1 0.100, chance), as
plain SqueezeNet and AlexNet did not; the
ImageNet forms keep Table 1's layout and their exact parameter counts.
"""

from __future__ import annotations

from itertools import groupby

from nas_scaling.errors import UserError
from nas_scaling.spec import ConvBlock, Head, LocalResponseNorm, NetworkSpec, Pool, Stage
from nas_scaling.zoo.registry import register

__all__ = ["vgg"]

# Per configuration, per block: the kernel of every conv in it (channels: 64, 128, 256, 512, 512).
_CONFIGS: dict[str, tuple[tuple[int, ...], ...]] = {
    "A": ((3,), (3,), (3, 3), (3, 3), (3, 3)),
    "B": ((3, 3), (3, 3), (3, 3), (3, 3), (3, 3)),
    "C": ((3, 3), (3, 3), (3, 3, 1), (3, 3, 1), (3, 3, 1)),
    "D": ((3, 3), (3, 3), (3, 3, 3), (3, 3, 3), (3, 3, 3)),
    "E": ((3, 3), (3, 3), (3, 3, 3, 3), (3, 3, 3, 3), (3, 3, 3, 3)),
}
_WIDTHS = (64, 128, 256, 512, 512)
_NAMES = {"A": "vgg11", "A-LRN": "vgg11_lrn", "B": "vgg13", "C": "vgg16_c", "D": "vgg16", "E": "vgg19"}
_PAPER = "Simonyan & Zisserman, Very Deep Convolutional Networks, ICLR 2015 (arXiv:1409.1556)"
_SMALL = (
    "small=True: 32x32 input (the five 2x2 max pools leave 1x1), the head pools to 1x1 and its hidden "
    "layers are 512 wide instead of 4096, and batch norm follows every conv (torchvision's vgg*_bn), as "
    "in the usual CIFAR VGGs (without it VGG does not learn in a short proxy schedule)."
)


def _stages(kernels: tuple[int, ...], channels: int, *, norm: bool = False) -> list[Stage]:
    """One stage per run of equal kernels, then the block's 2x2 max pool."""
    convs = [
        Stage(ConvBlock(channels, kernel=k, norm=norm, bias=True, act="relu"), repeats=len(list(run)))
        for k, run in groupby(kernels)
    ]
    return [*convs, Stage(Pool(op="max", kernel=2), stride=2)]


def vgg(config: str, *, num_classes: int = 1000, in_channels: int = 3, small: bool = False) -> NetworkSpec:
    """VGG configuration ``config`` (``"A"``, ``"A-LRN"``, ``"B"`` to ``"E"``) of the paper's Table 1,
    without batch norm (``small=True``: with batch norm after every conv, as torchvision's ``vgg*_bn``).

    There is no stem: every conv block is a body stage, so depth scaling deepens all five blocks
    (A -> B -> D -> E is the paper's own depth progression).
    """
    if config not in _NAMES:
        raise UserError(f"VGG config must be one of {', '.join(_NAMES)}, got {config!r}")
    kernels = _CONFIGS["A" if config == "A-LRN" else config]
    stages = [s for ks, c in zip(kernels, _WIDTHS, strict=True) for s in _stages(ks, c, norm=small)]
    if config == "A-LRN":
        stages.insert(1, Stage(LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0)))
    head = (
        Head(pool="avg", pool_size=1, hidden=(512, 512), dropout=0.5)
        if small
        else Head(pool="avg", pool_size=7, hidden=(4096, 4096), dropout=0.5)
    )
    return NetworkSpec(
        name=_NAMES[config],
        stem=(),
        stages=tuple(stages),
        head=head,
        in_channels=in_channels,
        resolution=32 if small else 224,
        num_classes=num_classes,
    )


def _register(config: str, torchvision: str | None, published: int | None) -> None:
    def build(*, num_classes: int = 1000, in_channels: int = 3, small: bool = False) -> NetworkSpec:
        return vgg(config, num_classes=num_classes, in_channels=in_channels, small=small)

    build.__doc__ = f"VGG configuration {config} ({_NAMES[config]}; Simonyan & Zisserman, ICLR 2015)."
    register(
        _NAMES[config],
        family="vgg",
        paper=_PAPER,
        torchvision=torchvision,
        published_params=published,
        small=_SMALL,
    )(build)


_register("A", "vgg11", None)
_register("A-LRN", None, None)
_register("B", "vgg13", None)
_register("D", "vgg16", None)
_register("E", "vgg19", None)
_register("C", None, 133_638_952)
