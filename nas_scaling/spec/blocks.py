"""Block specs: one frozen dataclass per block kind of the architecture language.

A block spec says what one repeat of a stage computes. Channel counts that the block produces are
fields of the block (``channels`` for most kinds; the branch widths of Fire and Inception; the
growth of a dense block). Stride lives on the stage and applies to the first repeat. Layer choices
are names (``act="silu"``), resolved to torch classes in :mod:`nas_scaling.models`.

Each kind also carries its pure behaviour (:class:`BlockSpec`): the channels and feature-map size it
produces, which of its fields a width or depth multiplier scales, and its compact-form keys. Shape
inference, compact forms and scaling dispatch through these, so a new kind is one class here plus
its torch module, its ``MODULES`` entry and its ``BLOCK_COSTS`` entry.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import ClassVar, TypeVar

from nas_scaling.errors import SpecError
from nas_scaling.spec.branches import Branch, BranchPool, branch_out_size, reduce3x3, same

__all__ = [
    "ACTIVATIONS",
    "Block",
    "BlockSpec",
    "BLOCK_TYPES",
    "ConvBlock",
    "DenseBlock",
    "DepthwiseSeparable",
    "Fire",
    "Inception",
    "InceptionA",
    "InceptionB",
    "InceptionC",
    "InceptionD",
    "InceptionE",
    "LocalResponseNorm",
    "MBConv",
    "MultiBranch",
    "Pool",
    "Residual",
    "Transition",
    "block_out_channels",
    "conv_out_size",
    "pool_out_size",
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


def conv_out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def pool_out_size(size: int, kernel: int, stride: int, padding: int, ceil_mode: bool) -> int:
    """torch's pooling output size, ceil mode included."""
    span = size + 2 * padding - kernel
    if span < 0:
        return 0
    if not ceil_mode:
        return span // stride + 1
    out = math.ceil(span / stride) + 1
    if (out - 1) * stride >= size + padding:
        out -= 1
    return out


Scale = Callable[[int], int]
"""A rounding rule from :mod:`nas_scaling.scaling`: old channel count (or repeats) -> new one."""


_B = TypeVar("_B", bound="BlockSpec")


class BlockSpec(ABC):
    """What every block kind says about itself, pure and without torch.

    ``kind`` names it in files and compact forms; ``strides`` are the stage strides it accepts;
    ``compact_keys`` maps each field to its compact token key (``""`` for a string-valued field,
    written as a bare word from ``compact_words``; :meth:`word_field` says whose word it is when a
    kind has several); ``quiet`` names fields added after specs of the kind were first written:
    files and compact forms carry them only when they differ from their default, so every spec
    written before reads and writes exactly as it did. ``has_drop_path`` says that the builder
    gives it a stochastic-depth rate for its residual branch. The methods say what it produces and
    which of its fields a width or depth multiplier scales; the rounding itself is the caller's.
    """

    kind: ClassVar[str]
    strides: ClassVar[tuple[int, ...]]
    compact_keys: ClassVar[dict[str, str]]
    compact_words: ClassVar[tuple[str, ...]] = ()
    quiet: ClassVar[tuple[str, ...]] = ()
    has_drop_path: ClassVar[bool] = False

    @classmethod
    def word_field(cls, word: str) -> str | None:
        """The string field that compact word ``word`` sets (None: not a word of this kind). With
        one string field, every word of ``compact_words`` is its; a kind with several overrides this."""
        if word not in cls.compact_words:
            return None
        return next((name for name, key in cls.compact_keys.items() if key == ""), None)

    @abstractmethod
    def out_channels(self, in_channels: int) -> int:
        """Channels one repeat produces from ``in_channels``."""

    @abstractmethod
    def out_size(self, size: int, stride: int) -> int:
        """Feature-map side after one repeat at ``stride`` (may be < 1: collapsed)."""

    @abstractmethod
    def scale_width(self: _B, scale: Scale) -> _B:
        """This block with ``scale`` applied to every channel count it produces."""

    def scale_depth(self: _B, repeats: int, scale: Scale) -> tuple[_B, int]:
        """(block, repeats) of a stage of ``repeats`` of this block after ``scale`` on its depth:
        by default the stage's repeats."""
        return self, scale(repeats)


