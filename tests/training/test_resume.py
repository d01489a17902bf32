"""Resumable training in the library: a TrainState after any epoch continues to the same result."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nas_scaling.data import load_dataset
from nas_scaling.errors import UserError
from nas_scaling.training import (
    TrainConfig,
    TrainResult,
    TrainState,
    load_train_state,
    save_checkpoint,
    save_train_state,
    seed_everything,
    train,
)


def _net(channels: int, classes: int) -> nn.Module:
    seed_everything(0)
    return nn.Sequential(nn.Conv2d(channels, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Dropout(0.2), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(8, classes))


def _same(a: TrainResult, b: TrainResult, ma: nn.Module, mb: nn.Module) -> None:
    assert [(h.epoch, h.val_top1, h.val_loss, h.train_loss, h.lr) for h in a.history] == [
        (h.epoch, h.val_top1, h.val_loss, h.train_loss, h.lr) for h in b.history]
    assert (a.val_top1, a.val_loss, a.test_top1, a.test_top5) == (b.val_top1, b.val_loss, b.test_top1, b.test_top5)
    for (name, x), (_, y) in zip(ma.state_dict().items(), mb.state_dict().items(), strict=True):
        assert torch.equal(x, y), name


@pytest.mark.parametrize(("dataset", "resolution", "channels", "config"), [
    ("digits", 8, 1, TrainConfig(epochs=3, threads=1)),
    ("fake", 16, 3, TrainConfig(epochs=3, threads=1, optimizer="sgd", lr=0.05, augment="trivialaugment",
                                ema_decay=0.9)),
    ("fake", 16, 3, TrainConfig(epochs=3, threads=1, augment="basic", bn_recalibration=0, ema_decay=0.5)),
], ids=["digits-adamw", "fake-sgd-trivialaugment-ema", "fake-basic-ema-no-recalibration"])
def test_resume_after_any_epoch_gives_the_same_result(
    dataset: str, resolution: int, channels: int, config: TrainConfig, tmp_path: object
) -> None:
    data = load_dataset(dataset, resolution=resolution, in_channels=channels)
    states: list[TrainState] = []
    whole = _net(channels, data.num_classes)
    expected = train(whole, data, config, checkpoint=states.append, evaluate_test=True)
    assert [s.epoch for s in states] == [1, 2, 3]
    for state in states[:2]:
        torch.rand(5)  # whatever happened to the global generators in between is undone
        resumed = _net(channels, data.num_classes)
        _same(expected, train(resumed, data, config, resume=state, evaluate_test=True), whole, resumed)


def test_state_round_trips_through_a_weights_only_file(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    data = load_dataset("digits", resolution=8, in_channels=1)
    config = TrainConfig(epochs=2, threads=1, optimizer="sgd", ema_decay=0.9)
    states: list[TrainState] = []
    whole = _net(1, data.num_classes)
    expected = train(whole, data, config, checkpoint=states.append)
    path = save_train_state(folder / "run" / "checkpoint.pt", states[0], {"run_id": "abc", "n": [1, 2]})
    assert sorted(p.name for p in path.parent.iterdir()) == ["checkpoint.pt"]  # no temporary left
    state, meta = load_train_state(path)
    assert meta == {"run_id": "abc", "n": [1, 2]} and state.epoch == 1
    resumed = _net(1, data.num_classes)
    _same(expected, train(resumed, data, config, resume=state), whole, resumed)


def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "checkpoint.pt"
    state = TrainState(epoch=1, global_step=3, model={"w": torch.ones(2)}, optimizer={}, ema=None, rng={})
    save_train_state(path, state, {"run_id": "first"})

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(OSError):
        save_train_state(path, TrainState(2, 6, {"w": torch.zeros(2)}, {}, None, {}), {"run_id": "second"})
    monkeypatch.undo()
    state, meta = load_train_state(path)
    assert (state.epoch, meta["run_id"]) == (1, "first") and torch.equal(state.model["w"], torch.ones(2))
    assert [p.name for p in path.parent.iterdir()] == ["checkpoint.pt"]


def test_foreign_or_missing_checkpoints_are_one_line(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    with pytest.raises(UserError, match=r"no checkpoint to resume from: .*missing.pt does not exist"):
        load_train_state(folder / "missing.pt")
    weights = save_checkpoint(folder / "weights.pt", nn.Linear(2, 2))
    with pytest.raises(UserError, match="is not a training checkpoint of this version"):
        load_train_state(weights)
    (folder / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(UserError, match="is not readable"):
        load_train_state(folder / "junk.pt")


def test_resume_past_the_last_epoch_is_refused() -> None:
    data = load_dataset("digits", resolution=8, in_channels=1)
    state = TrainState(epoch=5, global_step=0, model={}, optimizer={}, ema=None, rng={})
    with pytest.raises(ValueError, match="cannot resume after epoch 5 of a 2-epoch training"):
        train(_net(1, data.num_classes), data, TrainConfig(epochs=2, threads=1), resume=state)
