"""Named training recipes: ``proxy`` (rank candidates fast) and ``full`` (train a winner properly).

``proxy`` is the short schedule that ``grid``, ``search`` and ``baseline`` rank candidates with:
:class:`TrainConfig`'s defaults (AdamW, lr 3e-3, weight decay 0.01, one warm-up epoch then cosine,
label smoothing 0.1) for 3 epochs.

``full`` is the standard CIFAR recipe of wide residual networks (Zagoruyko & Komodakis, "Wide
Residual Networks", BMVC 2016, section 4: SGD with Nesterov momentum 0.9, learning rate 0.1 at
batch 128, weight decay 5e-4, 200 epochs), with the refinements of "Bag of Tricks for Image
Classification with Convolutional Neural Networks" (He et al., CVPR 2019, sections 3.1 and 5):
the learning rate scaled linearly with the batch size, a linear warm-up (5 epochs), cosine decay
instead of steps, no weight decay on biases and normalization weights, and label smoothing 0.1.
Evaluation uses an exponential moving average of the weights (Polyak & Juditsky 1992, as in
modern ImageNet recipes such as timm's ``--model-ema``) with decay 0.999 per step, a horizon of
about 1,000 steps (2.5 CIFAR-10 epochs at batch 128; our choice, not from the papers above), with
batch-norm statistics re-estimated for the averaged weights. Augmentation is the dataset's own
(``data.augment.default_augment``: random crop with 4-pixel padding and horizontal flip on CIFAR), chosen by the caller.
"""

from __future__ import annotations

from typing import Any

from nas_scaling.errors import UserError
from nas_scaling.training.config import TrainConfig

__all__ = ["FULL_REFERENCE_BATCH", "PROXY_EPOCHS", "RECIPES", "recipe_config"]

RECIPES = ("proxy", "full")

PROXY_EPOCHS = 3
"""Epochs of the proxy recipe: the grid's ranking schedule (README, 'What grid does')."""

FULL_REFERENCE_BATCH = 128
"""The batch size at which the full recipe's learning rate is 0.1; other sizes scale it linearly."""

_FULL: dict[str, Any] = {
    "epochs": 200,
    "batch_size": FULL_REFERENCE_BATCH,
    "optimizer": "sgd",
    "momentum": 0.9,
    "weight_decay": 5e-4,
    "label_smoothing": 0.1,
    "ema_decay": 0.999,
}


def recipe_config(name: str, **overrides: Any) -> TrainConfig:
    """The :class:`TrainConfig` of recipe ``name``, with ``overrides`` (any TrainConfig field) applied.

    For ``full``, an overridden ``batch_size`` scales the learning rate (0.1 x batch / 128) unless
    ``lr`` is given too, and the warm-up is 5 epochs but at most a tenth of ``epochs`` unless
    ``warmup_epochs`` is given. Unknown recipes and fields are one-line UserErrors.
    """
    if name not in RECIPES:
        raise UserError(f"recipe must be one of {', '.join(RECIPES)}, got {name!r}")
    unknown = sorted(set(overrides) - set(TrainConfig.__dataclass_fields__))
    if unknown:
        raise UserError(f"unknown training option {unknown[0]!r} for recipe {name!r}")
    if name == "proxy":
        return TrainConfig(**{"epochs": PROXY_EPOCHS, **overrides})
    fields = {**_FULL, **overrides}
    if "lr" not in overrides:
        batch = fields["batch_size"]
        fields["lr"] = 0.1 * batch / FULL_REFERENCE_BATCH if isinstance(batch, int) else batch
    if "warmup_epochs" not in overrides:
        epochs = fields["epochs"]
        fields["warmup_epochs"] = min(5, epochs // 10) if isinstance(epochs, int) else epochs
    return TrainConfig(**fields)
