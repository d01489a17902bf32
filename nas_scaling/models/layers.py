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


class DepthwiseConv2d(nn.Conv2d):
    """A depthwise ``nn.Conv2d`` (``groups`` = channels, "same" padding) that, on a square map too
    small for its kernel, convolves with only the taps that ever meet the map: on a 1x1 map a 5x5
    kernel's centre alone (a per-channel product), on a 2x2 map its central 3x3. The other taps only
    ever meet zero padding, so the outputs are the same (to the bit without a bias) and their
    gradients the same zeros; the weights keep their shape, hence the parameter count, the state dict
    and the MACs counted (for the whole kernel, as the papers count them). It matters on CPU, where
    PyTorch's depthwise backward on such maps is slow: EfficientNet's last stages run on 1x1 and 2x2
    maps at 16-32 px inputs (a training step of the grid's 2xFLOPS efficientnet_tiny candidates at
    16 px: 1.47x faster, ``benchmarks/depthwise_step.py``). In eval mode it is the plain convolution,
    so every counter of executed operations (fvcore, FlopCounterMode) and every latency measurement
    sees the network as built; the backward pass, where the time goes, runs in training."""

    def forward(self, x: Tensor) -> Tensor:
        size, kernel, stride = x.shape[-1], self.kernel_size[0], self.stride[0]
        centre = kernel // 2
        keep = size - 1  # taps farther than this from the centre never meet the map
        if (x.shape[-2] != size or keep >= centre or keep % stride or self.padding != (centre, centre)
                or self.kernel_size != (kernel, kernel) or self.dilation != (1, 1) or not self.training):
            return super().forward(x)
        weight = self.weight[:, :, centre - keep : centre + keep + 1, centre - keep : centre + keep + 1]
        if keep == 0:  # a 1x1 map: the centre tap times the pixel
            out = x * weight.reshape(1, -1, 1, 1)
            return out if self.bias is None else out + self.bias.reshape(1, -1, 1, 1)
        return F.conv2d(x, weight, self.bias, self.stride, keep, 1, self.groups)


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
