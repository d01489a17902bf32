"""Valid specs of every block kind: hypothesis strategies, and one fixed stage of each kind and
variant (``ONE_OF_EACH``). A new block kind adds itself to both."""

from __future__ import annotations

from hypothesis import strategies as st

from nas_scaling.spec import (
    ACTIVATIONS,
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
    Stage,
    Transition,
)

ONE_OF_EACH: tuple[Stage, ...] = (
    Stage(ConvBlock(16, kernel=5, norm=False, bias=True, act="tanh"), stride=2),
    Stage(DepthwiseSeparable(24), stride=2),
    Stage(MBConv(24, expand=4, kernel=5, se=0.25), repeats=2),
    Stage(ConvBlock(16, kernel=3, padding=0, eps=1e-3)),
    Stage(InceptionA(8, 4, 8, 4, 8, 8)),
    Stage(InceptionB(16, 4, 8)),
    Stage(InceptionC(8, 4, 8, 4, 8, 8, kernel=5, pool="max")),
    Stage(InceptionD(4, 8, 4, 8, kernel=3, pool="avg")),
    Stage(InceptionE(8, 4, 8, 4, 8, 8), repeats=2),
    Stage(MBConv(40, expand=1, kernel=3, se=0.5), stride=2),
    Stage(Residual(32, style="basic"), stride=2),
    Stage(Residual(64, style="bottleneck"), repeats=2),
    Stage(Residual(96, shortcut="pad")),
    Stage(Fire(8, 32, 32, bypass="complex")),
    Stage(Fire(8, 32, 32, bypass="simple", norm=True)),
    Stage(Fire(8, 16, 16, bypass="complex", norm=True)),
    Stage(DenseBlock(3, growth=8)),
    Stage(DenseBlock(2, growth=8, bn_size=0)),
    Stage(Transition(0.5), stride=2),
    Stage(Inception(8, 8, 16, 4, 8, 8, kernel5=5)),
    Stage(Pool("avg", kernel=2), stride=2),
    Stage(LocalResponseNorm(size=3, alpha=2e-4, beta=0.5, k=1.0)),
)
"""Chained in this order from a 96 px input the map ends at 1x1 (the Inception v3 grid reductions sit
at stride 1 here, where their unpadded 3x3 convs take 2 pixels; the contract test adds stride 2); each
alone after 64 channels (tests/test_block_kinds.py), the complex Fire bypass is both an add (64 -> 64)
and a conv (64 -> 32), and the padded residual shortcut pads (64 -> 96), subsamples (stride 2) and
narrows (width 0.5: 64 -> 48)."""

ch = st.integers(1, 512)
acts = st.sampled_from(ACTIVATIONS)
fractions = st.sampled_from([0.0, 0.125, 0.25, 0.5, 1.0])
pools = st.sampled_from(["avg", "max"])

blocks = st.one_of(
    st.builds(ConvBlock, ch, st.sampled_from([1, 3, 5, 7, 11]), st.one_of(st.none(), st.integers(0, 3)),
              st.booleans(), st.booleans(), acts, st.sampled_from([1e-5, 1e-3])),
    st.builds(DepthwiseSeparable, ch, st.sampled_from([3, 5, 7]), acts),
    st.builds(MBConv, ch, st.sampled_from([1.0, 3.0, 4.0, 6.0, 2.5]), st.sampled_from([3, 5, 7]), fractions, acts,
              st.booleans()),
    st.builds(Residual, st.integers(1, 64).map(lambda c: c * 4), st.sampled_from(["basic", "bottleneck"]),
              shortcut=st.sampled_from(["projection", "pad"])),
    st.builds(Fire, ch, ch, ch, st.sampled_from(["none", "simple", "complex"]), st.booleans()),
    st.builds(DenseBlock, st.integers(1, 48), st.integers(1, 48), st.integers(0, 4)),
    st.builds(Transition, st.sampled_from([0.5, 0.25, 1.0, 0.75])),
    st.builds(Inception, ch, ch, ch, ch, ch, ch, st.sampled_from([3, 5])),
    st.builds(InceptionA, ch, ch, ch, ch, ch, ch, pools),
    st.builds(InceptionB, ch, ch, ch, pools),
    st.builds(InceptionC, ch, ch, ch, ch, ch, ch, st.sampled_from([3, 5, 7]), pools),
    st.builds(InceptionD, ch, ch, ch, ch, st.sampled_from([3, 5, 7]), pools),
    st.builds(InceptionE, ch, ch, ch, ch, ch, ch, pools),
    st.builds(Pool, st.sampled_from(["max", "avg"]), st.sampled_from([2, 3]), st.integers(0, 1), st.booleans()),
    st.builds(LocalResponseNorm, st.integers(1, 7), st.sampled_from([1e-4, 1e-3]), st.sampled_from([0.5, 0.75]),
              st.sampled_from([1.0, 2.0])),
)


@st.composite
def stages(draw: st.DrawFn) -> Stage:
    block = draw(blocks)
    stride = draw(st.sampled_from(type(block).strides))  # type: ignore[attr-defined]
    return Stage(block, repeats=draw(st.integers(1, 6)), stride=stride)


heads = st.builds(
    Head,
    conv=st.one_of(st.none(), ch),
    norm=st.booleans(),
    act=acts,
    pool=st.sampled_from(["avg", "max", "none"]),
    pool_size=st.integers(1, 7),
    hidden=st.lists(st.integers(1, 4096), max_size=2).map(tuple),
    dropout=st.sampled_from([0.0, 0.2, 0.5]),
)

networks = st.builds(
    NetworkSpec,
    name=st.text("abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=20),
    stem=st.lists(stages(), max_size=2).map(tuple),
    stages=st.lists(stages(), min_size=1, max_size=6).map(tuple),
    head=heads,
    in_channels=st.sampled_from([1, 3]),
    resolution=st.integers(8, 512),
    num_classes=st.integers(1, 1000),
    stochastic_depth=st.sampled_from([0.0, 0.2]),
)
