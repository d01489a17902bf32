"""Train any ``nn.Module`` classifier on a :class:`~nas_scaling.data.DatasetSplits`.

Knows nothing of search or tracking: callers pass a ``report`` callback (and, to survive
interruptions, a ``checkpoint`` callback whose :class:`TrainState` they pass back as ``resume``) and
read a :class:`TrainResult`. Named recipes: :func:`recipe_config`.
"""

from __future__ import annotations

from nas_scaling.training.checkpoint import (
    TrainState,
    load_train_state,
    load_weights,
    save_checkpoint,
    save_train_state,
)
from nas_scaling.training.config import OPTIMIZERS, TrainConfig
from nas_scaling.training.device import resolve_device, seed_everything
from nas_scaling.training.loop import (
    AUX_WEIGHT,
    EpochReport,
    EvalMetrics,
    StopTraining,
    TrainResult,
    evaluate,
    lr_at,
    train,
    training_loss,
)
from nas_scaling.training.recipes import RECIPES, recipe_config

__all__ = [
    "AUX_WEIGHT",
    "OPTIMIZERS",
    "RECIPES",
    "EpochReport",
    "EvalMetrics",
    "StopTraining",
    "TrainConfig",
    "TrainResult",
    "TrainState",
    "evaluate",
    "load_train_state",
    "load_weights",
    "lr_at",
    "recipe_config",
    "resolve_device",
    "save_checkpoint",
    "save_train_state",
    "seed_everything",
    "train",
    "training_loss",
]
