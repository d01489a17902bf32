"""``train``: fit any classifier on :class:`~nas_scaling.data.DatasetSplits`, reporting per epoch.

It knows nothing of search or tracking: a pruner stops it by raising :class:`StopTraining` from
the ``report`` callback. On CUDA it uses bf16 autocast and channels_last; on CPU float32 with a
fixed thread count. The hot loop avoids host syncs on CUDA: losses go to a device buffer that is
checked for NaN/inf every few steps. On CPU, where reading a value costs nothing, every step is checked.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import Dataset

from nas_scaling.data import BatchAugment, DatasetSplits
from nas_scaling.training.batches import Batches, make_batches
from nas_scaling.training.checkpoint import TrainState, snapshot
from nas_scaling.training.config import TrainConfig
from nas_scaling.training.device import (
    cpu_threads,
    global_rng_states,
    resolve_device,
    seed_everything,
    set_global_rng_states,
)

__all__ = [
    "AUX_WEIGHT", "EpochReport", "EvalMetrics", "StopTraining", "TrainResult", "evaluate", "lr_at", "train",
    "training_loss",
]

Status = Literal["completed", "stopped", "failed"]

#: Steps between NaN/inf checks on CUDA (each check is one host sync).
CUDA_CHECK_EVERY = 32
EVAL_BATCH = 256


class StopTraining(Exception):
    """Raised by a ``report`` callback (a pruner) to end training after the current epoch."""


@dataclass(frozen=True)
class EpochReport:
    """Metrics after one epoch; ``epoch`` counts from 1, accuracies are fractions."""

    epoch: int
    val_top1: float
    val_top5: float
    train_loss: float
    val_loss: float
    seconds: float
    lr: float = 0.0


@dataclass(frozen=True)
class EvalMetrics:
    """Top-1, top-k (k = min(5, classes)) accuracy and mean cross-entropy on one split."""

    top1: float
    top5: float
    loss: float
    topk: dict[int, float] = field(default_factory=dict)
    """Rank-k accuracy for every k asked of :func:`evaluate` (a hit when the label is among the k
    highest logits)."""


@dataclass(frozen=True)
class TrainResult:
    """Outcome of :func:`train`.

    ``val_*`` are those of the last finished epoch (None when the run failed); ``epochs_run``
    counts finished epochs; ``train_seconds`` is the wall time of the whole call and
    ``images_per_second`` the training throughput (optimizer steps only, no evaluation).
    """

    status: Status
    reason: str | None
    epochs_run: int
    val_top1: float | None
    val_top5: float | None
    val_loss: float | None
    test_top1: float | None
    test_top5: float | None
    train_seconds: float
    images_per_second: float
    history: list[EpochReport] = field(default_factory=list)

    @property
    def best_val_top1(self) -> float | None:
        """Best validation top-1 over all finished epochs."""
        return max((r.val_top1 for r in self.history), default=None)


def lr_at(step: int, *, base: float, warmup_steps: int, total_steps: int) -> float:
    """Linear warm-up to ``base`` over ``warmup_steps``, then cosine decay towards zero."""
    if step < warmup_steps:
        return base * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return base * 0.5 * (1.0 + math.cos(math.pi * progress))


def _optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """SGD (Nesterov when ``momentum`` > 0) or AdamW; no weight decay on biases and norm weights (ndim <= 1)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups: list[dict[str, Any]] = [
        {"params": [p for p in params if p.ndim > 1], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0},
    ]
    groups = [g for g in groups if g["params"]]
    # Fused kernels on CUDA (one launch per step) and on CPU (one pass over each parameter instead of
    # a dozen dispatched ops: 5x less optimizer time for the grid's networks, the same update to rounding).
    if config.optimizer == "sgd":
        momentum = config.momentum
        return torch.optim.SGD(groups, lr=config.lr, momentum=momentum, nesterov=momentum > 0, fused=True)
    return torch.optim.AdamW(groups, lr=config.lr, fused=True)


def _autocast(device: torch.device) -> contextlib.AbstractContextManager[Any]:
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.inference_mode()
def _evaluate(
    model: nn.Module, batches: Batches, device: torch.device, num_classes: int, ks: tuple[int, ...] = (),
) -> EvalMetrics:
    model.eval()
    five = min(5, num_classes)
    ranks = sorted({1, five, *ks})
    correct = torch.zeros(len(ranks), dtype=torch.long, device=device)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    count = 0
    for x, y in batches:
        with _autocast(device):
            logits = model(x)
        logits = logits.float()
        loss_sum += F.cross_entropy(logits, y, reduction="sum")
        hits = logits.topk(min(ranks[-1], logits.shape[1]), dim=1).indices.eq(y[:, None])
        correct += torch.stack([hits[:, :k].any(dim=1).sum() for k in ranks])
        count += y.shape[0]
    if count == 0:
        raise ValueError("cannot evaluate on an empty split")
    acc = dict(zip(ranks, (c / count for c in correct.tolist()), strict=True))
    return EvalMetrics(acc[1], acc[five], loss_sum.item() / count, {k: acc[k] for k in ks})


