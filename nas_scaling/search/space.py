"""Search spaces: which blocks each stage may use and the range of every setting, as data.

A space file (YAML) looks like::

    name: mixed
    reference: efficientnet_tiny     # what relative budgets (2xFLOPS) refer to: zoo name or spec file
    resolution: [16, 20]             # global: input pixels, width and depth multipliers
    width: {type: float, low: 0.75, high: 1.25, step: 0.25}
    depth: 1.0
    stem: {channels: [16, 24], kernel: 3, stride: 1, act: silu}
    blocks:                          # defaults per block kind, for every stage
      mbconv: {expand: [1, 3, 6], kernel: [3, 5], se: [0.0, 0.25]}
    stages:
      - kinds: [mbconv, fire, dense, inception]
        repeats: {low: 1, high: 2}
        stride: 2
        mbconv: {channels: [24, 32]}  # stage-level overrides of the block defaults
    head: {conv: [128, 256], dropout: 0.2, act: silu}

Channel bookkeeping is automatic: each stage starts from whatever the previous one produced. A
stage with stride 2 whose block cannot stride (fire, inception, dense) is preceded by the
downsampling its family uses: a 3x3 max pool (SqueezeNet, GoogLeNet) or a DenseNet transition.
Sampling goes through Optuna's ``suggest_*`` (parameter names such as ``s2.kind`` and
``s2.fire.squeeze_ratio``), so Optuna's samplers see every choice.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nas_scaling.errors import SpecError, UserError
from nas_scaling.scaling.rounding import round_channels, round_repeats
from nas_scaling.search.distributions import Dist, Suggester, parse_dist
from nas_scaling.spec import (
    ACTIVATIONS,
    ConvBlock,
    DenseBlock,
    DepthwiseSeparable,
    Fire,
    Head,
    Inception,
    MBConv,
    NetworkSpec,
    Pool,
    Residual,
    Stage,
    Transition,
)

__all__ = [
    "KIND_SETTINGS", "SearchSpace", "StageSpace", "cheapest", "load_space", "resolve_resolution", "space_digest",
    "space_from_dict",
]

KIND_SETTINGS: dict[str, dict[str, Any]] = {
    "conv": {"channels": 32, "kernel": 3, "act": "relu"},
    "dwsep": {"channels": 32, "kernel": 3, "act": "relu"},
    "mbconv": {"channels": 32, "expand": 6.0, "kernel": 3, "se": 0.25, "act": "silu"},
    "residual": {"channels": 32, "style": "basic"},
    "fire": {"channels": 64, "squeeze_ratio": 0.25, "pct3x3": 0.5, "bypass": "simple", "norm": True},
    "dense": {"layers": 4, "growth": 12, "compression": 0.5},
    "inception": {"channels": 64, "pct1x1": 0.25, "pct3x3": 0.5, "pct5x5": 0.125, "reduce": 0.75, "kernel5": 5},
}
"""Settings each block kind takes in a space file, with their defaults. ``channels`` is what the
block outputs (Fire: both expands together, split by ``pct3x3`` with squeeze = ``squeeze_ratio``
of it, the SqueezeNet paper's SR and pct3x3; Inception: the four branches together, split by the
``pct*`` fractions, the pool projection taking the rest, each reduce = ``reduce`` of its conv)."""

_FRACTION = "must be a number in (0, 1]"


def _fraction(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= 1


_DERIVED_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "squeeze_ratio": (_fraction, _FRACTION),
    "pct3x3": (lambda v: _fraction(v) and v < 1, "must be a number in (0, 1)"),
    "pct1x1": (lambda v: _fraction(v) and v < 1, "must be a number in (0, 1)"),
    "pct5x5": (lambda v: _fraction(v) and v < 1, "must be a number in (0, 1)"),
    "reduce": (_fraction, _FRACTION),
}
_TOP_KEYS = ("name", "description", "reference", "resolution", "width", "depth", "stem", "blocks", "stages", "head")
_STEM_KEYS = {"channels": 32, "kernel": 3, "stride": 1, "act": "relu"}
_HEAD_KEYS = {"conv": None, "dropout": 0.0, "act": "relu"}
_STAGE_KEYS = ("kinds", "kind", "repeats", "stride", *KIND_SETTINGS)


@dataclass(frozen=True)
class StageSpace:
    kinds: Dist
    repeats: Dist
    stride: int
    settings: dict[str, dict[str, Dist]]
    """Per allowed kind: every setting's distribution (defaults filled in)."""


