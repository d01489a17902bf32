"""The layers of a multi-branch block, as pure data: what the Inception v3 kinds compute.

Each Inception v3 kind (:mod:`nas_scaling.spec.blocks`: ``inceptiona`` ... ``inceptione``) keeps its
spec readable, a handful of branch widths, and says what those widths mean through
``branches(stride)``: a tuple of :class:`Branch`, each an optional 3x3 pooling, then convs in
sequence, then optionally a ``fork`` of parallel convs whose outputs are concatenated (Szegedy et
al. 2016, figure 7). One module (``models.blocks.BranchesModule``) and one cost function
(``cost.analytic``) read this description, so the built layers and the analytic count cannot drift
apart. Every conv is conv (no bias) + batch norm (eps 1e-3) + ReLU, torchvision's ``BasicConv2d``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Branch", "BranchConv", "BranchPool", "branch_conv_out", "branch_out_size", "branch_pool_out", "reduce3x3", "same",
]


@dataclass(frozen=True)
class BranchConv:
    """One conv + BN + ReLU of a branch: ``out`` channels, a ``(kh, kw)`` kernel, ``stride`` and
    ``(ph, pw)`` zero padding."""

    out: int
    kernel: tuple[int, int] = (1, 1)
    stride: int = 1
    padding: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class BranchPool:
    """A 3x3 pooling that opens a branch: ``op`` (``avg``, counting padding as torch does by default,
    or ``max``) at ``stride`` with ``padding`` on each side."""

    op: str
    stride: int = 1
    padding: int = 1


@dataclass(frozen=True)
class Branch:
    """``pool`` (if any), then ``convs`` in order, then the ``fork`` convs side by side on the result,
    concatenated. A branch of only a pool passes its input's channels through."""

    convs: tuple[BranchConv, ...] = ()
    pool: BranchPool | None = None
    fork: tuple[BranchConv, ...] = ()

    def out_channels(self, in_channels: int) -> int:
        if self.fork:
            return sum(c.out for c in self.fork)
        return self.convs[-1].out if self.convs else in_channels


def same(out: int, kh: int, kw: int | None = None) -> BranchConv:
    """A stride-1 conv that keeps the map's size (``kh x kw``, ``kw`` defaults to ``kh``)."""
    kw = kh if kw is None else kw
    return BranchConv(out, (kh, kw), 1, ((kh - 1) // 2, (kw - 1) // 2))


def reduce3x3(out: int, stride: int) -> BranchConv:
    """The unpadded 3x3 conv that ends a grid-reduction branch (35 -> 17 and 17 -> 8 at stride 2)."""
    return BranchConv(out, (3, 3), stride, (0, 0))


def branch_conv_out(size: tuple[int, int], conv: BranchConv) -> tuple[int, int]:
    """(height, width) after ``conv``."""
    return (
        (size[0] + 2 * conv.padding[0] - conv.kernel[0]) // conv.stride + 1,
        (size[1] + 2 * conv.padding[1] - conv.kernel[1]) // conv.stride + 1,
    )


def branch_pool_out(size: tuple[int, int], pool: BranchPool) -> tuple[int, int]:
    """(height, width) after the 3x3 ``pool`` (floor mode)."""
    return (
        (size[0] + 2 * pool.padding - 3) // pool.stride + 1,
        (size[1] + 2 * pool.padding - 3) // pool.stride + 1,
    )


def branch_out_size(branch: Branch, size: int) -> tuple[int, int]:
    """(height, width) that ``branch`` produces from a ``size`` x ``size`` map."""
    hw = (size, size)
    if branch.pool is not None:
        hw = branch_pool_out(hw, branch.pool)
    for conv in branch.convs:
        hw = branch_conv_out(hw, conv)
    return branch_conv_out(hw, branch.fork[0]) if branch.fork else hw
