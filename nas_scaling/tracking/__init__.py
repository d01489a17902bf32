"""Experiment tracking: a small protocol with an MLflow implementation."""

from __future__ import annotations

from nas_scaling.tracking.base import MemoryTracker, RunRecord, Tracker, finite_numbers, open_parent_run
from nas_scaling.tracking.mlflow_tracker import (
    DEFAULT_TRACKING_URI,
    MlflowTracker,
    artifact_root_for,
    resolve_tracking_uri,
)

__all__ = [
    "DEFAULT_TRACKING_URI",
    "MemoryTracker",
    "MlflowTracker",
    "RunRecord",
    "Tracker",
    "artifact_root_for",
    "finite_numbers",
    "open_parent_run",
    "resolve_tracking_uri",
]
