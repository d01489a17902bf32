"""The tracking protocol: what search and grid need of an experiment tracker."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

__all__ = ["MemoryTracker", "RunRecord", "Tracker"]


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


class Tracker(Protocol):
    """Runs with params, metrics, tags and artifacts; runs may have a parent run."""

    def start_run(self, name: str, *, tags: dict[str, str], parent_id: str | None = None) -> str: ...

    def resume_run(self, run_id: str) -> None: ...

    def log(
        self, run_id: str, *, params: dict[str, object] | None = None, metrics: dict[str, float] | None = None,
        tags: dict[str, str] | None = None, step: int = 0,
    ) -> None: ...

    def log_artifact(self, run_id: str, path: Path) -> None: ...

    def end_run(self, run_id: str, status: str = "FINISHED") -> None: ...

    def find_runs(self, tags: dict[str, str]) -> list[RunRecord]: ...


class MemoryTracker:
    """An in-memory :class:`Tracker` for unit tests."""

    def __init__(self) -> None:
        self.runs: dict[str, RunRecord] = {}

    def start_run(self, name: str, *, tags: dict[str, str], parent_id: str | None = None) -> str:
        run_id = f"run{len(self.runs)}"
        self.runs[run_id] = RunRecord(run_id, name, "RUNNING", dict(tags), parent_id=parent_id)
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

    def end_run(self, run_id: str, status: str = "FINISHED") -> None:
        self.runs[run_id].status = status

    def find_runs(self, tags: dict[str, str]) -> list[RunRecord]:
        return [r for r in self.runs.values() if all(r.tags.get(k) == v for k, v in tags.items())]
