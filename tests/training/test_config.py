"""TrainConfig validation, the learning-rate schedule and checkpoints."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from nas_scaling.errors import UserError
from nas_scaling.training import TrainConfig, load_weights, lr_at, save_checkpoint, seed_everything


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("epochs", 0, "epochs must be an integer >= 1, got 0"),
        ("epochs", 2.5, "got 2.5"),
        ("batch_size", 0, "batch_size must be an integer >= 1, got 0"),
        ("optimizer", "adam", "optimizer must be one of sgd, adamw, got 'adam'"),
        ("lr", 0.0, "lr must be a number > 0, got 0.0"),
        ("lr", float("nan"), "lr must be a number > 0"),
        ("weight_decay", -1.0, "weight_decay must be a number >= 0"),
        ("warmup_epochs", 99, "warmup_epochs must be an integer in [0, epochs=20], got 99"),
        ("label_smoothing", 1.0, "label_smoothing must be in [0, 1)"),
        ("device", "gpu", "device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got 'gpu'"),
        ("threads", 0, "threads must be an integer >= 1 or None"),
        ("concurrent_trials", 0, "concurrent_trials must be an integer >= 1"),
        ("grad_clip", -1.0, "grad_clip must be a number > 0 or None"),
        ("workers", -1, "workers must be an integer >= 0 or None"),
        ("seed", "0", "seed must be an integer"),
    ],
)
def test_bad_values_are_one_line_user_errors(field: str, value: Any, fragment: str) -> None:
    with pytest.raises(UserError) as info:
        TrainConfig(**{field: value})
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_defaults_and_threads() -> None:
    config = TrainConfig()
    assert config.epochs >= 1 and config.optimizer in ("sgd", "adamw") and config.device == "auto"
    assert TrainConfig(threads=3).cpu_threads() == 3
    assert TrainConfig(concurrent_trials=10_000).cpu_threads() == 1
    for device in ("cpu", "cuda", "cuda:1", "auto"):
        assert TrainConfig(device=device).device == device


def test_schedule_warms_up_then_decays() -> None:
    lrs = [lr_at(s, base=1.0, warmup_steps=10, total_steps=110) for s in range(110)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[10] == pytest.approx(1.0) and lrs[60] == pytest.approx(0.5)
    assert all(a >= b for a, b in itertools.pairwise(lrs[9:]))
    assert 0 < lrs[-1] < 1e-3
    assert lr_at(0, base=0.1, warmup_steps=0, total_steps=5) == pytest.approx(0.1)
    assert math.isfinite(lr_at(0, base=0.1, warmup_steps=0, total_steps=0))


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    seed_everything(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 36, 3))
    model.eval()
    x = torch.randn(2, 1, 8, 8)
    path = save_checkpoint(tmp_path / "deep" / "w.pt", model)
    assert path.is_file()
    seed_everything(1)
    other = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 36, 3))
    other.eval()
    assert not torch.equal(other(x), model(x))
    assert load_weights(path, other) is other
    assert torch.equal(other(x), model(x))


def test_checkpoint_errors(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(4, 3))
    with pytest.raises(UserError, match="does not exist"):
        load_weights(tmp_path / "missing.pt", model)
    path = save_checkpoint(tmp_path / "w.pt", model)
    with pytest.raises(UserError, match=r"shape mismatch in '0.weight'"):
        load_weights(path, nn.Sequential(nn.Linear(5, 3)))
    with pytest.raises(UserError, match=r"missing '1.bias' \(\+1 more\)"):
        load_weights(path, nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2)))
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="not a readable weights file"):
        load_weights(garbage, model)
