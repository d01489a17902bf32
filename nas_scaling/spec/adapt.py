"""Fit a spec to a dataset's inputs: channels, classes and (when asked) resolution. Pure: a new spec out.

The first layer of every block kind takes its input channels from ``spec.in_channels`` (see
:func:`~nas_scaling.spec.shapes.block_shapes`, which the model builder and the cost model both
follow), so adapting the stem is a change of that one field.
"""

from __future__ import annotations

from dataclasses import replace

from nas_scaling.errors import UserError
from nas_scaling.spec.network import NetworkSpec
from nas_scaling.spec.shapes import block_shapes

__all__ = ["adapt_inputs"]


def _positive(label: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UserError(f"{label} must be a positive integer, got {value!r}")
    return value


def adapt_inputs(
    spec: NetworkSpec, *, in_channels: int, num_classes: int, resolution: int | None = None
) -> tuple[NetworkSpec, list[str]]:
    """``spec`` with the dataset's ``in_channels`` and ``num_classes``, at ``resolution`` if given.

    Returns the new spec and one line per visible change, for the command to print:
    ``efficientnet_tiny: stem adapted from 1 to 3 input channels`` and
    ``efficientnet_tiny: resolution 16 -> 32 (--resolution)``. The classifier always follows the
    dataset's classes, as it always did, so a change of classes is not reported. A resolution the
    network's strides cannot take is a one-line :class:`~nas_scaling.errors.UserError`.
    """
    _positive("in_channels", in_channels)
    _positive("num_classes", num_classes)
    res = spec.resolution if resolution is None else _positive("resolution", resolution)
    notes: list[str] = []
    if in_channels != spec.in_channels:
        where = "stem" if spec.stem else "first layer"
        notes.append(f"{spec.name}: {where} adapted from {spec.in_channels} to {in_channels} input channels")
    if res != spec.resolution:
        notes.append(f"{spec.name}: resolution {spec.resolution} -> {res} (--resolution)")
    if not notes and num_classes == spec.num_classes:
        return spec, notes
    adapted = replace(spec, in_channels=in_channels, num_classes=num_classes, resolution=res)
    if res != spec.resolution:
        block_shapes(adapted)  # raises SpecError naming the stage where the feature map collapses
    return adapted, notes