@dataclass(frozen=True)
class SearchSpace:
    name: str
    reference: str
    """Zoo name or spec file (resolved against the space file's folder) that relative budgets use."""
    resolution: Dist
    width: Dist
    depth: Dist
    stem: dict[str, Dist]
    stages: tuple[StageSpace, ...]
    head: dict[str, Dist]
    description: str = ""
    path: Path | None = None

    def sample(self, trial: Suggester, *, num_classes: int, in_channels: int, name: str | None = None) -> NetworkSpec:
        """Draw one network (raises :class:`SpecError` if the draw cannot be a network)."""
        resolution = self.resolution.suggest(trial, "resolution")
        width = float(self.width.suggest(trial, "width"))
        depth = float(self.depth.suggest(trial, "depth"))
        s = {k: d.suggest(trial, f"stem.{k}") for k, d in self.stem.items()}
        stem = Stage(ConvBlock(round_channels(s["channels"], width), kernel=s["kernel"], act=s["act"]),
                     stride=s["stride"])
        stages: list[Stage] = []
        for i, st in enumerate(self.stages):
            kind = st.kinds.suggest(trial, f"s{i}.kind")
            repeats = round_repeats(st.repeats.suggest(trial, f"s{i}.repeats"), depth)
            values = {k: d.suggest(trial, f"s{i}.{kind}.{k}") for k, d in st.settings[kind].items()}
            stages.extend(_stages_for(kind, values, repeats, st.stride, width))
        h = {k: d.suggest(trial, f"head.{k}") for k, d in self.head.items()}
        head = Head(conv=None if h["conv"] is None else round_channels(h["conv"], width), act=h["act"],
                    dropout=float(h["dropout"]))
        return NetworkSpec(
            name=name or f"{self.name}-found", stem=(stem,), stages=tuple(stages), head=head,
            in_channels=in_channels, resolution=int(resolution), num_classes=num_classes,
        )

    def distributions(self) -> dict[str, Dist]:
        """Every parameter the space can suggest, by its Optuna name (sampled ones only)."""
        out = {"resolution": self.resolution, "width": self.width, "depth": self.depth}
        out.update({f"stem.{k}": d for k, d in self.stem.items()})
        for i, st in enumerate(self.stages):
            out[f"s{i}.kind"] = st.kinds
            out[f"s{i}.repeats"] = st.repeats
            for kind, settings in st.settings.items():
                out.update({f"s{i}.{kind}.{k}": d for k, d in settings.items()})
        out.update({f"head.{k}": d for k, d in self.head.items()})
        return {k: d for k, d in out.items() if d.sampled}

    def grid(self) -> dict[str, list[Any]]:
        """Optuna ``GridSampler`` search space; a UserError if some range is continuous."""
        out: dict[str, list[Any]] = {}
        for name, dist in self.distributions().items():
            values = dist.values()
            if values is None:
                raise UserError(f"sampler 'grid' needs a finite space, but {name} is a continuous range "
                                "(give it a step or choices)")
            out[name] = values
        return out

    def size(self) -> int | None:
        """Distinct parameter assignments, counting conditional settings (``None`` if continuous)."""
        total = 1
        for dist in (self.resolution, self.width, self.depth, *self.stem.values(), *self.head.values()):
            values = dist.values()
            if values is None:
                return None
            total *= len(values)
        for st in self.stages:
            stage_total = 0
            for kind in st.kinds.values() or ():
                n = len(st.repeats.values() or ())
                for d in st.settings[kind].values():
                    values = d.values()
                    if values is None:
                        return None
                    n *= len(values)
                stage_total += n
            total *= stage_total
        return total


