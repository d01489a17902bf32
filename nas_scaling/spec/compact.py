"""A compact one-line form per stage, in the spirit of timm's ``ir_r2_k3_s2_e6_c24_se0.25``.

``mbconv_r2_s2_c24_e6_k3_se0.25_silu_sk1`` is a stage of 2 MBConv blocks, stride 2, 24 channels,
expand 6, kernel 3, squeeze-excitation 0.25, SiLU, with the skip. Tokens are a short key and a
value; the one string-valued setting of a block (activation, style, bypass, pooling op) stands
alone. The form is exact: :func:`stage_from_compact` reads back what :func:`stage_to_compact` wrote.
"""

from __future__ import annotations

import dataclasses
import re

from nas_scaling.errors import SpecError
from nas_scaling.spec.blocks import ACTIVATIONS, BLOCK_TYPES, Fire, Pool, Residual
from nas_scaling.spec.network import Head, NetworkSpec, Stage

__all__ = ["head_to_compact", "network_to_compact", "stage_from_compact", "stage_to_compact"]

# Per block kind: field name -> token key ("" for the block's one string-valued field).
_KEYS: dict[str, dict[str, str]] = {
    "conv": {"channels": "c", "kernel": "k", "padding": "p", "norm": "bn", "bias": "b", "act": ""},
    "dwsep": {"channels": "c", "kernel": "k", "act": ""},
    "mbconv": {"channels": "c", "expand": "e", "kernel": "k", "se": "se", "act": "", "skip": "sk"},
    "residual": {"channels": "c", "style": "", "expansion": "x"},
    "fire": {"squeeze": "q", "expand1x1": "ea", "expand3x3": "eb", "bypass": "", "norm": "bn"},
    "dense": {"layers": "l", "growth": "g", "bn_size": "bs"},
    "transition": {"compression": "t"},
    "inception": {
        "c1x1": "a", "c3x3_reduce": "br", "c3x3": "b", "c5x5_reduce": "cr", "c5x5": "c",
        "pool_proj": "pp", "kernel5": "k",
    },
    "pool": {"op": "", "kernel": "k", "padding": "p", "ceil_mode": "ceil"},
}
# The words the one string-valued field of a block may take.
_WORDS: dict[str, tuple[str, ...]] = {
    "act": ACTIVATIONS,
    "style": Residual.styles,
    "bypass": Fire.bypasses,
    "op": Pool.ops,
}
_TOKEN = re.compile(r"^([a-z]+)(-?[0-9][0-9.e+-]*)$")


def _fmt(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        short = f"{value:g}"
        return short if float(short) == value else repr(value)
    return str(value)


def stage_to_compact(stage: Stage) -> str:
    block = stage.block
    keys = _KEYS[block.kind]
    tokens = [block.kind, f"r{stage.repeats}", f"s{stage.stride}"]
    for f in dataclasses.fields(block):
        value = getattr(block, f.name)
        if value is None:
            continue
        key = keys[f.name]
        tokens.append(str(value) if key == "" else key + _fmt(value))
    return "_".join(tokens)


def stage_from_compact(text: str) -> Stage:
    """Parse one stage written by :func:`stage_to_compact`."""
    kind, *tokens = text.strip().split("_")
    if kind not in _KEYS:
        raise SpecError(f"compact stage {text!r} must start with one of {', '.join(_KEYS)}")
    cls = BLOCK_TYPES[kind]
    fields = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    by_key = {key: name for name, key in _KEYS[kind].items()}
    values: dict[str, object] = {}
    stage: dict[str, int] = {}
    for token in tokens:
        if "" in by_key and token in _WORDS[by_key[""]]:
            values[by_key[""]] = token
            continue
        match = _TOKEN.match(token)
        if match is None:
            raise SpecError(f"compact stage {text!r}: cannot read token {token!r}")
        key, raw = match.groups()
        if key not in by_key and key not in ("r", "s"):
            raise SpecError(f"compact stage {text!r}: unknown key {key!r} for a {kind} block")
        try:
            if key in ("r", "s"):
                stage["repeats" if key == "r" else "stride"] = int(raw)
                continue
            name = by_key[key]
            kind_of = fields[name]
            if kind_of == "bool":
                if raw not in ("0", "1"):
                    raise ValueError(raw)
                values[name] = raw == "1"
            elif kind_of == "float":
                values[name] = float(raw)
            else:
                values[name] = int(raw)
        except ValueError:
            raise SpecError(f"compact stage {text!r}: bad value in token {token!r}") from None
    try:
        return Stage(cls(**values), **stage)
    except TypeError as exc:
        raise SpecError(f"compact stage {text!r}: {exc}") from None


def head_to_compact(head: Head) -> str:
    """The head in one token: ``head_c320_n0_silu_avg1_h0_d0.2_linear``."""
    hidden = "-".join(map(str, head.hidden)) or "0"
    return (f"head_c{head.conv or 0}_n{int(head.norm)}_{head.act}_{head.pool}{head.pool_size}_h{hidden}"
            f"_d{head.dropout:.12g}_{head.classifier}")


def network_to_compact(spec: NetworkSpec) -> str:
    """One line for a whole network: stem, stages and head with ``|`` between them, then the input
    (``@16x1`` = 16 px, 1 channel) and the classes. Two specs that differ only in their name give
    the same line; any other difference shows."""
    stem = " ".join(stage_to_compact(s) for s in spec.stem)
    body = " ".join(stage_to_compact(s) for s in spec.stages)
    return (f"{stem} | {body} | {head_to_compact(spec.head)} @{spec.resolution}x{spec.in_channels} "
            f"->{spec.num_classes} sd{spec.stochastic_depth:.12g}")