def evaluate(
    model: nn.Module,
    dataset: Dataset[Any],
    *,
    num_classes: int,
    batch_size: int = EVAL_BATCH,
    device: str = "auto",
    topk: tuple[int, ...] = (),
) -> EvalMetrics:
    """Top-1/top-5 accuracy, rank-k accuracy for each k of ``topk`` (each at most ``num_classes``)
    and loss of ``model`` on ``dataset`` (moves the model to ``device``)."""
    bad = [k for k in topk if not 1 <= k <= num_classes]
    if bad:
        raise ValueError(f"topk must be between 1 and the {num_classes} classes, got {bad[0]}")
    dev = resolve_device(device)
    model.to(dev)
    model.to(memory_format=torch.channels_last)
    batches = make_batches(dataset, batch_size=batch_size, device=dev, shuffle=False)
    return _evaluate(model, batches, dev, num_classes, topk)


@torch.no_grad()
def _recalibrate_bn(model: nn.Module, batches: Batches, max_batches: int) -> None:
    """Re-estimate batch-norm running statistics with the current weights ("precise BN").

    A short proxy schedule changes the weights fast, so the running averages lag behind and an
    eval-mode model can score near chance while it trains well; once-for-all and single-path NAS
    recalibrate BN before scoring a candidate for the same reason. Costs ``max_batches`` forward
    passes.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches below
    model.train()
    for i, (x, _) in enumerate(batches):
        if i >= max_batches:
            break
        with _autocast(x.device):
            model(x)
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum


def _first_bad(losses: torch.Tensor, start: int, stop: int) -> int | None:
    """Index of the first non-finite loss in ``losses[start:stop]`` (one host sync), else None."""
    bad = ~torch.isfinite(losses[start:stop])
    if not bool(bad.any()):
        return None
    return start + int(bad.nonzero()[0, 0])


@contextlib.contextmanager
def _runtime(device: torch.device, config: TrainConfig) -> Iterator[None]:
    """CPU: the configured thread count. CUDA: cudnn autotuning. Both restored afterwards."""
    if device.type == "cuda":
        previous = torch.backends.cudnn.benchmark
        torch.backends.cudnn.benchmark = True
        try:
            with torch.cuda.device(device):
                yield
        finally:
            torch.backends.cudnn.benchmark = previous
    else:
        with cpu_threads(config.cpu_threads()):
            yield


def train(
    model: nn.Module,
    data: DatasetSplits,
    config: TrainConfig,
    *,
    report: Callable[[EpochReport], None] | None = None,
    evaluate_test: bool = False,
    checkpoint: Callable[[TrainState], None] | None = None,
    resume: TrainState | None = None,
) -> TrainResult:
    """Train ``model`` in place on ``data.train``, validating on ``data.val`` after every epoch.

    ``report`` gets one :class:`EpochReport` per epoch; if it raises :class:`StopTraining` the run
    ends with status ``"stopped"``. A non-finite loss ends it with status ``"failed"`` and a
    reason; it never raises for that. The model is left on the training device; with
    ``config.ema_decay`` it holds the averaged weights at the end (those that were evaluated).

    ``checkpoint`` gets a :class:`TrainState` after every finished (and reported) epoch; passing
    one back as ``resume`` (same model, data and config) continues after its epoch and ends with
    the same weights and metrics as an uninterrupted run.
    """
    device = resolve_device(config.device)
    if resume is not None and not 0 <= resume.epoch <= config.epochs:
        raise ValueError(f"cannot resume after epoch {resume.epoch} of a {config.epochs}-epoch training")
    with _runtime(device, config):
        return _train(model, data, config, device, report, evaluate_test, checkpoint, resume)


@dataclass
class _Session:
    """What one training holds between epochs (the parts of a :class:`TrainState` that live in objects)."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    ema: AveragedModel | None
    train_batches: Batches
    augment: BatchAugment
    history: list[EpochReport] = field(default_factory=list)
    global_step: int = 0
    train_time: float = 0.0
    images_seen: int = 0
    elapsed: float = 0.0

    @property
    def evaluated(self) -> nn.Module:
        """The weights that are scored: the moving average when there is one."""
        return self.ema.module if self.ema is not None else self.model

    def state(self, epoch: int, elapsed: float) -> TrainState:
        rng = global_rng_states()
        rng["augment"] = self.augment.get_state()
        if self.train_batches.generator is not None:
            rng["shuffle"] = self.train_batches.generator.get_state()
        return snapshot(TrainState(
            epoch=epoch, global_step=self.global_step, model=self.model.state_dict(),
            optimizer=self.optimizer.state_dict(), ema=None if self.ema is None else self.ema.state_dict(),
            rng=rng, history=[asdict(r) for r in self.history], train_time=self.train_time,
            images_seen=self.images_seen, elapsed=self.elapsed + elapsed,
        ))

    def restore(self, state: TrainState) -> None:
        self.model.load_state_dict(state.model)
        self.optimizer.load_state_dict(state.optimizer)
        if (state.ema is None) != (self.ema is None):
            raise ValueError("the checkpoint's weight averaging (ema_decay) differs from the config's")
        if self.ema is not None and state.ema is not None:
            self.ema.load_state_dict(state.ema)
        set_global_rng_states(state.rng)
        self.augment.set_state(state.rng["augment"])
        if self.train_batches.generator is not None:
            self.train_batches.generator.set_state(state.rng["shuffle"])
        self.history = [EpochReport(**r) for r in state.history]
        self.global_step, self.train_time = state.global_step, state.train_time
        self.images_seen, self.elapsed = state.images_seen, state.elapsed


