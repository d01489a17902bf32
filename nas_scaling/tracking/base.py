"""The tracking protocol: what search and grid need of an experiment tracker."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

__all__ = ["MemoryTracker", "RunRecord", "Tracker", "finite_numbers", "open_parent_run"]


@dataclass
class RunRecord:
    run_id: str
    name: str
    status: str
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    artifacts: list[str] = field(default_factory=list)
    parent_id: str | None = None
    datasets: list[str] = field(default_factory=list)
    """``name@digest`` of each dataset input (the in-memory tracker's record of :meth:`log_dataset`)."""
    start_time: int = 0
    """Milliseconds since the epoch (MLflow's start time); orders runs made by different processes."""


class Tracker(Protocol):
    """Runs with params, metrics, tags and artifacts; runs may have a parent run."""

    def start_run(self, name: str, *, tags: dict[str, str], parent_id: str | None = None) -> str: ...

    def resume_run(self, run_id: str) -> None: ...

    def log(
        self, run_id: str, *, params: dict[str, object] | None = None, metrics: dict[str, float] | None = None,
        tags: dict[str, str] | None = None, step: int = 0,
    ) -> None: ...

    def log_artifact(self, run_id: str, path: Path) -> None: ...

    def log_dataset(self, run_id: str, *, name: str, digest: str, source: str) -> None:
        """The data the run trained on: a name, a digest that changes with it, where it comes from."""

    def end_run(self, run_id: str, status: str = "FINISHED") -> None: ...

    def find_runs(self, tags: dict[str, str]) -> list[RunRecord]:
        """Every run (not deleted) whose tags include ``tags``, with its params, metrics, tags and
        status; ``find_runs({})`` lists every run, which is how reports read a store."""
        ...

    def delete_run(self, run_id: str) -> None: ...


def finite_numbers(values: Mapping[str, Any]) -> dict[str, float]:
    """The entries of ``values`` that can be logged as metrics: finite numbers (not bools, None, nan, inf)."""
    return {k: float(v) for k, v in values.items()
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)}


def open_parent_run(tracker: Tracker, name: str, tags: dict[str, str]) -> tuple[str, bool]:
    """The one top-level run with ``tags`` (a study's parent run), resumed or made; ``(run_id, made)``.

    Several workers may start on one study at once. Each makes its run only if it finds none; if two
    made one in the same moment, all of them keep the earliest (start time, then id) and the others'
    are deleted, so the study ends with one parent whatever the store (no lock needed)."""
    found = [r for r in tracker.find_runs(tags) if r.parent_id is None]
    if found:
        run_id = min(found, key=lambda r: (r.start_time, r.run_id)).run_id
        tracker.resume_run(run_id)
        return run_id, False
    mine = tracker.start_run(name, tags=tags)
    found = [r for r in tracker.find_runs(tags) if r.parent_id is None]
    first = min(found, key=lambda r: (r.start_time, r.run_id)).run_id
    if first == mine:
        return mine, True
    tracker.delete_run(mine)
    tracker.resume_run(first)
    return first, False


class MemoryTracker:
    """An in-memory :class:`Tracker` for unit tests."""

    def __init__(self) -> None:
        self.runs: dict[str, RunRecord] = {}
        self._made = 0

    def start_run(self, name: str, *, tags: dict[str, str], parent_id: str | None = None) -> str:
        self._made += 1
        run_id = f"run{self._made - 1}"
        self.runs[run_id] = RunRecord(run_id, name, "RUNNING", dict(tags), parent_id=parent_id,
                                      start_time=self._made)
        return run_id

    def resume_run(self, run_id: str) -> None:
        self.runs[run_id].status = "RUNNING"

    def log(
        self, run_id: str, *, params: dict[str, object] | None = None, metrics: dict[str, float] | None = None,
        tags: dict[str, str] | None = None, step: int = 0,
    ) -> None:
        run = self.runs[run_id]
        run.params.update({k: str(v) for k, v in (params or {}).items()})
        run.metrics.update(metrics or {})
        run.tags.update(tags or {})

    def log_artifact(self, run_id: str, path: Path) -> None:
        self.runs[run_id].artifacts.append(Path(path).name)

    def log_dataset(self, run_id: str, *, name: str, digest: str, source: str) -> None:
        self.runs[run_id].datasets.append(f"{name}@{digest}")

    def end_run(self, run_id: str, status: str = "FINISHED") -> None:
        self.runs[run_id].status = status

    def find_runs(self, tags: dict[str, str]) -> list[RunRecord]:
        return [r for r in self.runs.values() if all(r.tags.get(k) == v for k, v in tags.items())]

    def delete_run(self, run_id: str) -> None:
        del self.runs[run_id]
