"""train() on small real data: metrics, determinism, failure and early stop, both batch paths."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn
from torch.utils.data import Subset

from nas_scaling.data import DatasetSplits, Normalization, TensorImageDataset, load_dataset
from nas_scaling.training import (
    EpochReport,
    StopTraining,
    TrainConfig,
    evaluate,
    seed_everything,
    train,
)

FAST = TrainConfig(epochs=1, batch_size=32, threads=1)


class TinyCNN(nn.Module):
    """conv-bn-relu, global pool, linear: enough to learn digits, small enough for a unit test."""

    def __init__(self, in_channels: int, classes: int, width: int = 8) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(2 * width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.features(x))
        return out


class NaNModel(TinyCNN):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) * float("nan")


def _fresh(data: DatasetSplits, seed: int = 0) -> TinyCNN:
    seed_everything(seed)
    return TinyCNN(data.in_channels, data.num_classes)


def _check_metrics(values: list[float | None]) -> None:
    for value in values:
        assert value is not None and 0.0 <= value <= 1.0


@pytest.mark.parametrize(("name", "resolution", "channels"), [("fake", 16, 3), ("digits", 8, 1)])
def test_one_epoch_is_sane_and_repeatable(name: str, resolution: int, channels: int) -> None:
    data = load_dataset(name, resolution=resolution, in_channels=channels)
    first = train(_fresh(data), data, FAST, evaluate_test=True)
    assert first.status == "completed" and first.reason is None and first.epochs_run == 1
    _check_metrics([first.val_top1, first.val_top5, first.test_top1, first.test_top5])
    assert first.val_top5 is not None and first.val_top1 is not None
    assert first.val_top5 >= first.val_top1
    assert first.val_loss is not None and math.isfinite(first.val_loss) and first.val_loss > 0
    assert first.images_per_second > 0 and first.train_seconds > 0
    (epoch,) = first.history
    assert epoch.epoch == 1 and epoch.val_top1 == first.val_top1 and math.isfinite(epoch.train_loss)

    second = train(_fresh(data), data, FAST, evaluate_test=True)
    assert (second.val_top1, second.val_top5, second.val_loss, second.test_top1) == (
        first.val_top1,
        first.val_top5,
        first.val_loss,
        first.test_top1,
    )
    assert second.history[0].train_loss == first.history[0].train_loss


def test_digits_is_learned_and_test_is_opt_in() -> None:
    data = load_dataset("digits", resolution=8, in_channels=1)
    config = TrainConfig(epochs=4, batch_size=32, lr=1e-2, threads=1)
    result = train(_fresh(data), data, config)
    assert result.test_top1 is None and result.test_top5 is None
    assert result.val_top1 is not None and result.val_top1 > 0.6  # chance is 0.1
    losses = [r.train_loss for r in result.history]
    assert losses[-1] < losses[0]


def test_other_seed_gives_other_run() -> None:
    data = load_dataset("digits", resolution=8, in_channels=1)
    a = train(_fresh(data), data, FAST)
    b = train(_fresh(data), data, TrainConfig(epochs=1, batch_size=32, threads=1, seed=1))
    assert a.history[0].train_loss != b.history[0].train_loss


def test_non_finite_loss_fails_without_raising() -> None:
    data = load_dataset("digits", resolution=8, in_channels=1)
    seed_everything(0)
    result = train(NaNModel(1, 10), data, TrainConfig(epochs=3, batch_size=32, threads=1))
    assert result.status == "failed"
    assert result.reason == "non-finite loss at epoch 1 step 1"
    assert result.epochs_run == 0 and result.history == []
    assert result.val_top1 is None and result.test_top1 is None


def test_report_per_epoch_and_stop_training() -> None:
    data = load_dataset("digits", resolution=8, in_channels=1)
    seen: list[EpochReport] = []
    config = TrainConfig(epochs=3, batch_size=64, threads=1)
    result = train(_fresh(data), data, config, report=seen.append)
    assert [r.epoch for r in seen] == [1, 2, 3] and seen == result.history
    assert all(r.seconds > 0 and 0 <= r.val_top1 <= r.val_top5 <= 1 for r in seen)

    def prune(report: EpochReport) -> None:
        if report.epoch == 2:
            raise StopTraining("pruned at epoch 2")

    stopped = train(_fresh(data), data, TrainConfig(epochs=5, batch_size=64, threads=1), report=prune)
    assert stopped.status == "stopped" and stopped.reason == "pruned at epoch 2"
    assert stopped.epochs_run == 2 and stopped.val_top1 == stopped.history[-1].val_top1


def test_other_report_errors_propagate() -> None:
    data = load_dataset("digits", resolution=8, in_channels=1)

    def broken(report: EpochReport) -> None:
        raise KeyError("bug in the callback")

    with pytest.raises(KeyError):
        train(_fresh(data), data, FAST, report=broken)


def test_top5_is_top_k_with_few_classes() -> None:
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(60, 1, 6, 6, generator=generator)
    labels = torch.arange(60) % 3
    split = TensorImageDataset(images, labels)
    data = DatasetSplits(
        name="three",
        num_classes=3,
        resolution=6,
        in_channels=1,
        train=split,
        val=split,
        test=split,
        normalization=Normalization((0.0,), (1.0,)),
    )
    result = train(_fresh(data), data, FAST, evaluate_test=True)
    assert result.val_top5 == 1.0 and result.test_top5 == 1.0


def test_dataloader_path_matches_tensor_path() -> None:
    data = load_dataset("digits", resolution=8, in_channels=1)
    assert isinstance(data.train, TensorImageDataset)

    def wrapped(ds: object) -> Subset[tuple[torch.Tensor, int]]:
        return Subset(ds, list(range(len(ds))))  # type: ignore[arg-type]

    streamed = DatasetSplits(
        name="digits-streamed",
        num_classes=10,
        resolution=8,
        in_channels=1,
        train=wrapped(data.train),
        val=wrapped(data.val),
        test=wrapped(data.test),
        normalization=data.normalization,
    )
    assert not streamed.in_memory
    a = train(_fresh(data), data, FAST)
    b = train(_fresh(data), streamed, FAST)
    assert b.status == "completed"
    # the DataLoader draws the same seeded permutation, so the runs agree
    assert b.val_top1 == a.val_top1
    assert b.history[0].train_loss == pytest.approx(a.history[0].train_loss, rel=1e-5)


def test_threads_are_restored_and_evaluate_helper() -> None:
    data = load_dataset("digits", resolution=8, in_channels=1)
    before = torch.get_num_threads()
    model = _fresh(data)
    result = train(model, data, TrainConfig(epochs=1, threads=1))
    assert torch.get_num_threads() == before
    metrics = evaluate(model, data.val, num_classes=10, device="cpu")
    assert metrics.top1 == result.val_top1 and metrics.loss == pytest.approx(result.val_loss)
    ranked = evaluate(model, data.val, num_classes=10, device="cpu", topk=(1, 2, 5, 10))
    with torch.inference_mode():
        x = torch.stack([data.val[i][0] for i in range(len(data.val))])
        y = torch.tensor([int(data.val[i][1]) for i in range(len(data.val))])
        rank = (model(x) > model(x).gather(1, y[:, None])).sum(dim=1)  # logits above the label's
    assert ranked.topk == {k: pytest.approx((rank < k).float().mean().item()) for k in (1, 2, 5, 10)}
    assert (ranked.topk[1], ranked.topk[5], ranked.topk[10]) == (pytest.approx(metrics.top1), metrics.top5, 1.0)
    with pytest.raises(ValueError, match="topk must be between 1 and the 10 classes, got 11"):
        evaluate(model, data.val, num_classes=10, device="cpu", topk=(11,))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA message")
def test_cuda_without_gpu_is_a_user_error() -> None:
    from nas_scaling.errors import UserError

    data = load_dataset("digits", resolution=8, in_channels=1)
    with pytest.raises(UserError, match="CUDA is not available"):
        train(_fresh(data), data, TrainConfig(epochs=1, device="cuda"))


class LeNet5(nn.Module):
    """LeCun et al. 1998 at 32x32: conv5-6, pool, conv5-16, pool, conv5-120, fc84, fc10 (tanh)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2),
            nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
            nn.Conv2d(16, 120, 5), nn.Tanh(), nn.Flatten(),
            nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(x)
        return out


