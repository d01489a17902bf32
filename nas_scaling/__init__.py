"""nas-scaling: neural-architecture search and compound scaling of convolutional networks."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