def _stages_for(kind: str, v: dict[str, Any], repeats: int, stride: int, width: float) -> list[Stage]:
    if kind == "conv":
        return [Stage(ConvBlock(round_channels(v["channels"], width), kernel=v["kernel"], act=v["act"]),
                      repeats, stride)]
    if kind == "dwsep":
        return [Stage(DepthwiseSeparable(round_channels(v["channels"], width), kernel=v["kernel"], act=v["act"]),
                      repeats, stride)]
    if kind == "mbconv":
        return [Stage(MBConv(round_channels(v["channels"], width), expand=float(v["expand"]), kernel=v["kernel"],
                             se=float(v["se"]), act=v["act"]), repeats, stride)]
    if kind == "residual":
        return [Stage(Residual(round_channels(v["channels"], width), style=v["style"]), repeats, stride)]
    pool = [Stage(Pool("max", kernel=3, padding=1), stride=2)] if stride == 2 else []
    if kind == "fire":
        e = round_channels(v["channels"], width)
        e3 = max(1, round(e * v["pct3x3"]))
        fire = Fire(max(1, round(e * v["squeeze_ratio"])), max(1, e - e3), e3, bypass=v["bypass"], norm=v["norm"])
        return [*pool, Stage(fire, repeats)]
    if kind == "dense":
        growth = round_channels(v["growth"], width, divisor=4)
        down = [Stage(Transition(float(v["compression"])), stride=2)] if stride == 2 else []
        return [*down, Stage(DenseBlock(v["layers"], growth), repeats)]
    if kind == "inception":
        c = round_channels(v["channels"], width)
        c1, c3, c5 = (max(1, round(c * v[p])) for p in ("pct1x1", "pct3x3", "pct5x5"))
        proj = c - c1 - c3 - c5
        if proj < 1:
            raise SpecError(f"inception: pct1x1 + pct3x3 + pct5x5 leave no channels for the pool projection of {c}")
        r3, r5 = (max(1, round(x * v["reduce"])) for x in (c3, c5))
        return [*pool, Stage(Inception(c1, r3, c3, r5, c5, proj, kernel5=v["kernel5"]), repeats)]
    raise SpecError(f"unknown block kind {kind!r}")  # pragma: no cover - kinds are checked at load


# --- loading -----------------------------------------------------------------------------------


