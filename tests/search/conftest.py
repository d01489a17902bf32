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
