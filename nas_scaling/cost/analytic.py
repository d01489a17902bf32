"""Analytic cost of a spec: parameters and multiply-adds by arithmetic on shapes, no torch.

MACs follow the EfficientNet/MobileNet papers and torchvision's GFLOPS: multiply-adds of conv and
linear layers only (a conv is ``Cout*Hout*Wout*(Cin/groups)*k*k``, a linear ``in*out``; the 1x1
convs of squeeze-excitation count; batch norm, pooling, activations, residual adds and bias adds do
not). Parameters count everything the built model holds: conv and linear weights and biases and
batch-norm affine parameters. The layers mirror :mod:`nas_scaling.models.blocks` exactly, and a
contract test holds every zoo entry to the built module's numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nas_scaling.errors import SpecError, UserError
from nas_scaling.spec.blocks import (
    ConvBlock,
    DenseBlock,
    DepthwiseSeparable,
    Fire,
    Inception,
    InceptionA,
    InceptionB,
    InceptionC,
    InceptionD,
    InceptionE,
    LocalResponseNorm,
    MBConv,
    MultiBranch,
    Pool,
    Residual,
    Transition,
)
from nas_scaling.spec.branches import branch_conv_out, branch_pool_out
from nas_scaling.spec.compact import aux_to_compact, stage_to_compact
from nas_scaling.spec.network import AuxHead, Head, NetworkSpec
from nas_scaling.spec.shapes import BlockShape, block_shapes, conv_out_size

__all__ = ["BLOCK_COSTS", "BYTES_PER_PARAM", "Cost", "StageCost", "aux_cost", "block_cost", "count_cost", "head_cost",
           "model_size_bytes", "size_at_bits"]


@dataclass(frozen=True)
class StageCost:
    """Cost of one stage (all its repeats), of the head (``label == compact == "head"``) or of an
    auxiliary head (``aux[i]``, after the head: its parameters, and 0 MACs since it runs in training only)."""

    label: str
    compact: str
    repeats: int
    in_channels: int
    out_channels: int
    out_size: int
    params: int
    macs: int


@dataclass(frozen=True)
class Cost:
    """Parameters and multiply-adds of a whole network at ``resolution``, with a per-stage split."""

    params: int
    macs: int
    resolution: int
    stages: tuple[StageCost, ...]
    aux_params: int = 0
    """Parameters of the auxiliary heads (training only), included in ``params``."""
    aux_macs: int = 0
    """MACs of the auxiliary heads in a training forward pass, not included in ``macs`` (inference)."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "params": self.params,
            "macs": self.macs,
            "resolution": self.resolution,
            "stages": [vars(s).copy() for s in self.stages],
        }
        if self.aux_params:
            out.update(aux_params=self.aux_params, aux_macs=self.aux_macs)
        return out


