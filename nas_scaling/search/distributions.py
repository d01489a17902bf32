"""Optuna-style distributions as written in search-space files.

A value in a space file is one of

- a scalar (``3``, ``0.25``, ``silu``): fixed, never sampled;
- a list (``[3, 5]``): categorical choices;
- a mapping with ``type`` ``int``, ``float`` or ``categorical`` and Optuna's fields (``low``,
  ``high``, ``step``, ``log``, ``choices``); ``type`` may be left out when ``choices`` or
  ``low``/``high`` make it plain.

A :class:`Dist` draws its value through anything with Optuna's ``suggest_*`` methods (an Optuna
trial, or the enumerators of :mod:`nas_scaling.search.space`), so samplers stay Optuna's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

from nas_scaling.errors import UserError

__all__ = ["Dist", "Suggester", "parse_dist"]

Value = Any
_KINDS = ("fixed", "int", "float", "categorical")
_KEYS = {"type", "low", "high", "step", "log", "choices"}


class Suggester(Protocol):
    """The part of :class:`optuna.trial.Trial` a space needs."""

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int: ...

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float: ...

    def suggest_categorical(self, name: str, choices: Any) -> Any: ...


@dataclass(frozen=True)
class Dist:
    """One setting: fixed, or an int/float range, or categorical choices."""

    kind: str
    value: Value = None
    low: float = 0
    high: float = 0
    step: float | None = None
    log: bool = False
    choices: tuple[Value, ...] = ()

    def suggest(self, trial: Suggester, name: str) -> Value:
        if self.kind == "fixed":
            return self.value
        if self.kind == "categorical":
            return trial.suggest_categorical(name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(name, float(self.low), float(self.high), step=self.step, log=self.log)

    @property
    def sampled(self) -> bool:
        return self.kind != "fixed"

    def values(self) -> list[Value] | None:
        """Every value it can take, cheapest-looking first; ``None`` for a continuous range."""
        if self.kind == "fixed":
            return [self.value]
        if self.kind == "categorical":
            return list(self.choices)
        if self.kind == "int":
            step = int(self.step or 1)
            return list(range(int(self.low), int(self.high) + 1, step))
        if self.step is None:
            return None
        n = round((self.high - self.low) / self.step)
        return [round(self.low + i * self.step, 12) for i in range(n + 1)]

    @property
    def numeric(self) -> bool:
        """Whether every value is a number (not a name, a flag or null)."""
        values = self.values()
        return values is None or all(_number(v, integer=False) for v in values)

    def lowest(self) -> Value:
        """The low end: a fixed value, a range's low, the smallest numeric choice, else the first."""
        if self.kind == "fixed":
            return self.value
        if self.kind == "categorical":
            return min(self.choices) if self.numeric else self.choices[0]
        return int(self.low) if self.kind == "int" else float(self.low)

    def check(self, where: str, ok: Any, rule: str) -> None:
        """Every value this can take must pass ``ok``; else a one-line error naming ``where``."""
        values = self.values()
        probe = values if values is not None else [self.low, self.high]
        for v in probe:
            if not ok(v):
                raise UserError(f"{where}: {rule}, got {v!r}")


def _number(value: Any, *, integer: bool) -> bool:
    if isinstance(value, bool):
        return False
    if integer:
        return isinstance(value, int)
    return isinstance(value, (int, float)) and math.isfinite(value)


def parse_dist(raw: Any, where: str) -> Dist:
    """A :class:`Dist` from a space-file value; errors name ``where`` (``stages[1].mbconv.kernel``)."""
    if isinstance(raw, (list, tuple)):
        return _categorical(list(raw), where)
    if not isinstance(raw, dict):
        if raw is None or isinstance(raw, (bool, int, float, str)):
            return Dist("fixed", value=raw)
        raise UserError(f"{where}: expected a value, a list of choices or a distribution, got {raw!r}")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise UserError(f"{where}: unknown distribution field {unknown[0]!r}; allowed: {', '.join(sorted(_KEYS))}")
    kind = raw.get("type")
    if kind is None:
        if "choices" in raw:
            kind = "categorical"
        elif "low" in raw and "high" in raw:
            bounds = (raw["low"], raw["high"], raw.get("step", 1))
            kind = "int" if all(_number(b, integer=True) for b in bounds) else "float"
        else:
            raise UserError(f"{where}: a distribution needs 'choices' or 'low' and 'high', got {raw!r}")
    if kind not in _KINDS[1:]:
        raise UserError(f"{where}: type must be one of int, float, categorical, got {kind!r}")
    if kind == "categorical":
        extra = sorted(set(raw) - {"type", "choices"})
        if extra:
            raise UserError(f"{where}: a categorical distribution takes only 'choices', got {extra[0]!r}")
        choices = raw.get("choices")
        if not isinstance(choices, list):
            raise UserError(f"{where}: choices must be a list, got {choices!r}")
        return _categorical(choices, where)
    if "choices" in raw:
        raise UserError(f"{where}: an {kind} distribution takes low/high/step/log, not 'choices'")
    integer = kind == "int"
    for key in ("low", "high"):
        if key not in raw:
            raise UserError(f"{where}: an {kind} distribution needs {key!r}")
        if not _number(raw[key], integer=integer):
            raise UserError(f"{where}.{key} must be {'an integer' if integer else 'a number'}, got {raw[key]!r}")
    low, high = raw["low"], raw["high"]
    if low > high:
        raise UserError(f"{where}: low must be <= high, got low={low!r} high={high!r}")
    step = raw.get("step")
    log = raw.get("log", False)
    if not isinstance(log, bool):
        raise UserError(f"{where}.log must be true or false, got {log!r}")
    if step is not None:
        if not _number(step, integer=integer) or step <= 0:
            raise UserError(f"{where}.step must be a positive {'integer' if integer else 'number'}, got {step!r}")
        if log and (not integer or step != 1):
            raise UserError(f"{where}: step and log cannot be combined (Optuna's rule), got step={step!r}")
    if log and low <= 0:
        raise UserError(f"{where}: a log distribution needs low > 0, got {low!r}")
    if step is not None and not integer:
        n = (high - low) / step
        if abs(n - round(n)) > 1e-9:
            raise UserError(f"{where}: high - low must be a multiple of step, got low={low} high={high} step={step}")
    return Dist(kind, low=low, high=high, step=step, log=log)


def _categorical(choices: list[Any], where: str) -> Dist:
    if not choices:
        raise UserError(f"{where}: choices must not be empty")
    for c in choices:
        if not (c is None or isinstance(c, (bool, int, float, str))):
            raise UserError(f"{where}: a choice must be a number, a string, true/false or null, got {c!r}")
    if len({repr(c) for c in choices}) != len(choices):
        raise UserError(f"{where}: choices must be distinct, got {choices!r}")
    if len(choices) == 1:
        return Dist("fixed", value=choices[0])
    return Dist("categorical", choices=tuple(choices))
