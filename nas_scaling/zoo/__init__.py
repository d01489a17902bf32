"""The zoo: every classic network of the field as a spec, in a registry."""

from __future__ import annotations

from nas_scaling.zoo import efficientnet as _efficientnet  # noqa: F401  (registers entries)
from nas_scaling.zoo.registry import ZooEntry, entries, get_entry, get_spec, names, register

__all__ = ["ZooEntry", "entries", "get_entry", "get_spec", "names", "register"]
