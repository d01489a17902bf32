"""Shape inference on specs: channels and feature-map size after every stage, without torch."""

from __future__ import annotations

import math
from dataclasses import dataclass

from nas_scaling.errors import SpecError
from nas_scaling.spec.blocks import (
    Block,
    ConvBlock,
    DenseBlock,
    DepthwiseSeparable,
    Fire,
    Inception,
    MBConv,
    Pool,
    Residual,
    Transition,
    block_out_channels,
)
from nas_scaling.spec.network import NetworkSpec

__all__ = ["BlockShape", "block_out_size", "block_shapes", "pool_out_size", "conv_out_size"]


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


def block_out_size(block: Block, size: int, stride: int) -> int:
    """Feature-map side after one repeat of ``block`` at ``stride`` (may be < 1: collapsed)."""
    if isinstance(block, ConvBlock):
        return conv_out_size(size, block.kernel, stride, block.pad)
    if isinstance(block, (MBConv, DepthwiseSeparable)):
        return conv_out_size(size, block.kernel, stride, (block.kernel - 1) // 2)
    if isinstance(block, Residual):
        return conv_out_size(size, 3, stride, 1)
    if isinstance(block, Transition):
        return size // 2 if stride == 2 else size
    if isinstance(block, Pool):
        return pool_out_size(size, block.kernel, stride, block.padding, block.ceil_mode)
    if isinstance(block, (Fire, DenseBlock, Inception)):
        return size
    raise TypeError(f"unknown block {block!r}")


@dataclass(frozen=True)
class BlockShape:
    """One repeat of one stage: where it sits and the shapes it maps between."""

    stage_index: int
    repeat: int
    block: Block
    stride: int
    in_channels: int
    out_channels: int
    in_size: int
    out_size: int


def block_shapes(spec: NetworkSpec, resolution: int | None = None) -> list[BlockShape]:
    """Every block repeat of ``spec`` (stem first) with its shapes at ``resolution``.

    Raises :class:`SpecError` naming the stage where the feature map collapses below 1x1.
    """
    from nas_scaling.spec.compact import stage_to_compact

    res = spec.resolution if resolution is None else resolution
    if not isinstance(res, int) or isinstance(res, bool) or res < 1:
        raise SpecError(f"resolution must be a positive integer, got {res!r}")
    channels, size = spec.in_channels, res
    out: list[BlockShape] = []
    for index, stage in enumerate(spec.all_stages):
        for repeat in range(stage.repeats):
            stride = stage.stride if repeat == 0 else 1
            new_size = block_out_size(stage.block, size, stride)
            if new_size < 1:
                raise SpecError(
                    f"resolution {res} is too small for {spec.name}: the feature map collapses below 1x1 "
                    f"at {spec.stage_label(index)} ({stage_to_compact(stage)})"
                )
            new_channels = block_out_channels(stage.block, channels)
            out.append(BlockShape(index, repeat, stage.block, stride, channels, new_channels, size, new_size))
            channels, size = new_channels, new_size
    return out
