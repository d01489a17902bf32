"""Block specs: one frozen dataclass per block kind of the architecture language.

A block spec says what one repeat of a stage computes. Channel counts that the block produces are
fields of the block (``channels`` for most kinds; the branch widths of Fire and Inception; the
growth of a dense block). Stride lives on the stage and applies to the first repeat. Layer choices
are names (``act="silu"``), resolved to torch classes in :mod:`nas_scaling.models`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from nas_scaling.errors import SpecError

__all__ = [
    "ACTIVATIONS",
    "Block",
    "BLOCK_TYPES",
    "ConvBlock",
    "DenseBlock",
    "DepthwiseSeparable",
    "Fire",
    "Inception",
    "MBConv",
    "Pool",
    "Residual",
    "Transition",
    "block_out_channels",
]

ACTIVATIONS: tuple[str, ...] = ("relu", "relu6", "silu", "hardswish", "gelu", "tanh", "sigmoid", "none")


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise SpecError(message)


def _positive_int(name: str, value: object) -> None:
    _check(
        isinstance(value, int) and not isinstance(value, bool) and value >= 1,
        f"{name} must be a positive integer, got {value!r}",
    )


def _non_negative_int(name: str, value: object) -> None:
    _check(
        isinstance(value, int) and not isinstance(value, bool) and value >= 0,
        f"{name} must be a non-negative integer, got {value!r}",
    )


def _act(value: object) -> None:
    _check(value in ACTIVATIONS, f"act must be one of {', '.join(ACTIVATIONS)}, got {value!r}")


def _kernel(value: object, allowed: tuple[int, ...]) -> None:
    _check(
        value in allowed and not isinstance(value, bool),
        f"kernel must be one of {', '.join(map(str, allowed))}, got {value!r}",
    )


def _fraction(name: str, value: object, *, low_open: bool, high: float = 1.0) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        v = float(value)  # type: ignore[arg-type]
        ok = (v > 0.0 if low_open else v >= 0.0) and v <= high
    bound = "(0" if low_open else "[0"
    _check(ok, f"{name} must be a number in {bound}, {high:g}], got {value!r}")


@dataclass(frozen=True)
class ConvBlock:
    """Plain convolution (+ batch norm) + activation: LeNet, AlexNet, VGG and every stem."""

    kind: ClassVar[str] = "conv"
    strides: ClassVar[tuple[int, ...]] = (1, 2, 4)

    channels: int
    kernel: int = 3
    padding: int | None = None
    """Zero padding on each side; ``None`` means ``kernel // 2`` ("same" at stride 1)."""
    norm: bool = True
    bias: bool = False
    act: str = "relu"

    def __post_init__(self) -> None:
        _positive_int("channels", self.channels)
        _kernel(self.kernel, (1, 2, 3, 4, 5, 6, 7, 9, 11))
        if self.padding is not None:
            _non_negative_int("padding", self.padding)
        _act(self.act)

    @property
    def pad(self) -> int:
        return self.kernel // 2 if self.padding is None else self.padding


@dataclass(frozen=True)
class DepthwiseSeparable:
    """Depthwise kxk conv + BN + act, then pointwise 1x1 conv + BN + act (MobileNet v1)."""

    kind: ClassVar[str] = "dwsep"
    strides: ClassVar[tuple[int, ...]] = (1, 2)

    channels: int
    kernel: int = 3
    act: str = "relu"

    def __post_init__(self) -> None:
        _positive_int("channels", self.channels)
        _kernel(self.kernel, (3, 5, 7))
        _act(self.act)


@dataclass(frozen=True)
class MBConv:
    """Inverted residual with linear bottleneck (MobileNetV2) and optional squeeze-excitation
    (EfficientNet). The residual is used when ``skip`` and the shapes allow it (stride 1, same
    channels); stochastic depth on that residual comes from the network's ``stochastic_depth``."""

    kind: ClassVar[str] = "mbconv"
    strides: ClassVar[tuple[int, ...]] = (1, 2)

    channels: int
    expand: float = 6.0
    kernel: int = 3
    se: float = 0.0
    """Squeeze-excitation ratio of the block's input channels (EfficientNet: 0.25); 0 = no SE."""
    act: str = "silu"
    skip: bool = True

    def __post_init__(self) -> None:
        _positive_int("channels", self.channels)
        _check(
            isinstance(self.expand, (int, float)) and not isinstance(self.expand, bool)
            and math.isfinite(self.expand) and 1.0 <= self.expand <= 16.0,
            f"expand must be a number in [1, 16], got {self.expand!r}",
        )
        _kernel(self.kernel, (3, 5, 7))
        _fraction("se", self.se, low_open=False)
        _act(self.act)

    def expanded(self, in_channels: int) -> int:
        return in_channels if self.expand == 1 else round(in_channels * self.expand)

    def squeezed(self, in_channels: int) -> int:
        return max(1, int(in_channels * self.se))


