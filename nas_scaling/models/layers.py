"""Names in specs resolved to torch layers."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import nn
from torchvision.ops.misc import Conv2dNormActivation

__all__ = ["activation", "conv_bn_act"]

_ACTIVATIONS: dict[str, type[nn.Module] | None] = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "silu": nn.SiLU,
    "hardswish": nn.Hardswish,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "none": None,
}
_NO_INPLACE = {"gelu", "tanh", "sigmoid"}


def activation(name: str) -> Callable[..., nn.Module] | None:
    """The activation class for ``name`` (``None`` for ``"none"``), in-place where torch allows."""
    cls = _ACTIVATIONS[name]
    if cls is None or name in _NO_INPLACE:
        return cls
    return partial(cls, inplace=True)


def conv_bn_act(
    in_channels: int,
    out_channels: int,
    kernel: int,
    *,
    stride: int = 1,
    padding: int | None = None,
    groups: int = 1,
    norm: bool = True,
    bias: bool | None = None,
    act: str = "relu",
    bn_eps: float = 1e-5,
) -> Conv2dNormActivation:
    """torchvision's Conv2dNormActivation with our names; bias defaults to ``not norm``."""
    return Conv2dNormActivation(
        in_channels,
        out_channels,
        kernel,
        stride=stride,
        padding=(kernel - 1) // 2 if padding is None else padding,
        groups=groups,
        norm_layer=partial(nn.BatchNorm2d, eps=bn_eps) if norm else None,
        activation_layer=activation(act),
        inplace=None,
        bias=(not norm) if bias is None else bias,
    )
