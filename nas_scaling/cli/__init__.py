"""Command-line interface (``nas-scaling``)."""

from __future__ import annotations

from nas_scaling.cli.main import main

__all__ = ["main"]
