"""``TrainConfig``: every training hyper-parameter, validated on construction."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from nas_scaling.data.augment import AUGMENTS
from nas_scaling.errors import UserError

__all__ = ["OPTIMIZERS", "TrainConfig", "available_cpus"]

OPTIMIZERS = ("sgd", "adamw")
_DEVICE = re.compile(r"^(auto|cpu|cuda|cuda:\d+)$")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class TrainConfig:
    """How to train one candidate.

    The defaults rank candidates on ``digits`` in seconds on a small CPU and train LeNet-5 (32x32,
    one channel) to about 0.98 test top-1 there. ``optimizer="sgd"`` is SGD with Nesterov momentum
    0.9. The learning rate warms up linearly for ``warmup_epochs`` and then follows a cosine to
    zero, stepped every iteration. Weight decay skips biases and normalization weights.
    ``threads=None`` gives each of ``concurrent_trials`` an equal share of the CPU cores.
    ``workers=None`` picks DataLoader workers automatically (only used for datasets too large to
    hold in memory).

    ``augment`` is a policy of :data:`~nas_scaling.data.augment.AUGMENTS` applied to training batches
    only (``flip=False`` for data that is not flip-invariant); ``ema_decay`` keeps an exponential
    moving average of the weights (per step), which is what is evaluated and returned. All fields are
    plain JSON values, so a config travels as a dict (``TrainConfig(**task.train)``).
    """

    epochs: int = 20
    batch_size: int = 32
    optimizer: str = "adamw"
    lr: float = 3e-3
    weight_decay: float = 0.01
    warmup_epochs: int = 1
    label_smoothing: float = 0.1
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    concurrent_trials: int = 1
    grad_clip: float | None = None
    workers: int | None = None
    bn_recalibration: int = 8
    """Batches of training data that re-estimate batch-norm statistics before each evaluation
    (0: off); see ``loop._recalibrate_bn``."""
    augment: str = "none"
    flip: bool = True
    momentum: float = 0.9
    ema_decay: float | None = None

    def __post_init__(self) -> None:
        if not _is_int(self.epochs) or self.epochs < 1:
            raise UserError(f"epochs must be an integer >= 1, got {self.epochs!r}")
        if not _is_int(self.batch_size) or self.batch_size < 1:
            raise UserError(f"batch_size must be an integer >= 1, got {self.batch_size!r}")
        if self.optimizer not in OPTIMIZERS:
            raise UserError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if not _is_number(self.lr) or not self.lr > 0:
            raise UserError(f"lr must be a number > 0, got {self.lr!r}")
        if not _is_number(self.weight_decay) or not self.weight_decay >= 0:
            raise UserError(f"weight_decay must be a number >= 0, got {self.weight_decay!r}")
        if not _is_int(self.warmup_epochs) or not 0 <= self.warmup_epochs <= self.epochs:
            raise UserError(
                f"warmup_epochs must be an integer in [0, epochs={self.epochs}], got {self.warmup_epochs!r}"
            )
        if not _is_number(self.label_smoothing) or not 0 <= self.label_smoothing < 1:
            raise UserError(f"label_smoothing must be in [0, 1), got {self.label_smoothing!r}")
        if not _is_int(self.seed):
            raise UserError(f"seed must be an integer, got {self.seed!r}")
        if not isinstance(self.device, str) or not _DEVICE.match(self.device):
            raise UserError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")
        if self.threads is not None and (not _is_int(self.threads) or self.threads < 1):
            raise UserError(f"threads must be an integer >= 1 or None, got {self.threads!r}")
        if not _is_int(self.concurrent_trials) or self.concurrent_trials < 1:
            raise UserError(f"concurrent_trials must be an integer >= 1, got {self.concurrent_trials!r}")
        if self.grad_clip is not None and (not _is_number(self.grad_clip) or not self.grad_clip > 0):
            raise UserError(f"grad_clip must be a number > 0 or None, got {self.grad_clip!r}")
        if not _is_int(self.bn_recalibration) or self.bn_recalibration < 0:
            raise UserError(f"bn_recalibration must be an integer >= 0, got {self.bn_recalibration!r}")
        if self.workers is not None and (not _is_int(self.workers) or self.workers < 0):
            raise UserError(f"workers must be an integer >= 0 or None, got {self.workers!r}")
        if not isinstance(self.augment, str) or self.augment not in AUGMENTS:
            raise UserError(f"augment must be one of {', '.join(AUGMENTS)}, got {self.augment!r}")
        if not isinstance(self.flip, bool):
            raise UserError(f"flip must be true or false, got {self.flip!r}")
        if not _is_number(self.momentum) or not 0 <= self.momentum < 1:
            raise UserError(f"momentum must be a number in [0, 1), got {self.momentum!r}")
        if self.ema_decay is not None and (not _is_number(self.ema_decay) or not 0 < self.ema_decay < 1):
            raise UserError(f"ema_decay must be a number in (0, 1) or None, got {self.ema_decay!r}")

    def cpu_threads(self) -> int:
        """Torch CPU threads for one trial: ``threads`` or the cores divided among trials."""
        if self.threads is not None:
            return self.threads
        return max(1, available_cpus() // self.concurrent_trials)


def available_cpus() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1
