"""GoogLeNet (Inception v1): Szegedy et al., "Going Deeper with Convolutions", CVPR 2015.

The layout is torchvision's ``googlenet`` (paper Table 1 with batch norm), so parameter and MAC
counts match it exactly. Two deviations from the paper are torchvision's and kept on purpose:

- the "5x5" branch of every Inception module is a 3x3 conv (``Inception(kernel5=3)``), a known
  slip in the original port that torchvision's released weights depend on;
- every conv is conv (no bias) + batch norm + ReLU (the paper predates batch norm), and the last
  max pool is 2x2 stride 2 (ceil mode) where the paper's table says 3x3.

torchvision's BasicConv2d uses batch-norm eps 1e-3; the Inception modules do too, but
:class:`~nas_scaling.spec.ConvBlock` has no eps field, so the three stem convs use torch's default
1e-5 (no effect on parameter or MAC counts). ``googlenet`` is torchvision's ``aux_logits=False``
network (its eval-time form, 6,624,904 parameters); ``googlenet_aux`` adds the paper's two auxiliary
classifiers (training only, loss weight 0.3), torchvision's ``aux_logits=True`` (13,004,888).
"""

from __future__ import annotations

from dataclasses import replace

from nas_scaling.spec import AuxHead, ConvBlock, Head, Inception, NetworkSpec, Pool, Stage
from nas_scaling.zoo.registry import register

__all__ = ["googlenet", "googlenet_aux"]

# (c1x1, c3x3_reduce, c3x3, c5x5_reduce, c5x5, pool_proj) per Inception module (paper Table 1).
_Widths = tuple[int, int, int, int, int, int]
_3: tuple[_Widths, ...] = ((64, 96, 128, 16, 32, 32), (128, 128, 192, 32, 96, 64))
_4: tuple[_Widths, ...] = (
    (192, 96, 208, 16, 48, 64),
    (160, 112, 224, 24, 64, 64),
    (128, 128, 256, 24, 64, 64),
    (112, 144, 288, 32, 64, 64),
    (256, 160, 320, 32, 128, 128),
)
_5: tuple[_Widths, ...] = ((256, 160, 320, 32, 128, 128), (384, 192, 384, 48, 128, 128))


def _inceptions(widths: tuple[_Widths, ...]) -> tuple[Stage, ...]:
    return tuple(Stage(Inception(*w, kernel5=3)) for w in widths)


@register(
    "googlenet",
    family="googlenet",
    paper="Szegedy et al., Going Deeper with Convolutions, CVPR 2015 (arXiv:1409.4842)",
    torchvision="googlenet",
    torchvision_kwargs={"aux_logits": False, "init_weights": False},
    small=(
        "small=True: 32x32 input; the stem is conv3 s1 (64) -> conv1 (64) -> conv3 (192) without the "
        "two early max pools, so Inception 3 sees 32x32, 4 sees 16x16 and 5 sees 8x8."
    ),
)
def googlenet(*, num_classes: int = 1000, in_channels: int = 3, small: bool = False) -> NetworkSpec:
    """GoogLeNet / Inception v1 (Szegedy et al., CVPR 2015), torchvision's layout."""
    if small:
        stem: tuple[Stage, ...] = (
            Stage(ConvBlock(64, kernel=3, norm=True, bias=False)),
            Stage(ConvBlock(64, kernel=1, norm=True, bias=False)),
            Stage(ConvBlock(192, kernel=3, norm=True, bias=False)),
        )
    else:
        pool = Stage(Pool("max", kernel=3, ceil_mode=True), stride=2)
        stem = (
            Stage(ConvBlock(64, kernel=7, norm=True, bias=False), stride=2),
            pool,
            Stage(ConvBlock(64, kernel=1, norm=True, bias=False)),
            Stage(ConvBlock(192, kernel=3, norm=True, bias=False)),
            pool,
        )
    stages = (
        *_inceptions(_3),
        Stage(Pool("max", kernel=3, ceil_mode=True), stride=2),
        *_inceptions(_4),
        Stage(Pool("max", kernel=2, ceil_mode=True), stride=2),
        *_inceptions(_5),
    )
    return NetworkSpec(
        name="googlenet",
        stem=stem,
        stages=stages,
        head=Head(pool="avg", dropout=0.2),
        in_channels=in_channels,
        resolution=32 if small else 224,
        num_classes=num_classes,
    )


# After inception 4a and 4d: 4x4 average pool, 1x1 conv to 128, FC 1024 + ReLU, dropout 0.7, FC
# (paper section 5, with torchvision's adaptive pool and batch norm).
_AUX = AuxHead(after=3, pool=4, conv=128, hidden=(1024,), dropout=0.7, weight=0.3)


@register(
    "googlenet_aux",
    family="googlenet",
    paper="Szegedy et al., Going Deeper with Convolutions, CVPR 2015 (arXiv:1409.4842)",
    torchvision="googlenet",
    torchvision_kwargs={"aux_logits": True, "init_weights": False},
    small="small=True: googlenet's small form with the same two auxiliary heads (on 16x16 maps).",
)
def googlenet_aux(*, num_classes: int = 1000, in_channels: int = 3, small: bool = False) -> NetworkSpec:
    """GoogLeNet with its two auxiliary classifiers (Szegedy et al., CVPR 2015, section 5), used in
    training only: the parameter count includes them, the MACs (eval) do not."""
    spec = googlenet(num_classes=num_classes, in_channels=in_channels, small=small)
    return replace(spec, name="googlenet_aux", aux=(_AUX, replace(_AUX, after=6)))
