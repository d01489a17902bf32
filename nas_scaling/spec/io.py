"""Specs to and from plain dicts, YAML and JSON, exactly.

A stage is written flat: ``{kind: mbconv, repeats: 2, stride: 2, channels: 24, expand: 6.0, ...}``.
Every field is written, so a file is a complete record of the network, except a block field its
kind calls ``quiet`` (one added after files were first written) while it is at its default: files
written before it existed stay exactly what they were, and read back the same.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import yaml

from nas_scaling.errors import SpecError, UserError
from nas_scaling.spec.blocks import BLOCK_TYPES, Block
from nas_scaling.spec.network import AuxHead, Head, NetworkSpec, Stage

__all__ = [
    "load_spec",
    "save_spec",
    "spec_from_dict",
    "spec_from_json",
    "spec_from_yaml",
    "spec_to_dict",
    "spec_to_json",
    "spec_to_yaml",
]

_STAGE_KEYS = ("repeats", "stride")
_NETWORK_KEYS = (
    "name", "in_channels", "resolution", "num_classes", "stochastic_depth", "stem", "stages", "head", "aux",
)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _stage_to_dict(stage: Stage) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": stage.block.kind, "repeats": stage.repeats, "stride": stage.stride}
    for f in dataclasses.fields(stage.block):
        value = getattr(stage.block, f.name)
        if f.name in stage.block.quiet and value == f.default:
            continue
        out[f.name] = _plain(value)
    return out


def spec_to_dict(spec: NetworkSpec) -> dict[str, Any]:
    """A plain dict (lists, not tuples) that :func:`spec_from_dict` turns back into ``spec``; ``aux``
    only when the spec has auxiliary heads."""
    out = {
        "name": spec.name,
        "in_channels": spec.in_channels,
        "resolution": spec.resolution,
        "num_classes": spec.num_classes,
        "stochastic_depth": spec.stochastic_depth,
        "stem": [_stage_to_dict(s) for s in spec.stem],
        "stages": [_stage_to_dict(s) for s in spec.stages],
        "head": {f.name: _plain(getattr(spec.head, f.name)) for f in dataclasses.fields(Head)},
    }
    if spec.aux:
        out["aux"] = [{f.name: _plain(getattr(a, f.name)) for f in dataclasses.fields(AuxHead)} for a in spec.aux]
    return out


def _check_types(cls: type, values: dict[str, Any], where: str) -> dict[str, Any]:
    """Refuse values of the wrong basic type (bool/str/list) before ``__post_init__`` sees them."""
    out = dict(values)
    for f in dataclasses.fields(cls):
        if f.name not in out:
            continue
        v = out[f.name]
        kind = str(f.type)
        if kind == "bool" and not isinstance(v, bool):
            raise SpecError(f"{where}.{f.name} must be true or false, got {v!r}")
        if kind == "str" and not isinstance(v, str):
            raise SpecError(f"{where}.{f.name} must be a string, got {v!r}")
        if kind.startswith("tuple"):
            if not isinstance(v, (list, tuple)):
                raise SpecError(f"{where}.{f.name} must be a list, got {v!r}")
            out[f.name] = tuple(v)
        if kind == "float" and isinstance(v, int) and not isinstance(v, bool):
            out[f.name] = float(v)
    return out


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise SpecError(f"{where}: unknown field {unknown[0]!r}; allowed: {', '.join(sorted(names))}")
    required = [
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING  # type: ignore[misc]
    ]
    missing = [n for n in required if n not in values]
    if missing:
        raise SpecError(f"{where}: missing field {missing[0]!r}")
    try:
        return cls(**_check_types(cls, values, where))
    except SpecError as exc:
        raise SpecError(f"{where}: {exc}") from None


def _stage_from_dict(data: Any, where: str) -> Stage:
    if not isinstance(data, dict):
        raise SpecError(f"{where} must be a mapping with a 'kind', got {data!r}")
    kind = data.get("kind")
    if kind not in BLOCK_TYPES:
        raise SpecError(f"{where}.kind must be one of {', '.join(BLOCK_TYPES)}, got {kind!r}")
    block_values = {k: v for k, v in data.items() if k not in ("kind", *_STAGE_KEYS)}
    block: Block = _build(BLOCK_TYPES[kind], block_values, where)
    stage_values = {k: data[k] for k in _STAGE_KEYS if k in data}
    try:
        return Stage(block, **stage_values)
    except SpecError as exc:
        raise SpecError(f"{where}: {exc}") from None


def spec_from_dict(data: Any) -> NetworkSpec:
    """Build and validate a spec from plain data; errors name the field, e.g. ``stages[2].kernel``."""
    if not isinstance(data, dict):
        raise SpecError(f"a spec must be a mapping with stem, stages and head, got {type(data).__name__}")
    unknown = sorted(set(data) - set(_NETWORK_KEYS))
    if unknown:
        raise SpecError(f"unknown top-level field {unknown[0]!r}; allowed: {', '.join(_NETWORK_KEYS)}")
    if "name" not in data:
        raise SpecError("missing field 'name'")
    stages: dict[str, tuple[Stage, ...]] = {}
    for part in ("stem", "stages"):
        items = data.get(part, [])
        if not isinstance(items, list):
            raise SpecError(f"{part} must be a list of stages, got {items!r}")
        stages[part] = tuple(_stage_from_dict(s, f"{part}[{i}]") for i, s in enumerate(items))
    head_data = data.get("head", {})
    if not isinstance(head_data, dict):
        raise SpecError(f"head must be a mapping, got {head_data!r}")
    head = _build(Head, head_data, "head")
    aux_data = data.get("aux", [])
    if not isinstance(aux_data, list):
        raise SpecError(f"aux must be a list of auxiliary heads, got {aux_data!r}")
    aux = tuple(_build(AuxHead, a if isinstance(a, dict) else {}, f"aux[{i}]") for i, a in enumerate(aux_data))
    rest = {k: data[k] for k in ("name", "in_channels", "resolution", "num_classes", "stochastic_depth") if k in data}
    if "stochastic_depth" in rest and isinstance(rest["stochastic_depth"], int):
        rest["stochastic_depth"] = float(rest["stochastic_depth"])
    return NetworkSpec(stem=stages["stem"], stages=stages["stages"], head=head, aux=aux, **rest)


def spec_to_json(spec: NetworkSpec) -> str:
    return json.dumps(spec_to_dict(spec), indent=2) + "\n"


def spec_to_yaml(spec: NetworkSpec) -> str:
    return yaml.safe_dump(spec_to_dict(spec), sort_keys=False, default_flow_style=None, width=120)


def spec_from_json(text: str) -> NetworkSpec:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    return spec_from_dict(data)


def spec_from_yaml(text: str) -> NetworkSpec:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise SpecError(f"not valid YAML: {problem}{where}") from None
    return spec_from_dict(data)


def load_spec(path: str | Path) -> NetworkSpec:
    """Read a spec file (``.json``; anything else is read as YAML, a superset of JSON)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"spec file not found: {str(p)!r}") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read spec file {str(p)!r}: {exc.__class__.__name__}") from None
    try:
        return spec_from_json(text) if p.suffix.lower() == ".json" else spec_from_yaml(text)
    except SpecError as exc:
        raise SpecError(f"{p}: {exc}") from None


def save_spec(spec: NetworkSpec, path: str | Path) -> Path:
    """Write ``spec`` as JSON (``.json``) or YAML (anything else)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(spec_to_json(spec) if p.suffix.lower() == ".json" else spec_to_yaml(spec), encoding="utf-8")
    return p
