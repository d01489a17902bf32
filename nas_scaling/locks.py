"""One process at a time: an advisory file lock (POSIX ``flock``), for creating shared SQLite stores.

Several workers started together on a fresh ``studies.db`` or ``mlflow.db`` otherwise race in the
schema creation and migrations of Optuna and MLflow (``duplicate column name``). On systems without
``fcntl`` the lock is a no-op.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

__all__ = ["file_lock"]


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the ``with`` block."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
