"""Names in specs resolved to torch layers."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch.nn.functional as F
from torch import Tensor, nn
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


def _taps(size: int, kernel: int, stride: int, padding: int) -> tuple[int, int, int, int] | None:
    """Along one side: the first and last tap that ever meets the map and the zero padding the taps
    then need before and after it, or ``None`` if that padding would be negative."""
    last_out = (size + 2 * padding - kernel) // stride  # the last output position
    first = max(0, padding - last_out * stride)
    last = min(kernel - 1, size - 1 + padding)
    before = padding - first
    after = last_out * stride + last - padding + 1 - size
    if before < 0 or after < 0 or last < first:
        return None
    return first, last, before, after


class DepthwiseConv2d(nn.Conv2d):
    """A depthwise ``nn.Conv2d`` that, on a map smaller than its kernel, convolves with only the taps
    that ever meet the map, over an explicitly zero-padded input. On a 1x1 map a 5x5 kernel's
    centre alone (a per-channel product), on a 2x2 map its central 3x3 on the map padded to 4x4, on
    a 4x4 map the 5x5 kernel on the map padded to 8x8. The taps left out only ever meet zero padding
    and the padding is the same zeros, so the outputs are the same (to the bit without a bias) and
    the gradients the same to rounding; the weights keep their shape, hence the parameter count, the
    state dict and the MACs counted (for the whole kernel, as the papers count them).

    It matters on CPU, where PyTorch 2.14's oneDNN depthwise backward on a map smaller than the
    kernel (whose padding then exceeds the map) is 1.8-7.6x slower than on the same map padded first
    (``benchmarks/depthwise_shapes.py``):
    EfficientNet's last stages run on 1x1, 2x2 and 4x4 maps at 16-32 px inputs (the grid's 2xFLOPS
    efficientnet_tiny candidates at 16 px, ``benchmarks/depthwise_step.py``). In eval mode it is the
    plain convolution, so every counter of executed operations (fvcore, FlopCounterMode) and every
    latency measurement sees the network as built; the backward pass, where the time goes, runs in
    training."""

    def forward(self, x: Tensor) -> Tensor:
        if (not self.training or self.dilation != (1, 1) or not isinstance(self.padding, tuple)
                or self.padding_mode != "zeros"
                or (x.shape[-2] >= self.kernel_size[0] and x.shape[-1] >= self.kernel_size[1])):
            return super().forward(x)
        rows = _taps(x.shape[-2], self.kernel_size[0], self.stride[0], self.padding[0])
        cols = _taps(x.shape[-1], self.kernel_size[1], self.stride[1], self.padding[1])
        if rows is None or cols is None:
            return super().forward(x)
        weight = self.weight[:, :, rows[0] : rows[1] + 1, cols[0] : cols[1] + 1]
        if weight.shape[-2:] == (1, 1) and x.shape[-2:] == (1, 1):  # one tap on one pixel: a product
            out = x * weight.reshape(1, -1, 1, 1)
            return out if self.bias is None else out + self.bias.reshape(1, -1, 1, 1)
        padded = F.pad(x, (cols[2], cols[3], rows[2], rows[3]))
        return F.conv2d(padded, weight, self.bias, self.stride, 0, 1, self.groups)


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
    """torchvision's Conv2dNormActivation with our names; bias defaults to ``not norm``; a depthwise
    convolution is a :class:`DepthwiseConv2d`."""
    block = Conv2dNormActivation(
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
    if groups > 1 and groups == in_channels == out_channels:
        # the same module, parameters and initialisation (no second draw from the RNG), another forward
        block[0].__class__ = DepthwiseConv2d
    return block