def _conv(cin: int, cout: int, k: int, out_size: int, *, groups: int = 1, bias: bool = False,
          norm: bool = True) -> tuple[int, int]:
    """(params, MACs) of a square conv (+ optional bias, + optional BN affine)."""
    weights = cout * (cin // groups) * k * k
    params = weights + (cout if bias else 0) + (2 * cout if norm else 0)
    return params, weights * out_size * out_size


def _conv_block(s: BlockShape) -> tuple[int, int]:
    b: ConvBlock = s.block  # type: ignore[assignment]
    return _conv(s.in_channels, b.channels, b.kernel, s.out_size, bias=b.bias, norm=b.norm)


def _dwsep(s: BlockShape) -> tuple[int, int]:
    b: DepthwiseSeparable = s.block  # type: ignore[assignment]
    cin = s.in_channels
    dp, dm = _conv(cin, cin, b.kernel, s.out_size, groups=cin)
    pp, pm = _conv(cin, b.channels, 1, s.out_size)
    return dp + pp, dm + pm


def _mbconv(s: BlockShape) -> tuple[int, int]:
    b: MBConv = s.block  # type: ignore[assignment]
    cin = s.in_channels
    hidden = b.expanded(cin)
    params = macs = 0
    if hidden != cin:
        p, m = _conv(cin, hidden, 1, s.in_size)
        params, macs = params + p, macs + m
    p, m = _conv(hidden, hidden, b.kernel, s.out_size, groups=hidden)
    params, macs = params + p, macs + m
    if b.se > 0:  # torchvision SqueezeExcitation: two biased 1x1 convs on the pooled 1x1 map
        sq = b.squeezed(cin)
        params += 2 * hidden * sq + sq + hidden
        macs += 2 * hidden * sq
    p, m = _conv(hidden, b.channels, 1, s.out_size)
    return params + p, macs + m


def _residual(s: BlockShape) -> tuple[int, int]:
    b: Residual = s.block  # type: ignore[assignment]
    cin, w, cout, out = s.in_channels, b.width, b.channels, s.out_size
    if b.style == "basic":
        parts = [_conv(cin, w, 3, out), _conv(w, cout, 3, out)]
    else:
        parts = [_conv(cin, w, 1, s.in_size), _conv(w, w, 3, out), _conv(w, cout, 1, out)]
    if (s.stride != 1 or cin != cout) and b.shortcut == "projection":
        parts.append(_conv(cin, cout, 1, conv_out_size(s.in_size, 1, s.stride, 0)))
    return sum(p for p, _ in parts), sum(m for _, m in parts)


def _fire(s: BlockShape) -> tuple[int, int]:
    b: Fire = s.block  # type: ignore[assignment]
    cin, size, norm = s.in_channels, s.out_size, b.norm
    parts = [
        _conv(cin, b.squeeze, 1, size, bias=not norm, norm=norm),
        _conv(b.squeeze, b.expand1x1, 1, size, bias=not norm, norm=norm),
        _conv(b.squeeze, b.expand3x3, 3, size, bias=not norm, norm=norm),
    ]
    if b.bypass == "complex" and cin != b.channels:
        parts.append(_conv(cin, b.channels, 1, size, bias=not norm, norm=norm))
    return sum(p for p, _ in parts), sum(m for _, m in parts)


def _dense(s: BlockShape) -> tuple[int, int]:
    b: DenseBlock = s.block  # type: ignore[assignment]
    inner = b.bn_size * b.growth
    params = macs = 0
    for i in range(b.layers):
        cin = s.in_channels + i * b.growth
        p1, m1 = _conv(cin, inner, 1, s.out_size) if inner else (0, 0)  # with its BN (norm2)
        p2, m2 = _conv(inner or cin, b.growth, 3, s.out_size, norm=False)
        params += 2 * cin + p1 + p2  # norm1 (pre-activation) on the layer's input
        macs += m1 + m2
    return params, macs


def _transition(s: BlockShape) -> tuple[int, int]:
    # BN on the input, 1x1 conv at the input size, then (stride 2) a 2x2 average pool.
    p, m = _conv(s.in_channels, s.out_channels, 1, s.in_size, norm=False)
    return p + 2 * s.in_channels, m


def _inception(s: BlockShape) -> tuple[int, int]:
    b: Inception = s.block  # type: ignore[assignment]
    cin, size = s.in_channels, s.out_size
    parts = [
        _conv(cin, b.c1x1, 1, size),
        _conv(cin, b.c3x3_reduce, 1, size),
        _conv(b.c3x3_reduce, b.c3x3, 3, size),
        _conv(cin, b.c5x5_reduce, 1, size),
        _conv(b.c5x5_reduce, b.c5x5, b.kernel5, size),
        _conv(cin, b.pool_proj, 1, size),
    ]
    return sum(p for p, _ in parts), sum(m for _, m in parts)


def _branches(s: BlockShape) -> tuple[int, int]:
    """Every conv of every branch the kind describes (each conv + BN, no bias), at its own map size."""
    b: MultiBranch = s.block  # type: ignore[assignment]
    params = macs = 0
    for branch in b.branches(s.stride):
        cin, hw = s.in_channels, (s.in_size, s.in_size)
        if branch.pool is not None:
            hw = branch_pool_out(hw, branch.pool)
        trunk = [(conv, False) for conv in branch.convs] + [(conv, True) for conv in branch.fork]
        for conv, forked in trunk:
            out_hw = branch_conv_out(hw, conv)
            weights = conv.out * cin * conv.kernel[0] * conv.kernel[1]
            params += weights + 2 * conv.out
            macs += weights * out_hw[0] * out_hw[1]
            if not forked:
                cin, hw = conv.out, out_hw
    return params, macs


def _pool(s: BlockShape) -> tuple[int, int]:
    return 0, 0


def _lrn(s: BlockShape) -> tuple[int, int]:
    return 0, 0


BLOCK_COSTS: dict[type, Callable[[BlockShape], tuple[int, int]]] = {
    ConvBlock: _conv_block,
    DepthwiseSeparable: _dwsep,
    MBConv: _mbconv,
    Residual: _residual,
    Fire: _fire,
    DenseBlock: _dense,
    Transition: _transition,
    Inception: _inception,
    Pool: _pool,
    LocalResponseNorm: _lrn,
    InceptionA: _branches,
    InceptionB: _branches,
    InceptionC: _branches,
    InceptionD: _branches,
    InceptionE: _branches,
}
"""Block spec type -> (params, MACs) of one repeat; one entry per block kind, like ``MODULES``."""


def block_cost(shape: BlockShape) -> tuple[int, int]:
    """(params, MACs) of one block repeat with the shapes of ``shape``."""
    return BLOCK_COSTS[type(shape.block)](shape)


def head_cost(head: Head, channels: int, size: int, num_classes: int) -> tuple[int, int]:
    """(params, MACs) of :func:`nas_scaling.models.build_head` on a ``channels`` x ``size``^2 map."""
    params = macs = 0
    if head.conv is not None:
        p, m = _conv(channels, head.conv, 1, size)
        params, macs, channels = params + p, macs + m, head.conv
    if head.norm:
        params += 2 * channels
    if head.classifier == "conv":
        p, m = _conv(channels, num_classes, 1, size, bias=True, norm=False)
        return params + p, macs + m
    side = size if head.pool == "none" else head.pool_size
    features = channels * side * side
    for width in (*head.hidden, num_classes):
        params += features * width + width
        macs += features * width
        features = width
    return params, macs


def aux_cost(aux: AuxHead, channels: int, size: int, num_classes: int) -> tuple[int, int]:
    """(params, MACs) of :func:`nas_scaling.models.build_aux` on a ``channels`` x ``size``^2 map; the
    MACs are those of a training forward pass (eval mode never runs it)."""
    if aux.features(size) < 1:
        raise SpecError(f"aux head after stages[{aux.after}] collapses the {size}x{size} map it is given")
    side = aux.pooled_size(size)
    params, macs = _conv(channels, aux.conv, 1, side)
    if aux.conv2:
        p, m = _conv(aux.conv, aux.conv2, aux.conv2_kernel, side - aux.conv2_kernel + 1)
        params, macs = params + p, macs + m
    features = aux.features(size)
    for width in (*aux.hidden, num_classes):
        params += features * width + width
        macs += features * width
        features = width
    return params, macs


def count_cost(spec: NetworkSpec, *, resolution: int | None = None) -> Cost:
    """Parameters and multiply-adds of ``spec`` at ``resolution`` (default: the spec's own).

    Pure arithmetic on :func:`~nas_scaling.spec.block_shapes` (microseconds per block): never
    builds a module. Raises :class:`~nas_scaling.errors.SpecError` where the map collapses.
    """
    shapes = block_shapes(spec, resolution)
    stages = spec.all_stages
    per_stage: list[list[int]] = [[0, 0] for _ in stages]
    for shape in shapes:
        p, m = BLOCK_COSTS[type(shape.block)](shape)
        acc = per_stage[shape.stage_index]
        acc[0] += p
        acc[1] += m
    # shapes are in stage order with ``repeats`` entries per stage: first and last repeat by offset
    out: list[StageCost] = []
    offset = 0
    for index, stage in enumerate(stages):
        first, last = shapes[offset], shapes[offset + stage.repeats - 1]
        offset += stage.repeats
        out.append(StageCost(
            spec.stage_label(index), stage_to_compact(stage), stage.repeats, first.in_channels,
            last.out_channels, last.out_size, per_stage[index][0], per_stage[index][1],
        ))
    last = shapes[-1]
    hp, hm = head_cost(spec.head, last.out_channels, last.out_size, spec.num_classes)
    out.append(StageCost("head", "head", 1, last.out_channels, spec.num_classes, 1, hp, hm))
    n_stem = len(spec.stem)
    ends = {s.stage_index - n_stem: s for s in shapes if s.stage_index >= n_stem}
    aux_params = aux_macs = 0
    for i, a in enumerate(spec.aux):
        end = ends[a.after]
        ap, am = aux_cost(a, end.out_channels, end.out_size, spec.num_classes)
        aux_params, aux_macs = aux_params + ap, aux_macs + am
        # the parameters are the module's; the MACs are training-only, so the row and total carry 0
        out.append(StageCost(f"aux[{i}]", aux_to_compact(a), 1, end.out_channels, spec.num_classes, 1, ap, 0))
    res = spec.resolution if resolution is None else resolution
    return Cost(sum(s.params for s in out), sum(s.macs for s in out), res, tuple(out), aux_params, aux_macs)


BYTES_PER_PARAM: dict[str, int] = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}


