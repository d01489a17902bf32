"""The architecture language: networks as plain, frozen, validated data. No torch here."""

from __future__ import annotations

from nas_scaling.spec.blocks import (
    ACTIVATIONS,
    BLOCK_TYPES,
    Block,
    BlockSpec,
    ConvBlock,
    DenseBlock,
    DepthwiseSeparable,
    Fire,
    Inception,
    LocalResponseNorm,
    MBConv,
    Pool,
    Residual,
    Transition,
    block_out_channels,
)
from nas_scaling.spec.compact import network_to_compact, stage_from_compact, stage_to_compact
from nas_scaling.spec.io import (
    load_spec,
    save_spec,
    spec_from_dict,
    spec_from_json,
    spec_from_yaml,
    spec_to_dict,
    spec_to_json,
    spec_to_yaml,
)
from nas_scaling.spec.network import Head, NetworkSpec, Stage
from nas_scaling.spec.shapes import BlockShape, block_shapes

__all__ = [
    "ACTIVATIONS",
    "BLOCK_TYPES",
    "Block",
    "BlockShape",
    "BlockSpec",
    "ConvBlock",
    "DenseBlock",
    "DepthwiseSeparable",
    "Fire",
    "Head",
    "Inception",
    "LocalResponseNorm",
    "MBConv",
    "NetworkSpec",
    "Pool",
    "Residual",
    "Stage",
    "Transition",
    "block_out_channels",
    "block_shapes",
    "load_spec",
    "network_to_compact",
    "save_spec",
    "spec_from_dict",
    "spec_from_json",
    "spec_from_yaml",
    "spec_to_dict",
    "spec_to_json",
    "spec_to_yaml",
    "stage_from_compact",
    "stage_to_compact",
]
