"""The search tests' micro networks, space and MLflow store, for the prescreen's end-to-end tests."""

from __future__ import annotations

from tests.search.conftest import micro_base, micro_space, mlflow_tracker

__all__ = ["micro_base", "micro_space", "mlflow_tracker"]
