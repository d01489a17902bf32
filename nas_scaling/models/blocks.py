"""One nn.Module per block kind of the architecture language."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchvision.ops import SqueezeExcitation, StochasticDepth

from nas_scaling.models.layers import activation, conv_bn_act
from nas_scaling.spec import (
    ConvBlock,
    DenseBlock,
    DepthwiseSeparable,
    Fire,
    Inception,
    LocalResponseNorm,
    MBConv,
    MultiBranch,
    Pool,
    Residual,
    Transition,
)
from nas_scaling.spec.branches import Branch, BranchConv

__all__ = [
    "BranchesModule",
    "ConvModule",
    "DenseBlockModule",
    "DepthwiseSeparableModule",
    "FireModule",
    "InceptionModule",
    "LocalResponseNormModule",
    "MBConvModule",
    "PadShortcut",
    "PoolModule",
    "ResidualModule",
    "TransitionModule",
]


class ConvModule(nn.Sequential):
    def __init__(self, spec: ConvBlock, in_channels: int, stride: int, drop_path: float = 0.0) -> None:
        super().__init__(
            conv_bn_act(
                in_channels, spec.channels, spec.kernel, stride=stride, padding=spec.pad,
                norm=spec.norm, bias=spec.bias, act=spec.act, bn_eps=spec.eps,
            )
        )


class DepthwiseSeparableModule(nn.Sequential):
    def __init__(self, spec: DepthwiseSeparable, in_channels: int, stride: int, drop_path: float = 0.0) -> None:
        super().__init__(
            conv_bn_act(in_channels, in_channels, spec.kernel, stride=stride, groups=in_channels, act=spec.act),
            conv_bn_act(in_channels, spec.channels, 1, act=spec.act),
        )


class MBConvModule(nn.Module):
    """Same layers as torchvision's MBConv / InvertedResidual (so the same parameter count)."""

    def __init__(self, spec: MBConv, in_channels: int, stride: int, drop_path: float = 0.0) -> None:
        super().__init__()
        hidden = spec.expanded(in_channels)
        layers: list[nn.Module] = []
        if hidden != in_channels:
            layers.append(conv_bn_act(in_channels, hidden, 1, act=spec.act))
        layers.append(conv_bn_act(hidden, hidden, spec.kernel, stride=stride, groups=hidden, act=spec.act))
        if spec.se > 0:
            act = activation(spec.act) or nn.Identity
            layers.append(SqueezeExcitation(hidden, spec.squeezed(in_channels), activation=act))
        layers.append(conv_bn_act(hidden, spec.channels, 1, act="none"))
        self.block = nn.Sequential(*layers)
        self.use_residual = spec.skip and stride == 1 and in_channels == spec.channels
        self.stochastic_depth = StochasticDepth(drop_path, "row") if self.use_residual and drop_path > 0 else None

    def forward(self, x: Tensor) -> Tensor:
        out = self.block(x)
        if self.use_residual:
            if self.stochastic_depth is not None:
                out = self.stochastic_depth(out)
            out = out + x
        return out


class PadShortcut(nn.Module):
    """He et al. 2016's option A shortcut: the input subsampled by ``stride`` and zero-padded (or
    narrowed) to ``channels``; no parameters."""

    def __init__(self, channels: int, stride: int) -> None:
        super().__init__()
        self.channels = channels
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        extra = self.channels - x.shape[1]
        if extra < 0:
            return x[:, : self.channels]
        return nn.functional.pad(x, (0, 0, 0, 0, 0, extra)) if extra else x


class ResidualModule(nn.Module):
    """ResNet BasicBlock / Bottleneck (v1.5: the stride sits on the 3x3 conv)."""

    def __init__(self, spec: Residual, in_channels: int, stride: int, drop_path: float = 0.0) -> None:
        super().__init__()
        width = spec.width
        if spec.style == "basic":
            self.body = nn.Sequential(
                conv_bn_act(in_channels, width, 3, stride=stride),
                conv_bn_act(width, spec.channels, 3, act="none"),
            )
        else:
            self.body = nn.Sequential(
                conv_bn_act(in_channels, width, 1),
                conv_bn_act(width, width, 3, stride=stride),
                conv_bn_act(width, spec.channels, 1, act="none"),
            )
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != spec.channels:
            self.shortcut = (
                PadShortcut(spec.channels, stride)
                if spec.shortcut == "pad"
                else conv_bn_act(in_channels, spec.channels, 1, stride=stride, padding=0, act="none")
            )
        self.stochastic_depth = StochasticDepth(drop_path, "row") if drop_path > 0 else nn.Identity()
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.stochastic_depth(self.body(x)) + self.shortcut(x))


class FireModule(nn.Module):
    """SqueezeNet Fire module with optional simple/complex bypass."""

    def __init__(self, spec: Fire, in_channels: int, stride: int, drop_path: float = 0.0) -> None:
        super().__init__()
        self.squeeze = conv_bn_act(in_channels, spec.squeeze, 1, norm=spec.norm)
        self.expand1x1 = conv_bn_act(spec.squeeze, spec.expand1x1, 1, norm=spec.norm)
        self.expand3x3 = conv_bn_act(spec.squeeze, spec.expand3x3, 3, norm=spec.norm)
        self.bypass: nn.Module | None = None
        if spec.bypass != "none":
            if in_channels == spec.channels:
                self.bypass = nn.Identity()
            elif spec.bypass == "complex":
                self.bypass = conv_bn_act(in_channels, spec.channels, 1, norm=spec.norm, act="none")

    def forward(self, x: Tensor) -> Tensor:
        s = self.squeeze(x)
        out = torch.cat([self.expand1x1(s), self.expand3x3(s)], 1)
        return out + self.bypass(x) if self.bypass is not None else out


