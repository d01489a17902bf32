"""Scale a spec in width, depth and resolution. Pure functions: specs in, new specs out."""

from __future__ import annotations

from dataclasses import replace

from nas_scaling.errors import UserError
from nas_scaling.scaling.rounding import round_channels, round_repeats
from nas_scaling.spec import Block, NetworkSpec, Stage

__all__ = ["scale_block_width", "scale_spec", "scale_stage_depth"]


def scale_block_width(block: Block, width: float, divisor: int = 8) -> Block:
    """``block`` with every channel count it produces multiplied by ``width`` and rounded
    (which counts those are is the block's own ``scale_width``)."""
    if width == 1.0:
        return block
    return block.scale_width(lambda c: round_channels(c, width, divisor))


def scale_stage_depth(stage: Stage, depth: float) -> Stage:
    """Repeats (a dense block's layers) times ``depth``, rounded up; pools and transitions stay
    (the block's own ``scale_depth`` says which)."""
    if depth == 1.0:
        return stage
    block, repeats = stage.block.scale_depth(stage.repeats, lambda n: round_repeats(n, depth))
    return replace(stage, block=block, repeats=repeats)


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
