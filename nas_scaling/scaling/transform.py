"""Scale a spec in width, depth and resolution. Pure functions: specs in, new specs out."""

from __future__ import annotations

from dataclasses import replace

from nas_scaling.errors import UserError
from nas_scaling.scaling.rounding import round_channels, round_repeats
from nas_scaling.spec import (
    Block,
    ConvBlock,
    DenseBlock,
    DepthwiseSeparable,
    Fire,
    Inception,
    MBConv,
    NetworkSpec,
    Pool,
    Residual,
    Stage,
    Transition,
)

__all__ = ["scale_block_width", "scale_spec", "scale_stage_depth"]


def scale_block_width(block: Block, width: float, divisor: int = 8) -> Block:
    """``block`` with every channel count it produces multiplied by ``width`` and rounded."""
    if width == 1.0:
        return block

    def r(c: int) -> int:
        return round_channels(c, width, divisor)

    if isinstance(block, (ConvBlock, DepthwiseSeparable, MBConv)):
        return replace(block, channels=r(block.channels))
    if isinstance(block, Residual):
        if block.style == "bottleneck":
            return replace(block, channels=r(block.width) * block.expansion)
        return replace(block, channels=r(block.channels))
    if isinstance(block, Fire):
        return replace(block, squeeze=r(block.squeeze), expand1x1=r(block.expand1x1), expand3x3=r(block.expand3x3))
    if isinstance(block, DenseBlock):
        return replace(block, growth=r(block.growth))
    if isinstance(block, Inception):
        return replace(
            block,
            c1x1=r(block.c1x1), c3x3_reduce=r(block.c3x3_reduce), c3x3=r(block.c3x3),
            c5x5_reduce=r(block.c5x5_reduce), c5x5=r(block.c5x5), pool_proj=r(block.pool_proj),
        )
    if isinstance(block, (Transition, Pool)):
        return block
    raise TypeError(f"unknown block {block!r}")


def scale_stage_depth(stage: Stage, depth: float) -> Stage:
    """Repeats (a dense block's layers) times ``depth``, rounded up; pools and transitions stay."""
    if depth == 1.0 or isinstance(stage.block, (Pool, Transition)):
        return stage
    if isinstance(stage.block, DenseBlock):
        return replace(stage, block=replace(stage.block, layers=round_repeats(stage.block.layers, depth)))
    return replace(stage, repeats=round_repeats(stage.repeats, depth))


def _check_multiplier(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value < float("inf"):
        raise UserError(f"{name} multiplier must be a positive number, got {value!r}")


def scale_spec(
    spec: NetworkSpec,
    *,
    width: float = 1.0,
    depth: float = 1.0,
    resolution: float | int | None = None,
    divisor: int = 8,
    name: str | None = None,
    **overrides: object,
) -> NetworkSpec:
    """Scale ``spec``: channels by ``width`` (stem, stages and head conv), repeats of the body
    stages by ``depth``; ``resolution`` is an absolute int or, as a float, a multiplier of the
    spec's own (rounded to the nearest integer). ``overrides`` replace top-level fields."""
    _check_multiplier("width", width)
    _check_multiplier("depth", depth)
    if isinstance(resolution, float):
        _check_multiplier("resolution", resolution)
        new_res = round(spec.resolution * resolution)
    else:
        new_res = spec.resolution if resolution is None else resolution

    def stage_w(stage: Stage) -> Stage:
        return replace(stage, block=scale_block_width(stage.block, width, divisor))

    head = spec.head
    if head.conv is not None and width != 1.0:
        head = replace(head, conv=round_channels(head.conv, width, divisor))
    return replace(
        spec,
        name=name or spec.name,
        stem=tuple(stage_w(s) for s in spec.stem),
        stages=tuple(scale_stage_depth(stage_w(s), depth) for s in spec.stages),
        head=head,
        resolution=new_res,
        **overrides,  # type: ignore[arg-type]
    )
