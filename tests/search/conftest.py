from __future__ import annotations

from pathlib import Path

import pytest

from nas_scaling.spec import ConvBlock, Head, MBConv, NetworkSpec, Stage
from nas_scaling.tracking import MlflowTracker


@pytest.fixture
def micro_base() -> NetworkSpec:
    """A network small enough that one digits epoch takes well under a second."""
    return NetworkSpec(
        name="micro",
        stem=(Stage(ConvBlock(8, act="silu")),),
        stages=(
            Stage(MBConv(16, expand=2.0, se=0.25), repeats=2, stride=2),
            Stage(MBConv(24, expand=2.0, se=0.25), repeats=2, stride=2),
        ),
        head=Head(conv=32, act="silu"),
        in_channels=1,
        resolution=16,
        num_classes=10,
    )


@pytest.fixture
def mlflow_tracker(tmp_path: Path) -> MlflowTracker:
    return MlflowTracker(f"sqlite:///{tmp_path}/mlruns/mlflow.db", experiment="test",
                         artifact_root=tmp_path / "mlruns" / "artifacts")


MICRO_SPACE = """\
name: micro
description: a space small enough that a trial trains in about a second
reference: micro.yaml
resolution: 16
stem: {channels: 8, act: silu}
blocks:
  mbconv: {expand: [1, 2], kernel: [3, 5], se: 0.0}
stages:
  - kinds: [mbconv, fire, conv]
    repeats: [1, 2]
    stride: 2
    mbconv: {channels: [8, 16]}
    fire: {channels: [16, 32]}
    conv: {channels: [8, 16]}
  - kinds: [mbconv, dense]
    repeats: 1
    stride: 2
    mbconv: {channels: [16, 24]}
    dense: {layers: 2, growth: [4, 8]}
head: {conv: [16, 32], act: silu}
"""


@pytest.fixture
def micro_space(tmp_path: Path, micro_base: NetworkSpec) -> Path:
    """A search space of micro networks (digits, 16 px) whose reference is ``micro_base``."""
    from nas_scaling.spec import save_spec

    folder = tmp_path / "space"
    folder.mkdir()
    save_spec(micro_base, folder / "micro.yaml")
    (folder / "micro_space.yaml").write_text(MICRO_SPACE)
    return folder / "micro_space.yaml"