class _DenseLayer(nn.Module):
    """BN-ReLU-1x1(bn_size*growth)-BN-ReLU-3x3(growth); ``bn_size=0``: BN-ReLU-3x3(growth). The
    bottleneck keeps its names (``conv1``, ``norm2``), so checkpoints load as before."""

    def __init__(self, in_channels: int, growth: int, bn_size: int) -> None:
        super().__init__()
        inner = bn_size * growth or in_channels
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, inner, 1, bias=False) if bn_size else None
        self.norm2 = nn.BatchNorm2d(inner) if bn_size else None
        self.conv2 = nn.Conv2d(inner, growth, 3, padding=1, bias=False)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        x = self.act(self.norm1(x))
        if self.conv1 is not None and self.norm2 is not None:
            x = self.act(self.norm2(self.conv1(x)))
        return self.conv2(x)


class DenseBlockModule(nn.Module):
    """DenseNet-BC dense block (pre-activation layers, concatenated features)."""

    def __init__(self, spec: DenseBlock, in_channels: int, stride: int, drop_path: float = 0.0) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            _DenseLayer(in_channels + i * spec.growth, spec.growth, spec.bn_size) for i in range(spec.layers)
        )

    def forward(self, x: Tensor) -> Tensor:
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, 1)))
        return torch.cat(features, 1)


class TransitionModule(nn.Sequential):
    def __init__(self, spec: Transition, in_channels: int, stride: int, drop_path: float = 0.0) -> None:
        out = max(1, int(in_channels * spec.compression))
        layers: list[nn.Module] = [
            nn.BatchNorm2d(in_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(in_channels, out, 1, bias=False),
        ]
        if stride == 2:
            layers.append(nn.AvgPool2d(2, 2))
        super().__init__(*layers)


class InceptionModule(nn.Module):
    """GoogLeNet Inception module; every conv is conv + BN + ReLU, as in torchvision."""

    def __init__(self, spec: Inception, in_channels: int, stride: int, drop_path: float = 0.0) -> None:
        super().__init__()

        def conv(cin: int, cout: int, k: int) -> nn.Module:
            return conv_bn_act(cin, cout, k, bn_eps=1e-3)

        self.branch1 = conv(in_channels, spec.c1x1, 1)
        self.branch2 = nn.Sequential(conv(in_channels, spec.c3x3_reduce, 1), conv(spec.c3x3_reduce, spec.c3x3, 3))
        self.branch3 = nn.Sequential(
            conv(in_channels, spec.c5x5_reduce, 1), conv(spec.c5x5_reduce, spec.c5x5, spec.kernel5)
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True), conv(in_channels, spec.pool_proj, 1)
        )

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


def _basic_conv(cin: int, conv: BranchConv) -> nn.Module:
    """torchvision's BasicConv2d: conv (no bias) + BN (eps 1e-3) + ReLU."""
    return conv_bn_act(cin, conv.out, conv.kernel, stride=conv.stride, padding=conv.padding, bn_eps=1e-3)  # type: ignore[arg-type]


class _BranchModule(nn.Module):
    """One :class:`~nas_scaling.spec.branches.Branch`: pool, convs, then the fork's outputs concatenated."""

    def __init__(self, branch: Branch, in_channels: int) -> None:
        super().__init__()
        self.pool: nn.Module | None = None
        if branch.pool is not None:
            cls = nn.AvgPool2d if branch.pool.op == "avg" else nn.MaxPool2d
            self.pool = cls(3, stride=branch.pool.stride, padding=branch.pool.padding)
        layers: list[nn.Module] = []
        for conv in branch.convs:
            layers.append(_basic_conv(in_channels, conv))
            in_channels = conv.out
        self.convs = nn.Sequential(*layers)
        self.fork = nn.ModuleList(_basic_conv(in_channels, conv) for conv in branch.fork)

    def forward(self, x: Tensor) -> Tensor:
        if self.pool is not None:
            x = self.pool(x)
        x = self.convs(x)
        return torch.cat([f(x) for f in self.fork], 1) if len(self.fork) else x


class BranchesModule(nn.Module):
    """Any :class:`~nas_scaling.spec.MultiBranch` kind (Inception v3's modules): its branches, built
    from the spec's own description, concatenated. Parameters come in torchvision's order."""

    def __init__(self, spec: MultiBranch, in_channels: int, stride: int, drop_path: float = 0.0) -> None:
        super().__init__()
        self.branches = nn.ModuleList(_BranchModule(b, in_channels) for b in spec.branches(stride))

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([b(x) for b in self.branches], 1)


class PoolModule(nn.Sequential):
    def __init__(self, spec: Pool, in_channels: int, stride: int, drop_path: float = 0.0) -> None:
        cls = nn.MaxPool2d if spec.op == "max" else nn.AvgPool2d
        super().__init__(cls(spec.kernel, stride=stride, padding=spec.padding, ceil_mode=spec.ceil_mode))


class LocalResponseNormModule(nn.Sequential):
    def __init__(self, spec: LocalResponseNorm, in_channels: int, stride: int, drop_path: float = 0.0) -> None:
        super().__init__(nn.LocalResponseNorm(spec.size, alpha=spec.alpha, beta=spec.beta, k=spec.k))
