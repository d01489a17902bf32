"""The MLflow implementation of :class:`~nas_scaling.tracking.base.Tracker` (client API, so it is
safe to use from callbacks and needs no global active run)."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from nas_scaling.locks import file_lock
from nas_scaling.tracking.base import RunRecord

__all__ = ["DEFAULT_TRACKING_URI", "MlflowTracker", "artifact_root_for", "resolve_tracking_uri"]

DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"
"""Runs in SQLite under mlruns/, artifacts in mlruns/artifacts (MLflow 3 refuses a bare file store)."""


def resolve_tracking_uri(uri: str) -> str:
    """``uri`` with a relative SQLite path made absolute against the working folder.

    MLflow keeps one database engine per URI string for the life of the process, so a relative
    ``sqlite:///mlruns/mlflow.db`` would go on writing to the folder it was first opened from after a
    change of folder (a notebook, or two commands in one process)."""
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////") and uri != "sqlite:///:memory:":
        return "sqlite:///" + str(Path(uri.removeprefix("sqlite:///")).absolute())
    return uri


def artifact_root_for(tracking_uri: str) -> Path | None:
    """Artifacts of a SQLite store live in ``artifacts/`` beside its database; other stores keep their own."""
    if tracking_uri.startswith("sqlite:///") and tracking_uri != "sqlite:///:memory:":
        return Path(tracking_uri.removeprefix("sqlite:///")).parent / "artifacts"
    return None


def _quote(value: str) -> str:
    return "'" + value.replace("'", "\\'") + "'"


class MlflowTracker:
    def __init__(self, tracking_uri: str, *, experiment: str, artifact_root: Path | None = None) -> None:
        """``artifact_root`` of a new experiment defaults to :func:`artifact_root_for` the store."""
        import logging

        from mlflow import MlflowClient

        logging.getLogger("alembic").setLevel(logging.WARNING)
        logging.getLogger("mlflow").setLevel(logging.WARNING)
        lock: Path | None = None
        tracking_uri = resolve_tracking_uri(tracking_uri)
        if artifact_root is None:  # else MLflow puts a new experiment's artifacts in ./mlruns of the working folder
            artifact_root = artifact_root_for(tracking_uri)
        if tracking_uri.startswith("sqlite:///"):
            db = Path(tracking_uri.removeprefix("sqlite:///"))
            try:
                db.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                from nas_scaling.errors import UserError

                raise UserError(f"cannot open MLflow tracking URI {tracking_uri!r}: cannot create folder "
                                f"{str(db.parent)!r} ({exc.strerror or exc})") from None
            lock = db.with_name(db.name + ".lock")
        self.tracking_uri = tracking_uri
        with file_lock(lock) if lock is not None else contextlib.nullcontext():  # one schema migration at a time
            self.client = MlflowClient(tracking_uri)
            self._open_experiment(experiment, artifact_root)

    def _open_experiment(self, experiment: str, artifact_root: Path | None) -> None:
        found = self.client.get_experiment_by_name(experiment)
        if found is not None:
            self.experiment_id = found.experiment_id
        else:
            location = artifact_root.resolve().as_uri() if artifact_root is not None else None
            try:
                self.experiment_id = self.client.create_experiment(experiment, artifact_location=location)
            except Exception:  # created meanwhile by another process
                again = self.client.get_experiment_by_name(experiment)
                if again is None:
                    raise
                self.experiment_id = again.experiment_id

    def start_run(self, name: str, *, tags: dict[str, str], parent_id: str | None = None) -> str:
        all_tags = dict(tags)
        if parent_id is not None:
            all_tags["mlflow.parentRunId"] = parent_id
        run = self.client.create_run(self.experiment_id, run_name=name, tags=all_tags)
        return str(run.info.run_id)

    def resume_run(self, run_id: str) -> None:
        self.client.update_run(run_id, status="RUNNING")

    def log(
        self, run_id: str, *, params: dict[str, object] | None = None, metrics: dict[str, float] | None = None,
        tags: dict[str, str] | None = None, step: int = 0,
    ) -> None:
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000)
        self.client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), now, step) for k, v in (metrics or {}).items()],
            params=[Param(k, str(v)) for k, v in (params or {}).items()],
            tags=[RunTag(k, str(v)) for k, v in (tags or {}).items()],
        )

    def log_artifact(self, run_id: str, path: Path) -> None:
        self.client.log_artifact(run_id, str(path))

    def end_run(self, run_id: str, status: str = "FINISHED") -> None:
        self.client.set_terminated(run_id, status=status)

    def delete_run(self, run_id: str) -> None:
        self.client.delete_run(run_id)

    def find_runs(self, tags: dict[str, str]) -> list[RunRecord]:
        from mlflow.entities import ViewType

        query = " and ".join(f"tags.{k} = {_quote(v)}" for k, v in tags.items())
        runs = self.client.search_runs(
            [self.experiment_id], query, run_view_type=ViewType.ACTIVE_ONLY, max_results=5000
        )
        return [
            RunRecord(
                run_id=r.info.run_id,
                name=r.info.run_name or "",
                status=r.info.status,
                tags=dict(r.data.tags),
                params=dict(r.data.params),
                metrics=dict(r.data.metrics),
                parent_id=r.data.tags.get("mlflow.parentRunId"),
                start_time=int(r.info.start_time or 0),
            )
            for r in runs
        ]
