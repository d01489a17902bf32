"""The MLflow implementation of :class:`~nas_scaling.tracking.base.Tracker` (client API, so it is
safe to use from callbacks and needs no global active run)."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas_scaling.locks import file_lock
from nas_scaling.tracking.base import RunRecord

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["DEFAULT_TRACKING_URI", "MlflowTracker", "artifact_root_for", "resolve_tracking_uri"]

DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"
"""Runs in SQLite under mlruns/, artifacts in mlruns/artifacts (MLflow 3 refuses a bare file store)."""


EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
"""MLflow 3's experiment type for model training: the UI opens such an experiment on its runs, not on
the GenAI traces overview."""


def _warnings_and_up(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING


@contextlib.contextmanager
def _quiet_schema_setup() -> Iterator[None]:
    """MLflow's INFO lines while it creates or migrates a database ("Creating initial MLflow database
    tables...") dropped for this call only: a filter added and removed, the logger's level untouched."""
    logger = logging.getLogger("mlflow.store.db.utils")
    logger.addFilter(_warnings_and_up)
    try:
        yield
    finally:
        logger.removeFilter(_warnings_and_up)


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
    def __init__(
        self, tracking_uri: str, *, experiment: str, artifact_root: Path | None = None, create: bool = True
    ) -> None:
        """``artifact_root`` of a new experiment defaults to :func:`artifact_root_for` the store.

        With ``create=False`` (a reader, such as ``compare``) a missing SQLite database or experiment
        is a one-line :class:`~nas_scaling.errors.UserError` when the store is first used, and
        nothing is made."""
        self.tracking_uri = resolve_tracking_uri(tracking_uri)
        self._experiment = experiment
        self._create = create
        # else MLflow puts a new experiment's artifacts in ./mlruns of the working folder
        self._artifact_root = artifact_root if artifact_root is not None else artifact_root_for(self.tracking_uri)
        self._client: MlflowClient | None = None
        self._experiment_id: str | None = None

    def check(self) -> None:
        """Refuse, with one line, a SQLite store whose folder cannot be made: before anything else
        is written, and without making anything (the database is made on first use)."""
        import os

        if not self.tracking_uri.startswith("sqlite:///") or self.tracking_uri == "sqlite:///:memory:":
            return
        folder = Path(self.tracking_uri.removeprefix("sqlite:///")).parent
        existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
        problem = None
        if existing is None or not existing.is_dir():
            problem = f"{str(existing)!r} is not a folder"
        elif not os.access(existing, os.W_OK | os.X_OK):
            problem = f"{str(existing)!r} is not writable"
        if problem is not None:
            from nas_scaling.errors import UserError

            raise UserError(f"cannot open MLflow tracking URI {self.tracking_uri!r}: {problem}")

    # The store is opened (and a SQLite database made) on first use, not here: a command that stops
    # on a user mistake before it logs anything leaves no empty database behind.
    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            self._open()
        assert self._client is not None
        return self._client

    @property
    def experiment_id(self) -> str:
        if self._experiment_id is None:
            self._open()
        assert self._experiment_id is not None
        return self._experiment_id

    def open(self) -> MlflowTracker:
        """Open the store now (made if missing, schema migrated, experiment made); idempotent."""
        if self._client is None:
            self._open()
        return self

    def _open(self) -> None:
        from mlflow import MlflowClient

        if not self._create:
            self._open_existing()
            return
        lock: Path | None = None
        if self.tracking_uri.startswith("sqlite:///"):
            db = Path(self.tracking_uri.removeprefix("sqlite:///"))
            try:
                db.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                from nas_scaling.errors import UserError

                raise UserError(f"cannot open MLflow tracking URI {self.tracking_uri!r}: cannot create folder "
                                f"{str(db.parent)!r} ({exc.strerror or exc})") from None
            lock = db.with_name(db.name + ".lock")
        # one schema migration at a time
        with file_lock(lock) if lock is not None else contextlib.nullcontext(), _quiet_schema_setup():
            client = MlflowClient(self.tracking_uri)
            self._experiment_id = self._open_experiment(client, self._experiment, self._artifact_root)
            self._client = client

    def _open_existing(self) -> None:
        from mlflow import MlflowClient

        from nas_scaling.errors import UserError

        db = self.tracking_uri.removeprefix("sqlite:///") if self.tracking_uri.startswith("sqlite:///") else None
        if db is not None and db != ":memory:" and not Path(db).exists():
            raise UserError(f"no MLflow database at {self.tracking_uri!r}; run 'nas-scaling grid' or "
                            "'nas-scaling baseline' first, or set MLFLOW_TRACKING_URI")
        client = MlflowClient(self.tracking_uri)
        found = client.get_experiment_by_name(self._experiment)
        if found is None:
            raise UserError(f"unknown experiment {self._experiment!r} at {self.tracking_uri}; "
                            "the commands log to 'nas-scaling'")
        self._experiment_id, self._client = str(found.experiment_id), client

    @staticmethod
    def _open_experiment(client: MlflowClient, experiment: str, artifact_root: Path | None) -> str:
        found = client.get_experiment_by_name(experiment)
        if found is not None:
            if found.tags.get(EXPERIMENT_KIND_TAG) is None:
                client.set_experiment_tag(found.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
            return str(found.experiment_id)
        location = artifact_root.resolve().as_uri() if artifact_root is not None else None
        try:
            return str(client.create_experiment(experiment, artifact_location=location,
                                                tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND}))
        except Exception:  # created meanwhile by another process
            again = client.get_experiment_by_name(experiment)
            if again is None:
                raise
            return str(again.experiment_id)

    def log_dataset(self, run_id: str, *, name: str, digest: str, source: str) -> None:
        """Record the run's training data as an MLflow dataset input (the UI's Dataset column)."""
        from mlflow.entities import Dataset, DatasetInput, InputTag

        dataset = Dataset(name=name, digest=digest, source_type="local", source=json.dumps({"uri": source}))
        self.client.log_inputs(run_id, datasets=[DatasetInput(dataset, tags=[InputTag("mlflow.data.context",
                                                                                      "training")])])

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
        records: list[RunRecord] = []
        token: str | None = None
        while True:  # page through: a long study has more runs than one page holds
            page = self.client.search_runs(
                [self.experiment_id], query, run_view_type=ViewType.ACTIVE_ONLY, max_results=_PAGE,
                page_token=token,
            )
            records += [_record(r) for r in page]
            token = page.token
            if not token:
                return records


_PAGE = 5000


def _record(run: Any) -> RunRecord:
    return RunRecord(
        run_id=run.info.run_id,
        name=run.info.run_name or "",
        status=run.info.status,
        tags=dict(run.data.tags),
        params=dict(run.data.params),
        metrics=dict(run.data.metrics),
        parent_id=run.data.tags.get("mlflow.parentRunId"),
        start_time=int(run.info.start_time or 0),
    )
