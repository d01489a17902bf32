"""DepthwiseConv2d: on a map smaller than its kernel it convolves with the taps that meet the map
only, over an explicitly padded input; outputs and gradients must be those of the plain convolution."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nas_scaling.models.layers import DepthwiseConv2d, conv_bn_act


def _cases() -> list[tuple[int, tuple[int, int], int, int]]:
    """(kernel, map, stride, padding) with "same" padding and with less, wherever the plain
    convolution is defined."""
    cases = []
    for kernel in (3, 5, 7):
        for size in ((1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (2, 4), (1, 6)):
            for stride in (1, 2, 3):
                for padding in sorted({kernel // 2, kernel // 2 - 1}):
                    if min(size) + 2 * padding >= kernel:
                        cases.append((kernel, size, stride, padding))
    return cases


@pytest.mark.parametrize(("kernel", "size", "stride", "padding"), _cases())
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("channels_last", [False, True])
def test_same_outputs_and_gradients_as_the_plain_convolution(
    kernel: int, size: tuple[int, int], stride: int, padding: int, bias: bool, channels_last: bool
) -> None:
    height, width = size
    torch.manual_seed(kernel * 100 + height * 10 + width + stride)
    plain = nn.Conv2d(6, 6, kernel, stride=stride, padding=padding, groups=6, bias=bias)
    fast = DepthwiseConv2d(6, 6, kernel, stride=stride, padding=padding, groups=6, bias=bias)
    fast.load_state_dict(plain.state_dict())
    x = torch.randn(4, 6, height, width)
    if channels_last:  # the layout the training loop uses
        plain, fast = plain.to(memory_format=torch.channels_last), fast.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    x_plain, x_fast = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_plain, out_fast = plain(x_plain), fast(x_fast)
    if bias:  # the bias is added in another order: equal to rounding
        torch.testing.assert_close(out_fast, out_plain, rtol=1e-6, atol=1e-6)
    else:  # the unused taps only ever add products with zero padding: equal to the bit
        assert torch.equal(out_plain, out_fast)
    upstream = torch.randn_like(out_plain)
    (out_plain * upstream).sum().backward()
    (out_fast * upstream).sum().backward()
    assert fast.weight.grad is not None and plain.weight.grad is not None
    torch.testing.assert_close(fast.weight.grad, plain.weight.grad, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(x_fast.grad, x_plain.grad, rtol=1e-5, atol=1e-6)
    if bias:
        torch.testing.assert_close(fast.bias.grad, plain.bias.grad, rtol=1e-5, atol=1e-6)


def test_eval_mode_runs_the_plain_convolution_for_the_counters() -> None:
    from torch.utils.flop_counter import FlopCounterMode

    conv = DepthwiseConv2d(4, 4, 5, padding=2, groups=4, bias=False)
    x = torch.randn(1, 4, 1, 1)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        conv.eval()(x)
    assert counter.get_total_flops() == 2 * 4 * 25  # the whole kernel, as the cost model counts it


def test_a_tap_beyond_the_map_gets_a_zero_gradient() -> None:
    conv = DepthwiseConv2d(3, 3, 5, padding=2, groups=3, bias=False)
    conv(torch.randn(2, 3, 1, 1)).sum().backward()
    assert conv.weight.grad is not None
    grad = conv.weight.grad.clone()
    assert grad[:, :, 2, 2].abs().sum() > 0
    grad[:, :, 2, 2] = 0
    assert not grad.any()


def test_the_builder_makes_depthwise_convolutions_of_this_kind_only() -> None:
    torch.manual_seed(0)
    depthwise = conv_bn_act(8, 8, 5, groups=8)
    torch.manual_seed(0)
    reference = nn.Conv2d(8, 8, 5, padding=2, groups=8, bias=False)
    assert type(depthwise[0]) is DepthwiseConv2d
    assert torch.equal(depthwise[0].weight, reference.weight)  # same initialisation, no second draw
    assert type(conv_bn_act(8, 16, 3)[0]) is nn.Conv2d
    assert type(conv_bn_act(8, 16, 3, groups=2)[0]) is nn.Conv2d
