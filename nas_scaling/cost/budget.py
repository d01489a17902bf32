"""Cost budgets: ``2xFLOPS``, ``600MFLOPS``, ``1.2GFLOPS``, ``5Mparams``, ``2xparams`` and
comma-lists of them (``2xFLOPS,8Mparams``: every term must hold).

FLOPS in a budget mean multiply-adds (MACs), the convention of the EfficientNet and MobileNet papers
and of torchvision's GFLOPS, so ``600MFLOPS`` is 600 million multiply-adds. A relative term
(``2x``) scales a base network's cost at the base's own resolution; resolve it with
:meth:`Budget.resolve` once, then :meth:`ResolvedBudget.check` each candidate's :class:`Cost`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from nas_scaling.cost.analytic import Cost
from nas_scaling.errors import UserError

__all__ = ["Budget", "BudgetCheck", "BudgetTerm", "ResolvedBudget", "parse_budget"]

QUANTITIES = ("macs", "params")
_UNIT = {"macs": "FLOPS", "params": "params"}
_PREFIXES = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_WORDS = {"flops": "macs", "flop": "macs", "macs": "macs", "mac": "macs", "params": "params", "param": "params"}

_NUMBER = r"(?P<num>(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)"
_WORD = r"(?P<word>flops?|macs?|params?)"
_RELATIVE = re.compile(rf"^{_NUMBER}\s*x\s*{_WORD}$")
_ABSOLUTE = re.compile(rf"^{_NUMBER}\s*(?P<prefix>[kmgt]?)\s*{_WORD}$")

FORMS = "'2xFLOPS', '600MFLOPS', '1.2GFLOPS', '5Mparams', '2xparams' or a comma-list of them"


def _bad(text: str) -> UserError:
    return UserError(f"budget must look like {FORMS}, got {text!r}")


@dataclass(frozen=True)
class BudgetTerm:
    """One limit: ``value`` times the base's cost (``relative``) or an absolute count."""

    quantity: str
    """``macs`` or ``params``."""
    value: float
    relative: bool

    def __str__(self) -> str:
        unit = _UNIT[self.quantity]
        if self.relative:
            return f"{_num(self.value)}x{unit}"
        for prefix, scale in (("G", 10**9), ("M", 10**6), ("k" if unit == "FLOPS" else "K", 10**3)):
            if self.value >= scale:
                return f"{_num(self.value / scale)}{prefix}{unit}"
        return f"{_num(self.value)}{unit}"


def _num(value: float) -> str:
    return f"{value:.12g}"


@dataclass(frozen=True)
class BudgetCheck:
    """Whether a cost fits; ``ratio`` is the largest used/limit over the budget's terms."""

    fits: bool
    ratio: float
    macs_ratio: float | None
    params_ratio: float | None


@dataclass(frozen=True)
class ResolvedBudget:
    """Absolute limits (``None``: unconstrained); cheap to :meth:`check` many candidates against."""

    max_macs: float | None
    max_params: float | None

    def check(self, cost: Cost) -> BudgetCheck:
        macs_ratio = None if self.max_macs is None else cost.macs / self.max_macs
        params_ratio = None if self.max_params is None else cost.params / self.max_params
        ratios = [r for r in (macs_ratio, params_ratio) if r is not None]
        ratio = max(ratios) if ratios else 0.0
        return BudgetCheck(ratio <= 1.0, ratio, macs_ratio, params_ratio)

    def __str__(self) -> str:
        parts = []
        if self.max_macs is not None:
            parts.append(f"{self.max_macs / 1e6:,.2f} MFLOPs (multiply-adds)")
        if self.max_params is not None:
            parts.append(f"{self.max_params / 1e6:,.3f} M params")
        return ", ".join(parts) or "unconstrained"


@dataclass(frozen=True)
class Budget:
    """A parsed budget: at most one term per quantity. ``str()`` gives the canonical text."""

    terms: tuple[BudgetTerm, ...]

    @property
    def relative(self) -> bool:
        """Whether some term needs a base network's cost to resolve."""
        return any(t.relative for t in self.terms)

    def resolve(self, base: Cost | None = None) -> ResolvedBudget:
        """Absolute limits; ``base`` is the cost that relative terms multiply."""
        limits: dict[str, float | None] = {"macs": None, "params": None}
        for term in self.terms:
            if term.relative:
                if base is None:
                    raise UserError(f"budget {str(self)!r} is relative (2x...) and needs a base network")
                used = base.macs if term.quantity == "macs" else base.params
                limits[term.quantity] = term.value * used
            else:
                limits[term.quantity] = term.value
        return ResolvedBudget(limits["macs"], limits["params"])

    def __str__(self) -> str:
        return ",".join(str(t) for t in self.terms)


def _parse_term(raw: str, whole: str) -> BudgetTerm:
    text = raw.strip().lower()
    match = _RELATIVE.match(text)
    relative = match is not None
    if match is None:
        match = _ABSOLUTE.match(text)
    if match is None:
        raise _bad(whole)
    value = float(match["num"])
    if not relative:
        value *= _PREFIXES[match["prefix"]]
    if not math.isfinite(value) or value <= 0:
        raise UserError(f"budget terms must be positive and finite, got {raw.strip()!r} in {whole!r}")
    return BudgetTerm(_WORDS[match["word"]], value, relative)


def parse_budget(text: str) -> Budget:
    """Parse ``2xFLOPS``, ``600MFLOPS``, ``1.2GFLOPS``, ``5Mparams``, ``2xparams`` or a comma-list.

    Units are case-insensitive; prefixes k, M, G, T (powers of 1000); FLOPS = multiply-adds.
    """
    if not isinstance(text, str) or not text.strip():
        raise _bad(text)
    terms = [_parse_term(part, text) for part in text.split(",")]
    seen = [t.quantity for t in terms]
    for quantity in QUANTITIES:
        if seen.count(quantity) > 1:
            raise UserError(f"budget limits {_UNIT[quantity]} more than once, got {text!r}; give each at most once")
    return Budget(tuple(terms))