@dataclass(frozen=True)
class ConvBlock(BlockSpec):
    """Plain convolution (+ batch norm) + activation: LeNet, AlexNet, VGG and every stem."""

    kind: ClassVar[str] = "conv"
    strides: ClassVar[tuple[int, ...]] = (1, 2, 4)
    compact_keys: ClassVar[dict[str, str]] = {
        "channels": "c", "kernel": "k", "padding": "p", "norm": "bn", "bias": "b", "act": "", "eps": "eps",
    }
    compact_words: ClassVar[tuple[str, ...]] = ACTIVATIONS
    quiet: ClassVar[tuple[str, ...]] = ("eps",)

    channels: int
    kernel: int = 3
    padding: int | None = None
    """Zero padding on each side; ``None`` means ``kernel // 2`` ("same" at stride 1)."""
    norm: bool = True
    bias: bool = False
    act: str = "relu"
    eps: float = 1e-5
    """The batch norm's epsilon (torch's default; torchvision's Inception v3 stem uses 1e-3)."""

    def __post_init__(self) -> None:
        _positive_int("channels", self.channels)
        _kernel(self.kernel, (1, 2, 3, 4, 5, 6, 7, 9, 11))
        if self.padding is not None:
            _non_negative_int("padding", self.padding)
        _act(self.act)
        _fraction("eps", self.eps, low_open=True, high=0.1)

    @property
    def pad(self) -> int:
        return self.kernel // 2 if self.padding is None else self.padding

    def out_channels(self, in_channels: int) -> int:
        return self.channels

    def out_size(self, size: int, stride: int) -> int:
        return conv_out_size(size, self.kernel, stride, self.pad)

    def scale_width(self, scale: Scale) -> ConvBlock:
        return replace(self, channels=scale(self.channels))