AUGMENT_SEED_OFFSET = 0x5EED
"""The augmentation generator is seeded with ``seed + AUGMENT_SEED_OFFSET``: a stream apart from
the shuffling generator (seeded with ``seed``)."""



def _ema_with_warmup(decay: float) -> Any:
    """torch's EMA update with the decay warmed up as ``min(decay, (1 + n) / (10 + n))`` after ``n``
    updates (TensorFlow's ``ExponentialMovingAverage(num_updates=...)``, timm's EMA warm-up): with a
    fixed 0.999 the average of a run shorter than ~1,000 steps is mostly its random initialisation
    (measured: LeNet-5, 10 epochs on cifar10-dev, 220 steps)."""
    @torch.no_grad()
    def update(ema_params: Any, current_params: Any, num_averaged: Any) -> None:
        n = int(num_averaged.item()) if isinstance(num_averaged, torch.Tensor) else int(num_averaged)
        get_ema_multi_avg_fn(min(decay, (1 + n) / (10 + n)))(ema_params, current_params, num_averaged)

    return update

def _session(model: nn.Module, data: DatasetSplits, config: TrainConfig, device: torch.device) -> _Session:
    model.to(device)
    model.to(memory_format=torch.channels_last)
    train_batches = make_batches(
        data.train,
        batch_size=config.batch_size,
        device=device,
        shuffle=True,
        seed=config.seed,
        workers=config.workers,
    )
    ema = None
    if config.ema_decay is not None:
        # Buffers are averaged too; batch-norm statistics are re-estimated for the averaged weights
        # before each evaluation (bn_recalibration) and otherwise are the buffers' average.
        ema = AveragedModel(model, multi_avg_fn=_ema_with_warmup(config.ema_decay), use_buffers=True)
    augment = BatchAugment(config.augment, resolution=data.resolution, normalization=data.normalization,
                           flip=config.flip, seed=config.seed + AUGMENT_SEED_OFFSET)
    return _Session(model, _optimizer(model, config), ema, train_batches, augment)


@dataclass(frozen=True)
class _EpochOutcome:
    train_loss: float
    lr: float
    bad_step: int | None


AUX_WEIGHT = 0.3
"""Loss weight of an auxiliary classifier when the model names none (Szegedy et al. 2015, section 5)."""


def training_loss(criterion: nn.Module, output: Tensor | tuple[Tensor, ...], y: Tensor, model: nn.Module) -> Tensor:
    """``criterion`` on the logits, plus, when the model returns ``(logits, aux0, aux1, ...)`` in
    training mode (GoogLeNet, Inception v3), each auxiliary output's loss times its weight: the
    model's ``aux_weights`` (a built spec's :class:`~nas_scaling.spec.AuxHead` weights) or else
    :data:`AUX_WEIGHT` each (torchvision's models)."""
    if not isinstance(output, tuple):
        return criterion(output, y)
    logits, *aux = output
    weights = tuple(getattr(model, "aux_weights", ())) or (AUX_WEIGHT,) * len(aux)
    loss = criterion(logits, y)
    for weight, out in zip(weights, aux, strict=True):
        loss = loss + weight * criterion(out, y)
    return loss