@dataclass(frozen=True)
class Residual:
    """ResNet residual block: ``basic`` (two 3x3 convs) or ``bottleneck`` (1x1, 3x3, 1x1 with the
    inner width ``channels // expansion``); a 1x1 projection when the shapes change."""

    kind: ClassVar[str] = "residual"
    strides: ClassVar[tuple[int, ...]] = (1, 2)
    styles: ClassVar[tuple[str, ...]] = ("basic", "bottleneck")

    channels: int
    style: str = "basic"
    expansion: int = 4

    def __post_init__(self) -> None:
        _positive_int("channels", self.channels)
        _check(self.style in self.styles, f"style must be one of basic, bottleneck, got {self.style!r}")
        _positive_int("expansion", self.expansion)
        if self.style == "bottleneck":
            _check(
                self.channels % self.expansion == 0,
                f"channels ({self.channels}) must be divisible by expansion ({self.expansion})",
            )

    @property
    def width(self) -> int:
        return self.channels // self.expansion if self.style == "bottleneck" else self.channels


@dataclass(frozen=True)
class Fire:
    """SqueezeNet's Fire module: 1x1 squeeze, then 1x1 and 3x3 expands concatenated.

    ``bypass``: ``none``; ``simple`` adds the input when the channel counts match; ``complex`` also
    adds a 1x1 conv of the input when they do not (SqueezeNet paper, section 6)."""

    kind: ClassVar[str] = "fire"
    strides: ClassVar[tuple[int, ...]] = (1,)
    bypasses: ClassVar[tuple[str, ...]] = ("none", "simple", "complex")

    squeeze: int
    expand1x1: int
    expand3x3: int
    bypass: str = "none"
    norm: bool = False

    def __post_init__(self) -> None:
        _positive_int("squeeze", self.squeeze)
        _positive_int("expand1x1", self.expand1x1)
        _positive_int("expand3x3", self.expand3x3)
        _check(
            self.bypass in self.bypasses,
            f"bypass must be one of none, simple, complex, got {self.bypass!r}",
        )

    @property
    def channels(self) -> int:
        return self.expand1x1 + self.expand3x3


@dataclass(frozen=True)
class DenseBlock:
    """DenseNet dense block: ``layers`` BN-ReLU-1x1(bn_size*growth)-BN-ReLU-3x3(growth) layers, each
    concatenating its ``growth`` new channels to its input."""

    kind: ClassVar[str] = "dense"
    strides: ClassVar[tuple[int, ...]] = (1,)

    layers: int
    growth: int = 32
    bn_size: int = 4

    def __post_init__(self) -> None:
        _positive_int("layers", self.layers)
        _positive_int("growth", self.growth)
        _positive_int("bn_size", self.bn_size)


@dataclass(frozen=True)
class Transition:
    """DenseNet transition: BN-ReLU-1x1 conv to ``floor(compression * in)`` channels, then a 2x2
    average pool when the stage stride is 2."""

    kind: ClassVar[str] = "transition"
    strides: ClassVar[tuple[int, ...]] = (1, 2)

    compression: float = 0.5

    def __post_init__(self) -> None:
        _fraction("compression", self.compression, low_open=True)


@dataclass(frozen=True)
class Inception:
    """GoogLeNet Inception module: four parallel branches concatenated (1x1; 1x1 -> 3x3;
    1x1 -> kxk with k = ``kernel5``; 3x3 max pool -> 1x1). torchvision's GoogLeNet uses
    ``kernel5=3``, a known deviation from the paper that its weights keep."""

    kind: ClassVar[str] = "inception"
    strides: ClassVar[tuple[int, ...]] = (1,)

    c1x1: int
    c3x3_reduce: int
    c3x3: int
    c5x5_reduce: int
    c5x5: int
    pool_proj: int
    kernel5: int = 5

    def __post_init__(self) -> None:
        for name in ("c1x1", "c3x3_reduce", "c3x3", "c5x5_reduce", "c5x5", "pool_proj"):
            _positive_int(name, getattr(self, name))
        _kernel(self.kernel5, (3, 5))

    @property
    def channels(self) -> int:
        return self.c1x1 + self.c3x3 + self.c5x5 + self.pool_proj


@dataclass(frozen=True)
class Pool:
    """Max or average pooling between stages (stride from the stage)."""

    kind: ClassVar[str] = "pool"
    strides: ClassVar[tuple[int, ...]] = (1, 2)
    ops: ClassVar[tuple[str, ...]] = ("max", "avg")

    op: str = "max"
    kernel: int = 3
    padding: int = 0
    ceil_mode: bool = False

    def __post_init__(self) -> None:
        _check(self.op in self.ops, f"op must be one of max, avg, got {self.op!r}")
        _kernel(self.kernel, (1, 2, 3, 4, 5))
        _non_negative_int("padding", self.padding)
        _check(self.padding <= self.kernel // 2, f"padding must be at most kernel // 2, got {self.padding}")


Block = ConvBlock | DepthwiseSeparable | MBConv | Residual | Fire | DenseBlock | Transition | Inception | Pool

BLOCK_TYPES: dict[str, type] = {
    cls.kind: cls
    for cls in (ConvBlock, DepthwiseSeparable, MBConv, Residual, Fire, DenseBlock, Transition, Inception, Pool)
}


def block_out_channels(block: Block, in_channels: int) -> int:
    """Channels a block produces from ``in_channels``."""
    if isinstance(block, DenseBlock):
        return in_channels + block.layers * block.growth
    if isinstance(block, Transition):
        return max(1, int(in_channels * block.compression))
    if isinstance(block, Pool):
        return in_channels
    return block.channels
