"""Torch modules for specs: the only place an nn.Module is defined."""

from __future__ import annotations

from nas_scaling.models.builder import MODULES, Network, build_head, build_model, count_parameters, example_input

__all__ = ["MODULES", "Network", "build_head", "build_model", "count_parameters", "example_input"]