def _train_epoch(run: _Session, config: TrainConfig, criterion: nn.Module, device: torch.device) -> _EpochOutcome:
    """One pass over the training batches; stops at the first non-finite loss."""
    cuda = device.type == "cuda"
    model, optimizer, batches = run.model, run.optimizer, run.train_batches
    steps = len(batches)
    total_steps, warmup_steps = steps * config.epochs, steps * config.warmup_epochs
    params = [p for g in optimizer.param_groups for p in g["params"]]
    losses = torch.zeros(max(1, steps), dtype=torch.float32, device=device) if cuda else torch.zeros(0)
    cpu_losses: list[float] = []
    checked, bad, lr, step = 0, None, config.lr, 0
    model.train()
    for step, (x, y) in enumerate(batches):
        lr = lr_at(run.global_step, base=config.lr, warmup_steps=warmup_steps, total_steps=total_steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        with _autocast(device):
            loss = training_loss(criterion, model(run.augment(x)), y, model)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip is not None:
            nn.utils.clip_grad_norm_(params, config.grad_clip)
        optimizer.step()
        if run.ema is not None:
            run.ema.update_parameters(model)
        run.global_step += 1
        if cuda:  # no host sync here: the buffer is checked every CUDA_CHECK_EVERY steps
            losses[step] = loss.detach()
            if (step + 1) % CUDA_CHECK_EVERY == 0:
                bad = _first_bad(losses, checked, step + 1)
                checked = step + 1
                if bad is not None:
                    break
        else:  # on CPU reading the value is free
            value = loss.item()
            cpu_losses.append(value)
            if not math.isfinite(value):
                bad = step
                break
    done = min(step + 1, steps)
    if bad is None and cuda:
        bad = _first_bad(losses, checked, done)
    if cuda:
        torch.cuda.synchronize(device)
    run.images_seen += batches.images * done // max(1, steps)
    if bad is not None:
        return _EpochOutcome(math.nan, lr, bad)
    train_loss = float(losses[:done].mean().item()) if cuda else math.fsum(cpu_losses) / len(cpu_losses)
    return _EpochOutcome(train_loss, lr, None)


def _train(
    model: nn.Module,
    data: DatasetSplits,
    config: TrainConfig,
    device: torch.device,
    report: Callable[[EpochReport], None] | None,
    evaluate_test: bool,
    checkpoint: Callable[[TrainState], None] | None,
    resume: TrainState | None,
) -> TrainResult:
    started = time.perf_counter()
    if len(data.train) == 0 or len(data.val) == 0:  # type: ignore[arg-type]
        raise ValueError(f"{data.name}: train and val splits must not be empty")
    seed_everything(config.seed)
    run = _session(model, data, config, device)
    eval_batch = max(config.batch_size, EVAL_BATCH)
    val_batches = make_batches(data.val, batch_size=eval_batch, device=device, shuffle=False, workers=config.workers)
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    if resume is not None:
        run.restore(resume)
    status: Status = "completed"
    reason: str | None = None
    for epoch in range(len(run.history) + 1, config.epochs + 1):
        epoch_start = time.perf_counter()
        outcome = _train_epoch(run, config, criterion, device)
        run.train_time += time.perf_counter() - epoch_start
        if outcome.bad_step is not None:
            status, reason = "failed", f"non-finite loss at epoch {epoch} step {outcome.bad_step + 1}"
            break
        if config.bn_recalibration:
            _recalibrate_bn(run.evaluated, run.train_batches, config.bn_recalibration)
        val = _evaluate(run.evaluated, val_batches, device, data.num_classes)
        if not math.isfinite(val.loss):
            status, reason = "failed", f"non-finite validation loss at epoch {epoch}"
            break
        epoch_report = EpochReport(
            epoch=epoch,
            val_top1=val.top1,
            val_top5=val.top5,
            train_loss=outcome.train_loss,
            val_loss=val.loss,
            seconds=time.perf_counter() - epoch_start,
            lr=outcome.lr,
        )
        run.history.append(epoch_report)
        if report is not None:
            try:
                report(epoch_report)
            except StopTraining as exc:
                status = "stopped"
                reason = str(exc) or f"stopped by the report callback after epoch {epoch}"
                break
        if checkpoint is not None:
            checkpoint(run.state(epoch, time.perf_counter() - started))

    if run.ema is not None:  # the caller gets the weights that were scored
        model.load_state_dict(run.ema.module.state_dict())
    test: EvalMetrics | None = None
    if evaluate_test and status != "failed":
        test_batches = make_batches(
            data.test, batch_size=eval_batch, device=device, shuffle=False, workers=config.workers
        )
        test = _evaluate(model, test_batches, device, data.num_classes)
    history = run.history
    last = history[-1] if history and status != "failed" else None
    return TrainResult(
        status=status,
        reason=reason,
        epochs_run=len(history),
        val_top1=last.val_top1 if last else None,
        val_top5=last.val_top5 if last else None,
        val_loss=last.val_loss if last else None,
        test_top1=test.top1 if test else None,
        test_top5=test.top5 if test else None,
        train_seconds=run.elapsed + time.perf_counter() - started,
        images_per_second=run.images_seen / run.train_time if run.train_time > 0 else 0.0,
        history=history,
    )
