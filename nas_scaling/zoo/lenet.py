"""LeNet-5: LeCun, Bottou, Bengio & Haffner, "Gradient-Based Learning Applied to Document
Recognition", Proc. IEEE 86(11), 1998.

C1-S2-C3-S4-C5-F6-output with tanh units, C3 fully connected to S2 (the paper's sparse C3 table is a
1998 economy of compute, not of the architecture) and the subsampling layers as plain 2x2 average
pools (the paper's trainable per-map coefficient and bias are left out). That gives the commonly
quoted 61,706 parameters for a 32x32x1 input and 10 classes; the output layer is a plain linear one
instead of the paper's Euclidean RBF units, which has the same parameter count.
"""

from __future__ import annotations

from nas_scaling.spec import ConvBlock, Head, NetworkSpec, Pool, Stage
from nas_scaling.zoo.registry import register

__all__ = ["lenet5"]


def _conv(channels: int) -> ConvBlock:
    return ConvBlock(channels, kernel=5, padding=0, norm=False, bias=True, act="tanh")


@register(
    "lenet5",
    family="lenet",
    paper="LeCun et al., Gradient-Based Learning Applied to Document Recognition, Proc. IEEE 1998",
    published_params=61706,
    small="LeNet-5 is a 32x32 network already: small=True is its native form with the requested "
    "input channels and classes.",
)
def lenet5(*, num_classes: int = 10, in_channels: int = 1, small: bool = False) -> NetworkSpec:
    """LeNet-5 (LeCun et al. 1998): 61,706 parameters at 32x32x1 and 10 classes.

    Defaults to its native 1 channel and 10 classes; ``small`` changes nothing (32x32 either way).
    Every layer is a body stage (no stem), so depth scaling repeats the convolutions.
    """
    avg = Stage(Pool(op="avg", kernel=2), stride=2)
    return NetworkSpec(
        name="lenet5",
        stem=(),
        stages=(Stage(_conv(6)), avg, Stage(_conv(16)), avg, Stage(_conv(120))),
        head=Head(pool="none", hidden=(84,), act="tanh"),
        in_channels=in_channels,
        resolution=32,
        num_classes=num_classes,
    )
