"""Train any ``nn.Module`` classifier on a :class:`~nas_scaling.data.DatasetSplits`.

Knows nothing of search or tracking: callers pass a ``report`` callback and read a
:class:`TrainResult`.
"""

from __future__ import annotations

from nas_scaling.training.checkpoint import load_weights, save_checkpoint
from nas_scaling.training.config import OPTIMIZERS, TrainConfig
from nas_scaling.training.device import resolve_device, seed_everything
from nas_scaling.training.loop import (
    EpochReport,
    EvalMetrics,
    StopTraining,
    TrainResult,
    evaluate,
    lr_at,
    train,
)

__all__ = [
    "OPTIMIZERS",
    "EpochReport",
    "EvalMetrics",
    "StopTraining",
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "load_weights",
    "lr_at",
    "resolve_device",
    "save_checkpoint",
    "seed_everything",
    "train",
]
