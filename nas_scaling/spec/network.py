"""Network spec: stem, stages and head. Pure data, validated on construction."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from nas_scaling.errors import SpecError
from nas_scaling.spec.blocks import ACTIVATIONS, BLOCK_TYPES, Block

__all__ = ["AuxHead", "Head", "NetworkSpec", "Stage"]


@dataclass(frozen=True)
class Stage:
    """``repeats`` copies of one block; ``stride`` applies to the first copy."""

    block: Block
    repeats: int = 1
    stride: int = 1

    def __post_init__(self) -> None:
        if type(self.block) not in BLOCK_TYPES.values():
            raise SpecError(f"block must be a block spec ({', '.join(BLOCK_TYPES)}), got {self.block!r}")
        if not isinstance(self.repeats, int) or isinstance(self.repeats, bool) or self.repeats < 1:
            raise SpecError(f"repeats must be a positive integer, got {self.repeats!r}")
        allowed = type(self.block).strides
        if self.stride not in allowed or isinstance(self.stride, bool):
            raise SpecError(
                f"stride of a {self.block.kind} stage must be one of "
                f"{', '.join(map(str, allowed))}, got {self.stride!r}"
            )


POOLS = ("avg", "max", "none")
CLASSIFIERS = ("linear", "conv")


@dataclass(frozen=True)
class Head:
    """What follows the last stage.

    ``conv``: a 1x1 conv + BN + act to that many channels (EfficientNet, MobileNetV2: 1280).
    ``norm``: BN + act before pooling (DenseNet's final norm). ``pool``: global ``avg``/``max``
    pooling to ``pool_size`` x ``pool_size`` (AlexNet 6, VGG 7), or ``none`` to flatten the map as
    is (LeNet). ``hidden``: widths of fully connected layers before the classifier, each followed by
    ``act``. ``dropout`` precedes every linear layer. ``classifier="conv"`` is SqueezeNet's: a 1x1
    conv to the classes + act, then the pooling.
    """

    conv: int | None = None
    norm: bool = False
    act: str = "relu"
    pool: str = "avg"
    pool_size: int = 1
    hidden: tuple[int, ...] = ()
    dropout: float = 0.0
    classifier: str = "linear"

    def __post_init__(self) -> None:
        if self.conv is not None and (not isinstance(self.conv, int) or isinstance(self.conv, bool) or self.conv < 1):
            raise SpecError(f"head.conv must be a positive integer or null, got {self.conv!r}")
        if self.act not in ACTIVATIONS:
            raise SpecError(f"head.act must be one of {', '.join(ACTIVATIONS)}, got {self.act!r}")
        if self.pool not in POOLS:
            raise SpecError(f"head.pool must be one of {', '.join(POOLS)}, got {self.pool!r}")
        if not isinstance(self.pool_size, int) or isinstance(self.pool_size, bool) or self.pool_size < 1:
            raise SpecError(f"head.pool_size must be a positive integer, got {self.pool_size!r}")
        if not isinstance(self.hidden, tuple) or not all(
            isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in self.hidden
        ):
            raise SpecError(f"head.hidden must be a list of positive integers, got {self.hidden!r}")
        d = self.dropout
        if not isinstance(d, (int, float)) or isinstance(d, bool) or not 0.0 <= d < 1.0:
            raise SpecError(f"head.dropout must be a number in [0, 1), got {self.dropout!r}")
        if self.classifier not in CLASSIFIERS:
            raise SpecError(f"head.classifier must be one of linear, conv, got {self.classifier!r}")
        if self.classifier == "conv" and self.hidden:
            raise SpecError("head.hidden must be empty when head.classifier is 'conv'")


def _count(name: str, value: object, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise SpecError(f"{name} must be an integer >= {low}, got {value!r}")


@dataclass(frozen=True)
class AuxHead:
    """An auxiliary classifier on the output of body stage ``after`` (an index into ``stages``),
    used in training only: the built network returns ``(logits, aux0, aux1, ...)`` in training
    mode and the logits alone in eval mode, and the training loss adds ``weight`` times each aux
    head's loss (Szegedy et al. 2015: 0.3; 2016: 0.4).

    Layers: an average pool, adaptive to ``pool`` x ``pool`` (GoogLeNet: 4), or with
    ``pool_kernel`` > 0 a fixed ``pool_kernel`` x ``pool_kernel`` one at ``pool_stride`` (Inception
    v3: 5, 3); a 1x1 conv to ``conv`` channels; with ``conv2`` > 0 an unpadded ``conv2_kernel`` conv
    to ``conv2`` channels and a global average pool (Inception v3: 768, 5); flatten; a linear layer
    + ReLU per ``hidden`` width (GoogLeNet: 1024); dropout (GoogLeNet: 0.7); the classifier. Every
    conv is conv + BN (eps 1e-3) + ReLU, torchvision's ``BasicConv2d``."""

    after: int
    pool: int = 4
    pool_kernel: int = 0
    pool_stride: int = 1
    conv: int = 128
    conv2: int = 0
    conv2_kernel: int = 5
    hidden: tuple[int, ...] = ()
    dropout: float = 0.0
    weight: float = 0.3

    def __post_init__(self) -> None:
        _count("aux.after", self.after, 0)
        for name in ("pool", "pool_stride", "conv", "conv2_kernel"):
            _count(f"aux.{name}", getattr(self, name), 1)
        _count("aux.pool_kernel", self.pool_kernel, 0)
        _count("aux.conv2", self.conv2, 0)
        if not isinstance(self.hidden, tuple) or not all(
            isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in self.hidden
        ):
            raise SpecError(f"aux.hidden must be a list of positive integers, got {self.hidden!r}")
        d = self.dropout
        if not isinstance(d, (int, float)) or isinstance(d, bool) or not 0.0 <= d < 1.0:
            raise SpecError(f"aux.dropout must be a number in [0, 1), got {d!r}")
        w = self.weight
        if not isinstance(w, (int, float)) or isinstance(w, bool) or not math.isfinite(w) or w < 0:
            raise SpecError(f"aux.weight must be a non-negative number, got {w!r}")

    def pooled_size(self, size: int) -> int:
        """Side of the map after the pool (< 1: collapsed)."""
        return (size - self.pool_kernel) // self.pool_stride + 1 if self.pool_kernel else self.pool

    def features(self, size: int) -> int:
        """Inputs of the first linear layer for a ``size`` x ``size`` stage output (< 1: collapsed)."""
        side = self.pooled_size(size)
        if self.conv2:
            return self.conv2 if side - self.conv2_kernel + 1 >= 1 and side >= 1 else 0
        return self.conv * side * side if side >= 1 else 0


@dataclass(frozen=True)
class NetworkSpec:
    """A whole network. ``stem`` stages are scaled in width only; ``stages`` also in depth."""

    name: str
    stem: tuple[Stage, ...]
    stages: tuple[Stage, ...]
    head: Head = field(default_factory=Head)
    in_channels: int = 3
    resolution: int = 224
    num_classes: int = 1000
    stochastic_depth: float = 0.0
    """Largest drop probability of residual branches, rising linearly over blocks (EfficientNet)."""
    aux: tuple[AuxHead, ...] = ()
    """Auxiliary classifiers used in training only (GoogLeNet, Inception v3); files and compact
    forms carry this field only when it is not empty."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SpecError(f"name must be a non-empty string, got {self.name!r}")
        for label, value in (("stem", self.stem), ("stages", self.stages)):
            if not isinstance(value, tuple) or not all(isinstance(s, Stage) for s in value):
                raise SpecError(f"{label} must be a list of stages, got {value!r}")
        if not self.stem and not self.stages:
            raise SpecError("a network needs at least one stage in stem or stages")
        if not isinstance(self.head, Head):
            raise SpecError(f"head must be a head spec, got {self.head!r}")
        for label in ("in_channels", "resolution", "num_classes"):
            value = getattr(self, label)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SpecError(f"{label} must be a positive integer, got {value!r}")
        sd = self.stochastic_depth
        if not isinstance(sd, (int, float)) or isinstance(sd, bool) or not math.isfinite(sd) or not 0.0 <= sd < 1.0:
            raise SpecError(f"stochastic_depth must be a number in [0, 1), got {sd!r}")
        if not isinstance(self.aux, tuple) or not all(isinstance(a, AuxHead) for a in self.aux):
            raise SpecError(f"aux must be a list of auxiliary heads, got {self.aux!r}")
        for a in self.aux:
            if a.after >= len(self.stages):
                raise SpecError(
                    f"aux.after must name one of the {len(self.stages)} body stages (0 to {len(self.stages) - 1}), "
                    f"got {a.after}"
                )

    @property
    def all_stages(self) -> tuple[Stage, ...]:
        return self.stem + self.stages

    def stage_label(self, index: int) -> str:
        """``stem[i]`` or ``stages[j]`` for an index into :attr:`all_stages`."""
        n = len(self.stem)
        return f"stem[{index}]" if index < n else f"stages[{index - n}]"