@dataclass(frozen=True)
class DepthwiseSeparable(BlockSpec):
    """Depthwise kxk conv + BN + act, then pointwise 1x1 conv + BN + act (MobileNet v1)."""

    kind: ClassVar[str] = "dwsep"
    strides: ClassVar[tuple[int, ...]] = (1, 2)
    compact_keys: ClassVar[dict[str, str]] = {"channels": "c", "kernel": "k", "act": ""}
    compact_words: ClassVar[tuple[str, ...]] = ACTIVATIONS

    channels: int
    kernel: int = 3
    act: str = "relu"

    def __post_init__(self) -> None:
        _positive_int("channels", self.channels)
        _kernel(self.kernel, (3, 5, 7))
        _act(self.act)

    def out_channels(self, in_channels: int) -> int:
        return self.channels

    def out_size(self, size: int, stride: int) -> int:
        return conv_out_size(size, self.kernel, stride, (self.kernel - 1) // 2)

    def scale_width(self, scale: Scale) -> DepthwiseSeparable:
        return replace(self, channels=scale(self.channels))


@dataclass(frozen=True)
class MBConv(BlockSpec):
    """Inverted residual with linear bottleneck (MobileNetV2) and optional squeeze-excitation
    (EfficientNet). The residual is used when ``skip`` and the shapes allow it (stride 1, same
    channels); stochastic depth on that residual comes from the network's ``stochastic_depth``."""

    kind: ClassVar[str] = "mbconv"
    strides: ClassVar[tuple[int, ...]] = (1, 2)
    compact_keys: ClassVar[dict[str, str]] = {
        "channels": "c", "expand": "e", "kernel": "k", "se": "se", "act": "", "skip": "sk",
    }
    compact_words: ClassVar[tuple[str, ...]] = ACTIVATIONS
    has_drop_path: ClassVar[bool] = True

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

    def out_channels(self, in_channels: int) -> int:
        return self.channels

    def out_size(self, size: int, stride: int) -> int:
        return conv_out_size(size, self.kernel, stride, (self.kernel - 1) // 2)

    def scale_width(self, scale: Scale) -> MBConv:
        return replace(self, channels=scale(self.channels))


@dataclass(frozen=True)
class Residual(BlockSpec):
    """ResNet residual block: ``basic`` (two 3x3 convs) or ``bottleneck`` (1x1, 3x3, 1x1 with the
    inner width ``channels // expansion``).

    ``shortcut`` says what the skip does when the shapes change: ``projection`` (He et al. 2016's
    option B: a strided 1x1 conv + BN, as torchvision) or ``pad`` (option A, the paper's CIFAR
    ResNets: the input subsampled by the stride, its channels zero-padded up to ``channels``,
    parameter-free; narrowed to the first ``channels`` when a block has fewer outputs than
    inputs, which the paper never does). Where the shapes agree both are the identity."""

    kind: ClassVar[str] = "residual"
    strides: ClassVar[tuple[int, ...]] = (1, 2)
    styles: ClassVar[tuple[str, ...]] = ("basic", "bottleneck")
    shortcuts: ClassVar[tuple[str, ...]] = ("projection", "pad")
    compact_keys: ClassVar[dict[str, str]] = {"channels": "c", "style": "", "expansion": "x", "shortcut": ""}
    compact_words: ClassVar[tuple[str, ...]] = styles + shortcuts
    quiet: ClassVar[tuple[str, ...]] = ("shortcut",)
    has_drop_path: ClassVar[bool] = True

    channels: int
    style: str = "basic"
    expansion: int = 4
    shortcut: str = "projection"

    @classmethod
    def word_field(cls, word: str) -> str | None:
        return "style" if word in cls.styles else "shortcut" if word in cls.shortcuts else None

    def __post_init__(self) -> None:
        _positive_int("channels", self.channels)
        _check(self.style in self.styles, f"style must be one of basic, bottleneck, got {self.style!r}")
        _check(self.shortcut in self.shortcuts, f"shortcut must be one of projection, pad, got {self.shortcut!r}")
        _positive_int("expansion", self.expansion)
        if self.style == "bottleneck":
            _check(
                self.channels % self.expansion == 0,
                f"channels ({self.channels}) must be divisible by expansion ({self.expansion})",
            )

    @property
    def width(self) -> int:
        return self.channels // self.expansion if self.style == "bottleneck" else self.channels

    def out_channels(self, in_channels: int) -> int:
        return self.channels

    def out_size(self, size: int, stride: int) -> int:
        return conv_out_size(size, 3, stride, 1)

    def scale_width(self, scale: Scale) -> Residual:
        """A bottleneck scales its inner width, so its output stays a multiple of ``expansion``."""
        if self.style == "bottleneck":
            return replace(self, channels=scale(self.width) * self.expansion)
        return replace(self, channels=scale(self.channels))


@dataclass(frozen=True)
class Fire(BlockSpec):
    """SqueezeNet's Fire module: 1x1 squeeze, then 1x1 and 3x3 expands concatenated.

    ``bypass``: ``none``; ``simple`` adds the input when the channel counts match; ``complex`` also
    adds a 1x1 conv of the input when they do not (SqueezeNet paper, section 6)."""

    kind: ClassVar[str] = "fire"
    strides: ClassVar[tuple[int, ...]] = (1,)
    bypasses: ClassVar[tuple[str, ...]] = ("none", "simple", "complex")
    compact_keys: ClassVar[dict[str, str]] = {
        "squeeze": "q", "expand1x1": "ea", "expand3x3": "eb", "bypass": "", "norm": "bn",
    }
    compact_words: ClassVar[tuple[str, ...]] = bypasses

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

    def out_channels(self, in_channels: int) -> int:
        return self.channels

    def out_size(self, size: int, stride: int) -> int:
        return size

    def scale_width(self, scale: Scale) -> Fire:
        return replace(self, squeeze=scale(self.squeeze), expand1x1=scale(self.expand1x1),
                       expand3x3=scale(self.expand3x3))


@dataclass(frozen=True)
class DenseBlock(BlockSpec):
    """DenseNet dense block: ``layers`` BN-ReLU-1x1(bn_size*growth)-BN-ReLU-3x3(growth) layers, each
    concatenating its ``growth`` new channels to its input. ``bn_size=0``: no bottleneck, each layer
    is BN-ReLU-3x3(growth) (the plain DenseNet of Huang et al. 2017, Table 2)."""

    kind: ClassVar[str] = "dense"
    strides: ClassVar[tuple[int, ...]] = (1,)
    compact_keys: ClassVar[dict[str, str]] = {"layers": "l", "growth": "g", "bn_size": "bs"}

    layers: int
    growth: int = 32
    bn_size: int = 4

    def __post_init__(self) -> None:
        _positive_int("layers", self.layers)
        _positive_int("growth", self.growth)
        _non_negative_int("bn_size", self.bn_size)

    def out_channels(self, in_channels: int) -> int:
        return in_channels + self.layers * self.growth

    def out_size(self, size: int, stride: int) -> int:
        return size

    def scale_width(self, scale: Scale) -> DenseBlock:
        return replace(self, growth=scale(self.growth))

    def scale_depth(self, repeats: int, scale: Scale) -> tuple[DenseBlock, int]:
        """Depth is the block's own ``layers``; the stage's repeats stay."""
        return replace(self, layers=scale(self.layers)), repeats


@dataclass(frozen=True)
class Transition(BlockSpec):
    """DenseNet transition: BN-ReLU-1x1 conv to ``floor(compression * in)`` channels, then a 2x2
    average pool when the stage stride is 2."""

    kind: ClassVar[str] = "transition"
    strides: ClassVar[tuple[int, ...]] = (1, 2)
    compact_keys: ClassVar[dict[str, str]] = {"compression": "t"}

    compression: float = 0.5

    def __post_init__(self) -> None:
        _fraction("compression", self.compression, low_open=True)

    def out_channels(self, in_channels: int) -> int:
        return max(1, int(in_channels * self.compression))

    def out_size(self, size: int, stride: int) -> int:
        return size // 2 if stride == 2 else size

    def scale_width(self, scale: Scale) -> Transition:
        """Its output is a fraction of its input: nothing to scale."""
        return self

    def scale_depth(self, repeats: int, scale: Scale) -> tuple[Transition, int]:
        return self, repeats


@dataclass(frozen=True)
class Inception(BlockSpec):
    """GoogLeNet Inception module: four parallel branches concatenated (1x1; 1x1 -> 3x3;
    1x1 -> kxk with k = ``kernel5``; 3x3 max pool -> 1x1). torchvision's GoogLeNet uses
    ``kernel5=3``, a known deviation from the paper that its weights keep."""

    kind: ClassVar[str] = "inception"
    strides: ClassVar[tuple[int, ...]] = (1,)
    compact_keys: ClassVar[dict[str, str]] = {
        "c1x1": "a", "c3x3_reduce": "br", "c3x3": "b", "c5x5_reduce": "cr", "c5x5": "c",
        "pool_proj": "pp", "kernel5": "k",
    }

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

    def out_channels(self, in_channels: int) -> int:
        return self.channels

    def out_size(self, size: int, stride: int) -> int:
        return size

    def scale_width(self, scale: Scale) -> Inception:
        return replace(
            self,
            c1x1=scale(self.c1x1), c3x3_reduce=scale(self.c3x3_reduce), c3x3=scale(self.c3x3),
            c5x5_reduce=scale(self.c5x5_reduce), c5x5=scale(self.c5x5), pool_proj=scale(self.pool_proj),
        )


@dataclass(frozen=True)
class Pool(BlockSpec):
    """Max or average pooling between stages (stride from the stage)."""

    kind: ClassVar[str] = "pool"
    strides: ClassVar[tuple[int, ...]] = (1, 2)
    ops: ClassVar[tuple[str, ...]] = ("max", "avg")
    compact_keys: ClassVar[dict[str, str]] = {"op": "", "kernel": "k", "padding": "p", "ceil_mode": "ceil"}
    compact_words: ClassVar[tuple[str, ...]] = ops

    op: str = "max"
    kernel: int = 3
    padding: int = 0
    ceil_mode: bool = False

    def __post_init__(self) -> None:
        _check(self.op in self.ops, f"op must be one of max, avg, got {self.op!r}")
        _kernel(self.kernel, (1, 2, 3, 4, 5))
        _non_negative_int("padding", self.padding)
        _check(self.padding <= self.kernel // 2, f"padding must be at most kernel // 2, got {self.padding}")

    def out_channels(self, in_channels: int) -> int:
        return in_channels

    def out_size(self, size: int, stride: int) -> int:
        return pool_out_size(size, self.kernel, stride, self.padding, self.ceil_mode)

    def scale_width(self, scale: Scale) -> Pool:
        return self

    def scale_depth(self, repeats: int, scale: Scale) -> tuple[Pool, int]:
        """A pool between stages is not repeated by a depth multiplier."""
        return self, repeats


@dataclass(frozen=True)
class LocalResponseNorm(BlockSpec):
    """Local response normalisation across channels (Krizhevsky et al. 2012, section 3.3; VGG's
    A-LRN): ``b = a / (k + alpha / size * sum of a^2 over size neighbouring channels) ** beta``, as
    torch's ``nn.LocalResponseNorm``. No parameters and no multiply-adds in this project's count."""

    kind: ClassVar[str] = "lrn"
    strides: ClassVar[tuple[int, ...]] = (1,)
    compact_keys: ClassVar[dict[str, str]] = {"size": "n", "alpha": "a", "beta": "b", "k": "k"}

    size: int = 5
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 2.0

    def __post_init__(self) -> None:
        _positive_int("size", self.size)
        for name in ("alpha", "beta", "k"):
            value = getattr(self, name)
            _check(
                isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
                and value >= 0,
                f"{name} must be a non-negative number, got {value!r}",
            )

    def out_channels(self, in_channels: int) -> int:
        return in_channels

    def out_size(self, size: int, stride: int) -> int:
        return size

    def scale_width(self, scale: Scale) -> LocalResponseNorm:
        return self

    def scale_depth(self, repeats: int, scale: Scale) -> tuple[LocalResponseNorm, int]:
        """A normalisation layer is not repeated by a depth multiplier."""
        return self, repeats


class MultiBranch(BlockSpec):
    """Parallel branches concatenated, whose layers :meth:`branches` describes as pure data
    (:mod:`nas_scaling.spec.branches`); one module and one cost function read that description.
    Every int field is a channel count that a width multiplier scales, except ``kernel``."""

    pools: ClassVar[tuple[str, ...]] = ("avg", "max")
    compact_words: ClassVar[tuple[str, ...]] = pools

    @abstractmethod
    def branches(self, stride: int) -> tuple[Branch, ...]:
        """The branches of one repeat at ``stride``, in the order their outputs are concatenated."""

    def _check_fields(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            if f.name == "kernel":
                _kernel(self.kernel, (3, 5, 7))  # type: ignore[attr-defined]
            elif f.name == "pool":
                _check(self.pool in self.pools, f"pool must be one of avg, max, got {self.pool!r}")  # type: ignore[attr-defined]
            else:
                _positive_int(f.name, getattr(self, f.name))

    def out_channels(self, in_channels: int) -> int:
        return sum(b.out_channels(in_channels) for b in self.branches(1))

    def out_size(self, size: int, stride: int) -> int:
        return branch_out_size(self.branches(stride)[0], size)[0]

    def scale_width(self: _B, scale: Scale) -> _B:
        widths = [f.name for f in fields(self) if f.type == "int" and f.name != "kernel"]  # type: ignore[arg-type]
        return replace(self, **{name: scale(getattr(self, name)) for name in widths})  # type: ignore[type-var]


def _pool_branch(pool: str, proj: int) -> Branch:
    """3x3 pooling at stride 1 (padded), then a 1x1 projection."""
    return Branch((same(proj, 1),), pool=BranchPool(pool))


@dataclass(frozen=True)
class InceptionA(MultiBranch):
    """Inception v3's 35x35 module (torchvision ``InceptionA``; Szegedy et al. 2016, figure 5 with
    torchvision's extra 5x5 branch): 1x1; 1x1 -> 5x5; 1x1 -> 3x3 -> 3x3; 3x3 pool -> 1x1."""

    kind: ClassVar[str] = "inceptiona"
    strides: ClassVar[tuple[int, ...]] = (1,)
    compact_keys: ClassVar[dict[str, str]] = {
        "c1x1": "a", "c5x5_reduce": "br", "c5x5": "b", "c3x3dbl_reduce": "cr", "c3x3dbl": "c",
        "pool_proj": "pp", "pool": "",
    }

    c1x1: int
    c5x5_reduce: int
    c5x5: int
    c3x3dbl_reduce: int
    c3x3dbl: int
    pool_proj: int
    pool: str = "avg"

    def __post_init__(self) -> None:
        self._check_fields()

    def branches(self, stride: int) -> tuple[Branch, ...]:
        return (
            Branch((same(self.c1x1, 1),)),
            Branch((same(self.c5x5_reduce, 1), same(self.c5x5, 5))),
            Branch((same(self.c3x3dbl_reduce, 1), same(self.c3x3dbl, 3), same(self.c3x3dbl, 3))),
            _pool_branch(self.pool, self.pool_proj),
        )


@dataclass(frozen=True)
class InceptionB(MultiBranch):
    """Inception v3's grid reduction 35x35 -> 17x17 (torchvision ``InceptionB``; Szegedy et al. 2016,
    figure 10): unpadded 3x3 at the stage stride; 1x1 -> 3x3 -> unpadded 3x3 at the stride; 3x3 pool
    at the stride, which passes its input's channels through. At stride 1 the map loses 2 pixels."""

    kind: ClassVar[str] = "inceptionb"
    strides: ClassVar[tuple[int, ...]] = (1, 2)
    compact_keys: ClassVar[dict[str, str]] = {"c3x3": "b", "c3x3dbl_reduce": "cr", "c3x3dbl": "c", "pool": ""}

    c3x3: int
    c3x3dbl_reduce: int
    c3x3dbl: int
    pool: str = "max"

    def __post_init__(self) -> None:
        self._check_fields()

    def branches(self, stride: int) -> tuple[Branch, ...]:
        return (
            Branch((reduce3x3(self.c3x3, stride),)),
            Branch((same(self.c3x3dbl_reduce, 1), same(self.c3x3dbl, 3), reduce3x3(self.c3x3dbl, stride))),
            Branch(pool=BranchPool(self.pool, stride, 0)),
        )

    def scale_depth(self, repeats: int, scale: Scale) -> tuple[InceptionB, int]:
        """A grid reduction is not repeated by a depth multiplier."""
        return self, repeats


@dataclass(frozen=True)
class InceptionC(MultiBranch):
    """Inception v3's 17x17 module (torchvision ``InceptionC``; Szegedy et al. 2016, figure 6): an
    n x n conv factorized into 1 x n and n x 1 (n = ``kernel``, 7 in the paper): 1x1; 1x1 -> 1xn ->
    nx1; 1x1 -> nx1 -> 1xn -> nx1 -> 1xn; 3x3 pool -> 1x1. The inner convs of each factorized
    branch have its ``_reduce`` width."""

    kind: ClassVar[str] = "inceptionc"
    strides: ClassVar[tuple[int, ...]] = (1,)
    compact_keys: ClassVar[dict[str, str]] = {
        "c1x1": "a", "c7x7_reduce": "br", "c7x7": "b", "c7x7dbl_reduce": "cr", "c7x7dbl": "c",
        "pool_proj": "pp", "kernel": "k", "pool": "",
    }

    c1x1: int
    c7x7_reduce: int
    c7x7: int
    c7x7dbl_reduce: int
    c7x7dbl: int
    pool_proj: int
    kernel: int = 7
    pool: str = "avg"

    def __post_init__(self) -> None:
        self._check_fields()

    def branches(self, stride: int) -> tuple[Branch, ...]:
        n, r, d = self.kernel, self.c7x7_reduce, self.c7x7dbl_reduce
        return (
            Branch((same(self.c1x1, 1),)),
            Branch((same(r, 1), same(r, 1, n), same(self.c7x7, n, 1))),
            Branch((same(d, 1), same(d, n, 1), same(d, 1, n), same(d, n, 1), same(self.c7x7dbl, 1, n))),
            _pool_branch(self.pool, self.pool_proj),
        )


@dataclass(frozen=True)
class InceptionD(MultiBranch):
    """Inception v3's grid reduction 17x17 -> 8x8 (torchvision ``InceptionD``): 1x1 -> unpadded 3x3
    at the stage stride; 1x1 -> 1xn -> nx1 -> unpadded 3x3 at the stride (n = ``kernel``); 3x3 pool
    at the stride, which passes its input's channels through."""

    kind: ClassVar[str] = "inceptiond"
    strides: ClassVar[tuple[int, ...]] = (1, 2)
    compact_keys: ClassVar[dict[str, str]] = {
        "c3x3_reduce": "br", "c3x3": "b", "c7x7x3_reduce": "cr", "c7x7x3": "c", "kernel": "k", "pool": "",
    }

    c3x3_reduce: int
    c3x3: int
    c7x7x3_reduce: int
    c7x7x3: int
    kernel: int = 7
    pool: str = "max"

    def __post_init__(self) -> None:
        self._check_fields()

    def branches(self, stride: int) -> tuple[Branch, ...]:
        n, r = self.kernel, self.c7x7x3_reduce
        return (
            Branch((same(self.c3x3_reduce, 1), reduce3x3(self.c3x3, stride))),
            Branch((same(r, 1), same(r, 1, n), same(r, n, 1), reduce3x3(self.c7x7x3, stride))),
            Branch(pool=BranchPool(self.pool, stride, 0)),
        )

    def scale_depth(self, repeats: int, scale: Scale) -> tuple[InceptionD, int]:
        """A grid reduction is not repeated by a depth multiplier."""
        return self, repeats


@dataclass(frozen=True)
class InceptionE(MultiBranch):
    """Inception v3's 8x8 module with expanded filter banks (torchvision ``InceptionE``; Szegedy et
    al. 2016, figure 7): 1x1; 1x1 -> (1x3 | 3x1); 1x1 -> 3x3 -> (1x3 | 3x1); 3x3 pool -> 1x1. Each
    forked pair gives twice its width: out = c1x1 + 2 c3x3 + 2 c3x3dbl + pool_proj."""

    kind: ClassVar[str] = "inceptione"
    strides: ClassVar[tuple[int, ...]] = (1,)
    compact_keys: ClassVar[dict[str, str]] = {
        "c1x1": "a", "c3x3_reduce": "br", "c3x3": "b", "c3x3dbl_reduce": "cr", "c3x3dbl": "c",
        "pool_proj": "pp", "pool": "",
    }

    c1x1: int
    c3x3_reduce: int
    c3x3: int
    c3x3dbl_reduce: int
    c3x3dbl: int
    pool_proj: int
    pool: str = "avg"

    def __post_init__(self) -> None:
        self._check_fields()

    def branches(self, stride: int) -> tuple[Branch, ...]:
        b, c = self.c3x3, self.c3x3dbl
        return (
            Branch((same(self.c1x1, 1),)),
            Branch((same(self.c3x3_reduce, 1),), fork=(same(b, 1, 3), same(b, 3, 1))),
            Branch((same(self.c3x3dbl_reduce, 1), same(c, 3)), fork=(same(c, 1, 3), same(c, 3, 1))),
            _pool_branch(self.pool, self.pool_proj),
        )


Block = (
    ConvBlock | DepthwiseSeparable | MBConv | Residual | Fire | DenseBlock | Transition | Inception | Pool
    | LocalResponseNorm | InceptionA | InceptionB | InceptionC | InceptionD | InceptionE
)

BLOCK_TYPES: dict[str, type[Block]] = {
    cls.kind: cls
    for cls in (
        ConvBlock, DepthwiseSeparable, MBConv, Residual, Fire, DenseBlock, Transition, Inception, Pool,
        LocalResponseNorm, InceptionA, InceptionB, InceptionC, InceptionD, InceptionE,
    )
}
"""Every kind by its name; the same classes as ``Block`` (a contract test holds them together)."""


def block_out_channels(block: Block, in_channels: int) -> int:
    """Channels a block produces from ``in_channels``."""
    return block.out_channels(in_channels)