def model_size_bytes(params: int, dtype: str = "fp32") -> int:
    """Bytes of ``params`` weights stored as ``dtype`` (fp32: 4 bytes each, int8: 1 byte).

    Papers quote megabytes loosely: SqueezeNet's "4.8 MB" is 1,248,424 * 4 bytes = 4.76 MiB
    (4.99 MB); divide by ``2**20`` for MiB, as the CLI does.
    """
    if dtype not in BYTES_PER_PARAM:
        raise UserError(f"dtype must be one of {', '.join(BYTES_PER_PARAM)}, got {dtype!r}")
    return params * BYTES_PER_PARAM[dtype]


def size_at_bits(params: int, bits: int) -> int:
    """Bytes of ``params`` dense weights at ``bits`` each (rounded up to a whole byte), as uniform
    quantisation stores them: no pruning, no codebook, no index overhead.

    SqueezeNet's paper quotes 4.8 MB at 32 bits (this count: 4,993,696 bytes), and 0.66 MB / 0.47 MB
    at 8 / 6 bits after Deep Compression, which also prunes the weights and stores them sparsely; dense
    8 and 6 bits are 1,248,424 and 936,318 bytes here. The difference is the pruning, not the bits.
    """
    if not isinstance(bits, int) or not 1 <= bits <= 64:
        raise UserError(f"bits must be an integer from 1 to 64, got {bits!r}")
    return -(-params * bits // 8)
