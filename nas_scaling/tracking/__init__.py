"""Experiment tracking: a small protocol with an MLflow implementation."""

from __future__ import annotations

from nas_scaling.tracking.base import MemoryTracker, RunRecord, Tracker
from nas_scaling.tracking.mlflow_tracker import DEFAULT_TRACKING_URI, MlflowTracker

__all__ = ["DEFAULT_TRACKING_URI", "MemoryTracker", "MlflowTracker", "RunRecord", "Tracker"]
