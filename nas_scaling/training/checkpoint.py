"""Model weights and resumable training state on disk, written by ``torch.save`` and read with
``weights_only=True`` so loading a checkpoint never runs pickled code."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nas_scaling.errors import UserError

__all__ = [
    "STATE_FORMAT", "TrainState", "load_train_state", "load_weights", "save_checkpoint", "save_train_state", "snapshot",
]

STATE_FORMAT = "nas-scaling-train-state/1"


def save_checkpoint(path: str | Path, model: nn.Module) -> Path:
    """Write ``model``'s weights (as CPU tensors) to ``path``, creating parent folders."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save(state, target)
    return target


def load_weights(path: str | Path, model: nn.Module) -> nn.Module:
    """Load weights saved by :func:`save_checkpoint` into ``model`` (strict) and return it.

    A missing or unreadable file, or weights that do not fit the model, is a UserError.
    """
    source = Path(path)
    if not source.is_file():
        raise UserError(f"checkpoint {source} does not exist")
    try:
        state = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(f"checkpoint {source} is not a readable weights file: {first}") from exc
    if not isinstance(state, dict):
        raise UserError(f"checkpoint {source} holds a {type(state).__name__}, not a state_dict")
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = sorted(k for k in set(expected) & set(state) if tuple(expected[k].shape) != tuple(state[k].shape))
    if missing or unexpected or mismatched:
        parts = [
            f"{label} {names[0]!r}" + (f" (+{len(names) - 1} more)" if len(names) > 1 else "")
            for label, names in (("missing", missing), ("unexpected", unexpected), ("shape mismatch in", mismatched))
            if names
        ]
        raise UserError(f"checkpoint {source} does not fit the model: {'; '.join(parts)}")
    model.load_state_dict(state)
    return model


@dataclass
class TrainState:
    """Everything :func:`~nas_scaling.training.train` needs to continue after a finished epoch.

    Plain tensors, numbers, strings, lists and dicts only, so :func:`load_train_state` can read it
    with ``weights_only=True``. ``rng`` holds the generators of Python, NumPy and torch (CPU and
    CUDA) and the loop's own shuffle and augmentation generators; the learning-rate schedule is a
    function of ``global_step``, so that is its whole state.
    """

    epoch: int
    global_step: int
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    ema: dict[str, torch.Tensor] | None
    rng: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    train_time: float = 0.0
    images_seen: int = 0
    elapsed: float = 0.0
    """Wall seconds of the training so far (earlier sessions included)."""


def _cpu_copy(value: Any) -> Any:
    """``value`` with every tensor copied to the CPU (through nested dicts, lists and tuples)."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: _cpu_copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cpu_copy(v) for v in value)
    return value


def snapshot(state: TrainState) -> TrainState:
    """``state`` with its own CPU copy of every tensor: training on does not change it."""
    return TrainState(**{k: _cpu_copy(v) for k, v in _fields(state).items()})


def _fields(state: TrainState) -> dict[str, Any]:
    """The fields as a dict, values as they are (``dataclasses.asdict`` would deep-copy every tensor)."""
    return {f.name: getattr(state, f.name) for f in fields(state)}


def save_train_state(path: str | Path, state: TrainState, meta: dict[str, Any]) -> Path:
    """Write ``state`` and the caller's ``meta`` (plain values) to ``path`` atomically.

    The file is written beside ``path``, flushed to disk and renamed over it, so a kill at any
    moment leaves either the previous checkpoint or the new one, never a torn file.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": STATE_FORMAT, "meta": meta, "state": _fields(snapshot(state))}
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def load_train_state(path: str | Path) -> tuple[TrainState, dict[str, Any]]:
    """``(state, meta)`` from a file of :func:`save_train_state`, read with ``weights_only=True``.

    A missing, unreadable or foreign file is a one-line UserError.
    """
    source = Path(path)
    if not source.is_file():
        raise UserError(f"no checkpoint to resume from: {source} does not exist")
    try:
        payload = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(f"checkpoint {source} is not readable: {first}") from exc
    if not isinstance(payload, dict) or payload.get("format") != STATE_FORMAT:
        raise UserError(f"checkpoint {source} is not a training checkpoint of this version ({STATE_FORMAT})")
    try:
        state = TrainState(**payload["state"])
    except TypeError as exc:
        raise UserError(f"checkpoint {source} is not a training checkpoint of this version: {exc}") from exc
    return state, dict(payload.get("meta") or {})
