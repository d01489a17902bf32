"""SqueezeNet 1.0 and 1.1: Iandola et al., "SqueezeNet: AlexNet-level accuracy with 50x fewer
parameters and <0.5MB model size", arXiv:1602.07360, 2016.

1.0 is the paper's Table 1; 1.1 is the release that moves the pools earlier and uses a 3x3 stem
(2.4x less computation, same accuracy). Both follow torchvision's layout exactly: Fire modules with
biased convs and no batch norm, 3x3 stride-2 max pools in ceil mode, and the conv classifier
(dropout 0.5, 1x1 conv to the classes, ReLU, global average pool).

The ``_simple`` and ``_complex`` variants are the paper's section 6 bypass study: a simple bypass
adds the input around Fire 3, 5, 7 and 9 (where input and output channels match), a complex bypass
also adds a biased 1x1 conv of the input around Fire 2, 4, 6 and 8. The paper studies them on 1.0;
the 1.1 variants apply the same rule to 1.1's layout.
"""

from __future__ import annotations

from nas_scaling.spec import ConvBlock, Fire, Head, NetworkSpec, Pool, Stage
from nas_scaling.zoo.registry import register

__all__ = ["squeezenet"]

_PAPER = "Iandola et al., SqueezeNet, arXiv:1602.07360, 2016"
_SMALL = (
    "small=True: 32x32 input; the stem is a conv3 s1 (padding 1) without the max pool, so the Fire "
    "modules see 32x32, 16x16 and 8x8 across the two remaining max pools; batch norm after every conv "
    "of the Fire modules (without it SqueezeNet does not learn in a short proxy schedule)."
)
# Why the small form has batch norm: the ImageNet layout has none, and under the proxy schedule
# (AdamW, lr 3e-3, 3 epochs) that plain 18-conv ReLU stack collapses within the first epoch: every ReLU
# of the last Fire module outputs zero for every image, the classifier then sees zeros, the loss sits
# at ln(10) and no gradient reaches any weight again (digits val top-1 0.097, chance). Measured on
# squeezenet1_1 small, digits, 3 epochs: torchvision's own init (Kaiming-uniform, N(0, 0.01) final
# conv) still collapses (0.097); dropping the ReLU after the conv classifier still collapses (0.103,
# the body is dead); lr 1e-3 instead of 3e-3 reaches 0.25; batch norm after every conv of the Fire modules
# (the BN-SqueezeNet the search spaces already use) reaches 0.98. The ImageNet forms keep the paper's
# layout and their exact parameter counts.

# version -> (stem channels, stem kernel, body); a body row is a Fire stage
# (squeeze, expand1x1, expand3x3, repeats) or "pool", a 3x3 stride-2 max pool in ceil mode.
_FireRow = tuple[int, int, int, int]
_LAYOUTS: dict[str, tuple[int, int, tuple[_FireRow | str, ...]]] = {
    "1_0": (96, 7, (
        (16, 64, 64, 2),  # fire2, fire3
        (32, 128, 128, 1),  # fire4
        "pool",
        (32, 128, 128, 1),  # fire5
        (48, 192, 192, 2),  # fire6, fire7
        (64, 256, 256, 1),  # fire8
        "pool",
        (64, 256, 256, 1),  # fire9
    )),
    "1_1": (64, 3, (
        (16, 64, 64, 2),  # fire2, fire3
        "pool",
        (32, 128, 128, 2),  # fire4, fire5
        "pool",
        (48, 192, 192, 2),  # fire6, fire7
        (64, 256, 256, 2),  # fire8, fire9
    )),
}

# The paper gives only model sizes for the bypass variants (Table 3: 4.8, 4.8 and 7.7 MB). These are
# the exact counts of this layout: a simple bypass adds no parameters; a complex bypass adds a biased
# 1x1 conv (in * out + out) around each Fire whose channels change: 96/64->128, 128->256, 256->384,
# 384->512 (+341,248 for 1.0, +337,152 for 1.1).
_BYPASS_PARAMS: dict[tuple[str, str], int] = {
    ("1_0", "simple"): 1_248_424,
    ("1_0", "complex"): 1_589_672,
    ("1_1", "simple"): 1_235_496,
    ("1_1", "complex"): 1_572_648,
}


def squeezenet(
    version: str, *, bypass: str = "none", num_classes: int = 1000, in_channels: int = 3, small: bool = False
) -> NetworkSpec:
    """SqueezeNet ``version`` (``"1_0"`` or ``"1_1"``) with Fire ``bypass`` none/simple/complex."""
    channels, kernel, body = _LAYOUTS[version]
    pool = Stage(Pool("max", kernel=3, ceil_mode=True), stride=2)
    if small:
        stem: tuple[Stage, ...] = (Stage(ConvBlock(channels, kernel=3, padding=1, norm=False, bias=True)),)
    else:
        stem = (Stage(ConvBlock(channels, kernel=kernel, padding=0, norm=False, bias=True), stride=2), pool)
    stages = tuple(
        pool if isinstance(row, str) else Stage(Fire(*row[:3], bypass=bypass, norm=small), repeats=row[3])
        for row in body
    )
    suffix = "" if bypass == "none" else f"_{bypass}"
    return NetworkSpec(
        name=f"squeezenet{version}{suffix}",
        stem=stem,
        stages=stages,
        head=Head(classifier="conv", dropout=0.5, pool="avg"),
        in_channels=in_channels,
        resolution=32 if small else 224,
        num_classes=num_classes,
    )


def _register(version: str, bypass: str) -> None:
    def build(*, num_classes: int = 1000, in_channels: int = 3, small: bool = False) -> NetworkSpec:
        return squeezenet(version, bypass=bypass, num_classes=num_classes, in_channels=in_channels, small=small)

    what = "" if bypass == "none" else f" with {bypass} bypass (paper section 6)"
    build.__doc__ = f"SqueezeNet {version.replace('_', '.')}{what} (Iandola et al., 2016)."
    suffix = "" if bypass == "none" else f"_{bypass}"
    register(
        f"squeezenet{version}{suffix}",
        family="squeezenet",
        paper=_PAPER,
        torchvision=f"squeezenet{version}" if bypass == "none" else None,
        published_params=_BYPASS_PARAMS.get((version, bypass)),
        small=_SMALL,
    )(build)


for _version in _LAYOUTS:
    for _bypass in Fire.bypasses:
        _register(_version, _bypass)
