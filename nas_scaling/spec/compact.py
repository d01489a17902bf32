"""A compact one-line form per stage, in the spirit of timm's ``ir_r2_k3_s2_e6_c24_se0.25``.

``mbconv_r2_s2_c24_e6_k3_se0.25_silu_sk1`` is a stage of 2 MBConv blocks, stride 2, 24 channels,
expand 6, kernel 3, squeeze-excitation 0.25, SiLU, with the skip. Tokens are a short key and a
value; a string-valued setting of a block (activation, style, bypass, pooling op, shortcut) stands
alone, and a field the kind calls ``quiet`` appears only when it is not at its default. The form
is exact: :func:`stage_from_compact` reads back what :func:`stage_to_compact` wrote.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from nas_scaling.errors import SpecError
from nas_scaling.spec.blocks import BLOCK_TYPES
from nas_scaling.spec.network import AuxHead, Head, NetworkSpec, Stage

__all__ = ["aux_to_compact", "head_to_compact", "network_to_compact", "stage_from_compact", "stage_to_compact"]

# Each kind's token keys and words are its ``compact_keys`` and ``compact_words`` (spec/blocks.py).
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
    keys = block.compact_keys
    tokens = [block.kind, f"r{stage.repeats}", f"s{stage.stride}"]
    for f in dataclasses.fields(block):
        value = getattr(block, f.name)
        if value is None or (f.name in block.quiet and value == f.default):
            continue
        key = keys[f.name]
        tokens.append(str(value) if key == "" else key + _fmt(value))
    return "_".join(tokens)


def stage_from_compact(text: str) -> Stage:
    """Parse one stage written by :func:`stage_to_compact`."""
    kind, *tokens = text.strip().split("_")
    if kind not in BLOCK_TYPES:
        raise SpecError(f"compact stage {text!r} must start with one of {', '.join(BLOCK_TYPES)}")
    cls = BLOCK_TYPES[kind]
    fields = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    by_key = {key: name for name, key in cls.compact_keys.items()}
    values: dict[str, Any] = {}
    stage: dict[str, int] = {}
    for token in tokens:
        word_field = cls.word_field(token)
        if word_field is not None:
            values[word_field] = token
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


def aux_to_compact(aux: AuxHead) -> str:
    """An auxiliary head in one token: ``aux_at3_p4_c128_h1024_d0.7_w0.3`` (GoogLeNet's first);
    a fixed pool reads ``pk5x3``, a second conv ``cc768x5``."""
    pool = f"pk{aux.pool_kernel}x{aux.pool_stride}" if aux.pool_kernel else f"p{aux.pool}"
    conv2 = f"_cc{aux.conv2}x{aux.conv2_kernel}" if aux.conv2 else ""
    hidden = "-".join(map(str, aux.hidden)) or "0"
    return f"aux_at{aux.after}_{pool}_c{aux.conv}{conv2}_h{hidden}_d{aux.dropout:.12g}_w{aux.weight:.12g}"


def network_to_compact(spec: NetworkSpec) -> str:
    """One line for a whole network: stem, stages and head with ``|`` between them (auxiliary heads,
    if any, after the head), then the input (``@16x1`` = 16 px, 1 channel) and the classes. Two
    specs that differ only in their name give the same line; any other difference shows."""
    stem = " ".join(stage_to_compact(s) for s in spec.stem)
    body = " ".join(stage_to_compact(s) for s in spec.stages)
    aux = "".join(f" {aux_to_compact(a)}" for a in spec.aux)
    return (f"{stem} | {body} | {head_to_compact(spec.head)}{aux} @{spec.resolution}x{spec.in_channels} "
            f"->{spec.num_classes} sd{spec.stochastic_depth:.12g}")
