"""Model weights on disk: a plain ``state_dict`` written by ``torch.save``, read with
``weights_only=True`` so loading a checkpoint never runs pickled code."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from nas_scaling.errors import UserError

__all__ = ["load_weights", "save_checkpoint"]


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