def _mapping(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise UserError(f"{where}: expected a mapping, got {raw!r}")
    return raw


def _unknown(raw: dict[str, Any], allowed: Any, where: str) -> None:
    extra = sorted(set(raw) - set(allowed))
    if extra:
        prefix = f"{where}." if where else ""
        raise UserError(f"{prefix}{extra[0]}: unknown key; allowed: {', '.join(allowed)}")


def _check_setting(kind: str, key: str, dist: Dist, where: str) -> None:
    """Every value of ``dist`` must make a valid block (checked through the block itself)."""
    if key in _DERIVED_RULES:
        ok, rule = _DERIVED_RULES[key]
        dist.check(where, ok, rule)
        return
    if key == "compression":
        dist.check(where, _fraction, _FRACTION)
        return
    if key == "act":
        dist.check(where, lambda v: v in ACTIVATIONS, f"must be one of {', '.join(ACTIVATIONS)}")
        return
    if key in ("channels", "layers", "growth"):
        dist.check(where, lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
                   "must be a positive integer")
        return
    base = dict(KIND_SETTINGS[kind])
    for value in dist.values() or [dist.low, dist.high]:
        try:
            _stages_for(kind, {**base, key: value}, 1, 1, 1.0)
        except SpecError as exc:
            raise UserError(f"{where}: {exc}") from None
        except TypeError:
            raise UserError(f"{where}: invalid value {value!r}") from None


def _stage_space(raw: Any, index: int, blocks: dict[str, dict[str, Any]]) -> StageSpace:
    where = f"stages[{index}]"
    raw = _mapping(raw, where)
    _unknown(raw, _STAGE_KEYS, where)
    if "kind" in raw and "kinds" in raw:
        raise UserError(f"{where}: give 'kind' or 'kinds', not both")
    kinds = parse_dist(raw.get("kinds", raw.get("kind")), f"{where}.kinds")
    if kinds.kind not in ("fixed", "categorical"):
        raise UserError(f"{where}.kinds must be a block kind or a list of them, got a range")
    allowed = kinds.values() or []
    for k in allowed:
        if k not in KIND_SETTINGS:
            raise UserError(f"{where}.kinds: block kind must be one of {', '.join(KIND_SETTINGS)}, got {k!r}")
    for k in KIND_SETTINGS:
        if k in raw and k not in allowed:
            raise UserError(f"{where}.{k}: settings for a block kind the stage does not allow ({', '.join(allowed)})")
    repeats = parse_dist(raw.get("repeats", 1), f"{where}.repeats")
    repeats.check(f"{where}.repeats", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
                  "must be a positive integer")
    stride = raw.get("stride", 1)
    if stride not in (1, 2) or isinstance(stride, bool):
        raise UserError(f"{where}.stride must be 1 or 2, got {stride!r}")
    settings: dict[str, dict[str, Dist]] = {}
    for kind in allowed:
        merged = {**KIND_SETTINGS[kind], **blocks.get(kind, {}), **_mapping(raw.get(kind), f"{where}.{kind}")}
        _unknown(merged, tuple(KIND_SETTINGS[kind]), f"{where}.{kind}")
        settings[kind] = {}
        for key, value in merged.items():
            dist = parse_dist(value, f"{where}.{kind}.{key}")
            _check_setting(kind, key, dist, f"{where}.{kind}.{key}")
            settings[kind][key] = dist
        if kind == "inception":
            split = [settings[kind][p] for p in ("pct1x1", "pct3x3", "pct5x5")]
            most = sum(max(d.values() or [d.high]) for d in split)
            if most >= 1:
                raise UserError(f"{where}.inception: pct1x1 + pct3x3 + pct5x5 must stay below 1 (the pool "
                                f"projection takes the rest), got up to {most:g}")
    return StageSpace(kinds, repeats, stride, settings)


def _positive(dist: Dist, where: str, *, integer: bool) -> None:
    if integer:
        dist.check(where, lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
                   "must be a positive integer")
    else:
        dist.check(where, lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0,
                   "must be a positive number")


def space_from_dict(raw: Any, *, path: Path | None = None) -> SearchSpace:
    """A validated :class:`SearchSpace`; every error is one line naming the field."""
    where = str(path) if path else "space"
    if not isinstance(raw, dict):
        raise UserError(f"{where}: a search space must be a mapping, got {type(raw).__name__}")
    _unknown(raw, _TOP_KEYS, "")
    name = raw.get("name") or (path.stem if path else "space")
    if not isinstance(name, str):
        raise UserError(f"name must be a string, got {name!r}")
    reference = raw.get("reference")
    if not isinstance(reference, str) or not reference:
        raise UserError("reference: a space must name the network relative budgets refer to "
                        "(a zoo name or spec file), e.g. 'reference: efficientnet_tiny'")
    resolution = parse_dist(raw.get("resolution"), "resolution") if "resolution" in raw else Dist("fixed", value=None)
    if resolution.kind != "fixed" or resolution.value is not None:
        _positive(resolution, "resolution", integer=True)
    width = parse_dist(raw.get("width", 1.0), "width")
    depth = parse_dist(raw.get("depth", 1.0), "depth")
    _positive(width, "width", integer=False)
    _positive(depth, "depth", integer=False)
    stem_raw = _mapping(raw.get("stem"), "stem")
    _unknown(stem_raw, tuple(_STEM_KEYS), "stem")
    stem = {k: parse_dist(stem_raw.get(k, d), f"stem.{k}") for k, d in _STEM_KEYS.items()}
    _positive(stem["channels"], "stem.channels", integer=True)
    stem["kernel"].check("stem.kernel", lambda v: v in (1, 3, 5, 7), "must be one of 1, 3, 5, 7")
    stem["stride"].check("stem.stride", lambda v: v in (1, 2), "must be 1 or 2")
    stem["act"].check("stem.act", lambda v: v in ACTIVATIONS, f"must be one of {', '.join(ACTIVATIONS)}")
    blocks_raw = _mapping(raw.get("blocks"), "blocks")
    _unknown(blocks_raw, tuple(KIND_SETTINGS), "blocks")
    blocks = {k: _mapping(v, f"blocks.{k}") for k, v in blocks_raw.items()}
    for k, settings in blocks.items():
        _unknown(settings, tuple(KIND_SETTINGS[k]), f"blocks.{k}")
    stages_raw = raw.get("stages")
    if not isinstance(stages_raw, list) or not stages_raw:
        raise UserError(f"stages must be a non-empty list of stages, got {stages_raw!r}")
    stages = tuple(_stage_space(s, i, blocks) for i, s in enumerate(stages_raw))
    head_raw = _mapping(raw.get("head"), "head")
    _unknown(head_raw, tuple(_HEAD_KEYS), "head")
    head = {k: parse_dist(head_raw.get(k, d), f"head.{k}") for k, d in _HEAD_KEYS.items()}
    head["conv"].check("head.conv", lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 1),
                       "must be a positive integer or null")
    head["dropout"].check("head.dropout", lambda v: isinstance(v, (int, float)) and 0 <= v < 1,
                          "must be a number in [0, 1)")
    head["act"].check("head.act", lambda v: v in ACTIVATIONS, f"must be one of {', '.join(ACTIVATIONS)}")
    description = raw.get("description") or ""
    return SearchSpace(str(name), reference, resolution, width, depth, stem, stages, head, str(description), path)


