"""Shape inference on specs: channels and feature-map size after every stage, without torch."""

from __future__ import annotations

from dataclasses import dataclass

from nas_scaling.errors import SpecError
from nas_scaling.spec.blocks import Block, block_out_channels, conv_out_size, pool_out_size
from nas_scaling.spec.network import NetworkSpec

__all__ = ["BlockShape", "block_out_size", "block_shapes", "pool_out_size", "conv_out_size"]


def block_out_size(block: Block, size: int, stride: int) -> int:
    """Feature-map side after one repeat of ``block`` at ``stride`` (may be < 1: collapsed)."""
    return block.out_size(size, stride)


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
