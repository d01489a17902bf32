"""Named recipes, the new TrainConfig fields and weight EMA."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from nas_scaling.cli.train import AUGMENT_CHOICES, RECIPE_CHOICES
from nas_scaling.data import AUGMENTS, load_dataset
from nas_scaling.errors import UserError
from nas_scaling.training import RECIPES, TrainConfig, evaluate, recipe_config, seed_everything, train


def test_cli_choices_match_the_library() -> None:
    assert RECIPE_CHOICES == RECIPES == ("proxy", "full")
    assert ("auto", *AUGMENTS) == AUGMENT_CHOICES


def test_proxy_is_the_grid_schedule() -> None:
    assert recipe_config("proxy") == TrainConfig(epochs=3)
    assert recipe_config("proxy", epochs=5, augment="basic") == TrainConfig(epochs=5, augment="basic")
    default = TrainConfig()
    assert (default.augment, default.flip, default.momentum, default.ema_decay) == ("none", True, 0.9, None)


def test_full_is_the_published_recipe() -> None:
    full = recipe_config("full")
    assert (full.optimizer, full.lr, full.momentum, full.weight_decay, full.batch_size) == ("sgd", 0.1, 0.9, 5e-4, 128)
    assert (full.epochs, full.warmup_epochs, full.label_smoothing, full.ema_decay) == (200, 5, 0.1, 0.999)
    assert recipe_config("full", batch_size=256).lr == pytest.approx(0.2)  # linear scaling
    assert recipe_config("full", batch_size=256, lr=0.05).lr == 0.05
    assert recipe_config("full", epochs=10).warmup_epochs == 1
    assert recipe_config("full", epochs=3).warmup_epochs == 0
    assert recipe_config("full", epochs=3, warmup_epochs=2).warmup_epochs == 2


@pytest.mark.parametrize(("call", "message"), [
    (lambda: recipe_config("bogus"), "recipe must be one of proxy, full, got 'bogus'"),
    (lambda: recipe_config("full", colour=1), "unknown training option 'colour' for recipe 'full'"),
    (lambda: TrainConfig(flip="yes"),  # type: ignore[arg-type]
     "flip must be true or false, got 'yes'"),
    (lambda: TrainConfig(momentum=1.0), "momentum must be a number in [0, 1), got 1.0"),
    (lambda: TrainConfig(ema_decay=1.0), "ema_decay must be a number in (0, 1) or None, got 1.0"),
    (lambda: TrainConfig(ema_decay=0), "ema_decay must be a number in (0, 1) or None, got 0"),
])
def test_bad_values_are_one_line(call: Any, message: str) -> None:
    with pytest.raises(UserError) as info:
        call()
    assert str(info.value) == message


def _tiny(classes: int) -> nn.Sequential:
    seed_everything(0)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, classes))


def test_ema_weights_are_the_ones_evaluated_and_returned() -> None:
    data = load_dataset("digits", resolution=8, in_channels=1)
    plain = _tiny(data.num_classes)
    train(plain, data, TrainConfig(epochs=2, threads=1, optimizer="sgd", lr=0.1))
    averaged = _tiny(data.num_classes)
    result = train(averaged, data, TrainConfig(epochs=2, threads=1, optimizer="sgd", lr=0.1, ema_decay=0.9),
                   evaluate_test=True)
    assert result.status == "completed" and result.val_top1 is not None and result.val_top1 > 0.2
    assert not torch.equal(plain.state_dict()["0.weight"], averaged.state_dict()["0.weight"])
    again = evaluate(averaged, data.val, num_classes=data.num_classes, device="cpu")
    assert (again.top1, again.loss) == (result.val_top1, result.val_loss)  # incl. its BN statistics
    bn = averaged[1]
    assert isinstance(bn, nn.BatchNorm2d) and bn.running_var is not None and torch.isfinite(bn.running_var).all()


def test_plain_sgd_without_momentum() -> None:
    data = load_dataset("digits", resolution=8, in_channels=1)
    result = train(_tiny(data.num_classes), data, TrainConfig(epochs=1, threads=1, optimizer="sgd", momentum=0.0))
    assert result.status == "completed"
