"""Suite-wide guard: a test may not leave settings in the environment that move where later tests
(or later commands in one process) read and write: stores, studies, the Ray cluster. One did once
(``compare`` exported MLFLOW_TRACKING_URI) and a later test logged into another test's store."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

WATCHED = ("MLFLOW_", "OPTUNA_", "RAY_ADDRESS", "NAS_SCALING_")
"""Not RAY_AUTH_MODE: ray.init itself exports RAY_AUTH_MODE=token into the driver process."""


def _watched() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(WATCHED)}


@pytest.fixture(autouse=True)
def _environment_left_as_found() -> Iterator[None]:
    before = _watched()
    yield
    after = _watched()
    if after != before:
        changed = sorted(set(before.items()) ^ set(after.items()))
        for key in {k for k, _ in changed}:  # put it back so one leak fails one test, not the rest
            if key in before:
                os.environ[key] = before[key]
            else:
                os.environ.pop(key, None)
        pytest.fail(f"the test changed the environment and left it so: {changed}")