@pytest.mark.slow
def test_lenet5_defaults_reach_097_on_digits() -> None:
    data = load_dataset("digits", resolution=32, in_channels=1)
    seed_everything(0)
    # default recipe; one thread only because a busy CI box makes two OpenMP threads crawl
    config = dataclasses.replace(TrainConfig(), threads=1)
    result = train(LeNet5(), data, config, evaluate_test=True)
    assert result.status == "completed"
    assert result.test_top1 is not None and result.test_top1 >= 0.97


def test_first_bad_finds_the_first_non_finite_loss() -> None:
    from nas_scaling.training.loop import _first_bad

    losses = torch.tensor([1.0, 2.0, float("inf"), float("nan"), 3.0])
    assert _first_bad(losses, 0, 2) is None
    assert _first_bad(losses, 0, 5) == 2
    assert _first_bad(losses, 3, 5) == 3


def test_bn_recalibration_averages_batch_statistics_and_restores_momentum() -> None:
    from nas_scaling.training.batches import make_batches
    from nas_scaling.training.loop import _recalibrate_bn

    data = load_dataset("digits", resolution=8, in_channels=1)
    seed_everything(0)
    conv, norm = nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4, momentum=0.3)
    model = nn.Sequential(conv, norm)
    batches = make_batches(data.train, batch_size=64, device=torch.device("cpu"), shuffle=False)
    _recalibrate_bn(model, batches, 2)
    assert norm.momentum == 0.3 and norm.num_batches_tracked == 2
    with torch.no_grad():
        means = [conv(x).mean(dim=(0, 2, 3)) for x, _ in list(batches)[:2]]
    assert norm.running_mean is not None
    assert torch.allclose(norm.running_mean, (means[0] + means[1]) / 2, atol=1e-5)