def load_space(path: str | Path) -> SearchSpace:
    """Read and validate a space file (YAML through safe loading)."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"search space file {str(path)!r} does not exist")
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise UserError(f"search space file {str(path)!r} is not valid YAML: {exc}".splitlines()[0]) from None
    except UnicodeDecodeError:
        raise UserError(f"search space file {str(path)!r} is not a text file") from None
    try:
        return space_from_dict(raw, path=p)
    except UserError as exc:
        raise UserError(f"{p}: {exc}") from None


# --- the cheapest network of a space (to fail fast on a budget nothing can meet) ---------------------


class _Assigned:
    """A suggester that answers from ``values`` and takes the low end of everything else."""

    def __init__(self, space: SearchSpace, values: dict[str, Any]) -> None:
        self.values = values
        self.dists = space.distributions()
        self.seen: list[str] = []

    def _get(self, name: str) -> Any:
        self.seen.append(name)
        return self.values[name] if name in self.values else self.dists[name].lowest()

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int:
        return int(self._get(name))

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float:
        return float(self._get(name))

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        return self._get(name)


def cheapest(
    space: SearchSpace, score: Callable[[NetworkSpec], float], *, num_classes: int, in_channels: int,
    default_resolution: int, exhaustive_limit: int = 4096,
) -> tuple[NetworkSpec, float]:
    """The network of least ``score`` (e.g. a budget ratio) that the space can produce.

    Numeric settings are taken at their low end (every numeric setting of the language costs more as
    it grows); named choices (block kinds, bypasses, activations) are searched exhaustively when
    there are at most ``exhaustive_limit`` combinations, else by coordinate descent from the first
    choices.
    """
    space = _with_resolution(space, default_resolution)
    dists = space.distributions()
    categorical = {n: d.values() or [] for n, d in dists.items() if d.kind == "categorical" and not d.numeric}

    def evaluate(values: dict[str, Any]) -> tuple[NetworkSpec | None, float]:
        try:
            spec = space.sample(_Assigned(space, values), num_classes=num_classes, in_channels=in_channels)
            return spec, score(spec)
        except SpecError:
            return None, math.inf

    total = math.prod(len(v) for v in categorical.values()) if categorical else 1
    best: tuple[NetworkSpec | None, float] = (None, math.inf)
    if total <= exhaustive_limit:
        names = list(categorical)
        for combo in itertools.product(*(categorical[n] for n in names)):
            found = evaluate(dict(zip(names, combo, strict=True)))
            if found[1] < best[1]:
                best = found
    else:
        values = {n: c[0] for n, c in categorical.items()}
        best = evaluate(values)
        for _ in range(3):
            improved = False
            for name, choices in categorical.items():
                for choice in choices:
                    trial_values = {**values, name: choice}
                    found = evaluate(trial_values)
                    if found[1] < best[1]:
                        best, values, improved = found, trial_values, True
            if not improved:
                break
    if best[0] is None:
        raise UserError(f"search space {space.name!r} cannot produce a valid network at its smallest settings")
    return best[0], best[1]


def _with_resolution(space: SearchSpace, default: int) -> SearchSpace:
    """``space`` with a fixed resolution filled in where the file left it to the reference."""
    from dataclasses import replace

    if space.resolution.kind == "fixed" and space.resolution.value is None:
        return replace(space, resolution=Dist("fixed", value=default))
    return space


def resolve_resolution(space: SearchSpace, reference: NetworkSpec) -> SearchSpace:
    """Fill an unspecified resolution with the reference network's."""
    return _with_resolution(space, reference.resolution)


def space_digest(space: SearchSpace) -> str:
    """A short hash of the space's file (or, for a space made in code, its value): a study made with
    one space file refuses to resume with an edited one."""
    import hashlib

    text = space.path.read_text(encoding="utf-8") if space.path else repr(space)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
