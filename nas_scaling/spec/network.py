"""Network spec: stem, stages and head. Pure data, validated on construction."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from nas_scaling.errors import SpecError
from nas_scaling.spec.blocks import ACTIVATIONS, BLOCK_TYPES, Block

__all__ = ["Head", "NetworkSpec", "Stage"]


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

    @property
    def all_stages(self) -> tuple[Stage, ...]:
        return self.stem + self.stages

    def stage_label(self, index: int) -> str:
        """``stem[i]`` or ``stages[j]`` for an index into :attr:`all_stages`."""
        n = len(self.stem)
        return f"stem[{index}]" if index < n else f"stages[{index - n}]"
