"""One builder turns any valid spec into an nn.Module, through a table from block spec to module."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from nas_scaling.errors import SpecError
from nas_scaling.models.blocks import (
    BranchesModule,
    ConvModule,
    DenseBlockModule,
    DepthwiseSeparableModule,
    FireModule,
    InceptionModule,
    LocalResponseNormModule,
    MBConvModule,
    PoolModule,
    ResidualModule,
    TransitionModule,
)
from nas_scaling.models.layers import activation, conv_bn_act
from nas_scaling.spec import (
    AuxHead,
    ConvBlock,
    DenseBlock,
    DepthwiseSeparable,
    Fire,
    Head,
    Inception,
    InceptionA,
    InceptionB,
    InceptionC,
    InceptionD,
    InceptionE,
    LocalResponseNorm,
    MBConv,
    NetworkSpec,
    Pool,
    Residual,
    Transition,
    block_shapes,
)

__all__ = ["MODULES", "Network", "build_aux", "build_head", "build_model", "count_parameters", "example_input"]

MODULES: dict[type, Callable[..., nn.Module]] = {
    ConvBlock: ConvModule,
    DepthwiseSeparable: DepthwiseSeparableModule,
    MBConv: MBConvModule,
    Residual: ResidualModule,
    Fire: FireModule,
    DenseBlock: DenseBlockModule,
    Transition: TransitionModule,
    Inception: InceptionModule,
    Pool: PoolModule,
    LocalResponseNorm: LocalResponseNormModule,
    InceptionA: BranchesModule,
    InceptionB: BranchesModule,
    InceptionC: BranchesModule,
    InceptionD: BranchesModule,
    InceptionE: BranchesModule,
}
"""Block spec type -> module class; every module takes (spec, in_channels, stride, drop_path), the
drop-path rate being 0 unless the spec ``has_drop_path``."""


def build_head(head: Head, channels: int, size: int, num_classes: int) -> nn.Sequential:
    """The head for a ``channels`` x ``size`` x ``size`` feature map."""
    layers: list[nn.Module] = []
    act = activation(head.act)
    if head.conv is not None:
        layers.append(conv_bn_act(channels, head.conv, 1, act=head.act))
        channels = head.conv
    if head.norm:
        layers.append(nn.BatchNorm2d(channels))
        if act is not None:
            layers.append(act())
    if head.classifier == "conv":
        if head.dropout > 0:
            layers.append(nn.Dropout(head.dropout))
        layers.append(nn.Conv2d(channels, num_classes, 1))
        if act is not None:
            layers.append(act())
    if head.pool == "avg":
        layers.append(nn.AdaptiveAvgPool2d(head.pool_size))
    elif head.pool == "max":
        layers.append(nn.AdaptiveMaxPool2d(head.pool_size))
    layers.append(nn.Flatten(1))
    if head.classifier == "linear":
        side = size if head.pool == "none" else head.pool_size
        features = channels * side * side
        for width in head.hidden:
            if head.dropout > 0:
                layers.append(nn.Dropout(head.dropout))
            layers.append(nn.Linear(features, width))
            if act is not None:
                layers.append(act())
            features = width
        if head.dropout > 0:
            layers.append(nn.Dropout(head.dropout))
        layers.append(nn.Linear(features, num_classes))
    return nn.Sequential(*layers)


def build_aux(aux: AuxHead, channels: int, size: int, num_classes: int) -> nn.Sequential:
    """An auxiliary classifier (:class:`~nas_scaling.spec.AuxHead`) on a ``channels`` x ``size``^2 map."""
    if aux.features(size) < 1:
        raise SpecError(f"aux head after stages[{aux.after}] collapses the {size}x{size} map it is given")
    layers: list[nn.Module] = [
        nn.AvgPool2d(aux.pool_kernel, aux.pool_stride) if aux.pool_kernel else nn.AdaptiveAvgPool2d(aux.pool),
        conv_bn_act(channels, aux.conv, 1, bn_eps=1e-3),
    ]
    if aux.conv2:
        layers += [conv_bn_act(aux.conv, aux.conv2, aux.conv2_kernel, padding=0, bn_eps=1e-3), nn.AdaptiveAvgPool2d(1)]
    layers.append(nn.Flatten(1))
    features = aux.features(size)
    for width in aux.hidden:
        layers += [nn.Linear(features, width), nn.ReLU(inplace=True)]
        features = width
    if aux.dropout > 0:
        layers.append(nn.Dropout(aux.dropout))
    layers.append(nn.Linear(features, num_classes))
    return nn.Sequential(*layers)


class Network(nn.Module):
    """A built spec: ``stem`` and ``stages`` (one Sequential per stage) then ``head``.

    With auxiliary heads (``aux``, each on the output of stage ``aux_after[i]``), training mode
    returns ``(logits, aux0, aux1, ...)`` and ``aux_weights`` are their loss weights; eval mode
    returns the logits alone and never runs them."""

    def __init__(
        self, stem: nn.Sequential, stages: nn.Sequential, head: nn.Sequential, aux: nn.ModuleList | None = None,
        aux_after: tuple[int, ...] = (), aux_weights: tuple[float, ...] = (),
    ) -> None:
        super().__init__()
        self.stem = stem
        self.stages = stages
        self.head = head
        self.aux = aux if aux is not None else nn.ModuleList()
        self.aux_after = aux_after
        self.aux_weights = aux_weights

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, ...]:
        if not (self.training and len(self.aux)):
            return self.head(self.stages(self.stem(x)))
        x = self.stem(x)
        aux: list[Tensor] = []
        for index, stage in enumerate(self.stages):
            x = stage(x)
            aux += [head(x) for head, after in zip(self.aux, self.aux_after, strict=True) if after == index]
        return (self.head(x), *aux)


def _init_weights(model: nn.Module) -> None:
    """He-normal convs, unit BN; the last BN of every residual branch starts at zero so that each
    residual block starts as the identity (Goyal et al. 2017; timm's ``zero_init_last``), which
    lets deep networks learn from the first steps of a short proxy schedule."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    for m in model.modules():
        last: nn.Module | None = None
        if isinstance(m, MBConvModule) and m.use_residual:
            last = m.block[-1]
        elif isinstance(m, ResidualModule):
            last = m.body[-1]
        if isinstance(last, nn.Sequential) and isinstance(last[-1], nn.BatchNorm2d):
            nn.init.zeros_(last[-1].weight)


def build_model(spec: NetworkSpec, *, resolution: int | None = None) -> Network:
    """Build ``spec`` for inputs of ``resolution`` (default: the spec's own).

    Raises :class:`~nas_scaling.errors.SpecError` naming the stage where a too-small resolution
    collapses the feature map; the head's flatten size depends on the resolution only when
    ``head.pool`` is ``none``.
    """
    shapes = block_shapes(spec, resolution)
    n_stem = len(spec.stem)
    body = [s for s in shapes if s.stage_index >= n_stem]
    total = len(body)
    stem_stages: list[list[nn.Module]] = [[] for _ in spec.stem]
    body_stages: list[list[nn.Module]] = [[] for _ in spec.stages]
    seen = 0
    for shape in shapes:
        drop = 0.0
        if shape.stage_index >= n_stem:
            if shape.block.has_drop_path:
                drop = spec.stochastic_depth * seen / total
            seen += 1
        module = MODULES[type(shape.block)](shape.block, shape.in_channels, shape.stride, drop)
        if shape.stage_index < n_stem:
            stem_stages[shape.stage_index].append(module)
        else:
            body_stages[shape.stage_index - n_stem].append(module)
    last = shapes[-1]
    ends = {s.stage_index - n_stem: s for s in body}  # each body stage's last repeat
    model = Network(
        nn.Sequential(*(nn.Sequential(*m) for m in stem_stages)),
        nn.Sequential(*(nn.Sequential(*m) for m in body_stages)),
        build_head(spec.head, last.out_channels, last.out_size, spec.num_classes),
        nn.ModuleList(
            build_aux(a, ends[a.after].out_channels, ends[a.after].out_size, spec.num_classes) for a in spec.aux
        ),
        tuple(a.after for a in spec.aux),
        tuple(a.weight for a in spec.aux),
    )
    _init_weights(model)
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def example_input(spec: NetworkSpec, *, resolution: int | None = None, batch: int = 1) -> Tensor:
    res = spec.resolution if resolution is None else resolution
    return torch.randn(batch, spec.in_channels, res, res)
