"""Optuna studies: storage, and trials recorded only once their work is finished.

A trial is written in one step with its final state (``study.add_trial``), so a crash or Ctrl-C
can never leave a RUNNING trial behind; resuming means skipping keys already COMPLETE.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas_scaling.errors import UserError
from nas_scaling.locks import file_lock

if TYPE_CHECKING:
    import optuna

__all__ = ["DEFAULT_STORAGE", "open_study", "open_storage", "record_trial", "safe_study_name"]

DEFAULT_STORAGE = "sqlite:///studies/studies.db"


def safe_study_name(text: str) -> str:
    """``text`` with every character but letters, digits and ``-_.`` made ``_`` (study and run names)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def _quiet(cls: Any, max_retry: int) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(max_retry=max_retry)


def open_storage(url: str, *, heartbeat: int | None = None) -> optuna.storages.BaseStorage:
    """An Optuna RDB storage; ``heartbeat`` (seconds) turns on stale-trial detection, with a grace
    period of six beats and the stale trial re-enqueued (twice at most)."""
    import optuna

    lock: Path | None = None
    if url.startswith("sqlite:///"):
        db = Path(url.removeprefix("sqlite:///"))
        folder = db.parent
        lock = db.with_name(db.name + ".lock")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot open study storage {url!r}: cannot create folder {str(folder)!r} "
                            f"({exc.strerror or exc})") from None
    try:
        beats: dict[str, Any] = {}
        if heartbeat is not None:
            from nas_scaling.search.proposer import MAX_RETRIES

            beats = {
                "heartbeat_interval": heartbeat, "grace_period": 6 * heartbeat,
                "heartbeat_stale_trial_callback": _quiet(optuna.storages.RetryHeartbeatStaleTrialCallback, MAX_RETRIES),
            }
        with warnings.catch_warnings(), file_lock(lock) if lock is not None else contextlib.nullcontext():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url, engine_kwargs={"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None, **beats
            )
    except Exception as exc:
        raise UserError(f"cannot open study storage {url!r}: {exc}".splitlines()[0]) from None


def open_study(
    name: str, storage_url: str, *, config: dict[str, Any], directions: tuple[str, ...] = ("maximize",),
    storage: optuna.storages.BaseStorage | None = None,
) -> optuna.Study:
    """Create or load study ``name``; a loaded study must have been made with the same ``config``."""
    import optuna

    if storage is None:
        storage = open_storage(storage_url)
    study = optuna.create_study(
        study_name=name, storage=storage, load_if_exists=True,
        directions=list(directions),  # type: ignore[arg-type]
    )
    wanted = json.dumps(config, sort_keys=True)
    found = study.user_attrs.get("config")
    if found is None:
        study.set_user_attr("config", wanted)
    elif found != wanted:
        old, new = json.loads(found), config
        diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        first = diff[0] if diff else "?"
        raise UserError(
            f"study {name!r} was made with {first}={old.get(first)!r}, not {new.get(first)!r}; "
            "rerun with the same options to resume it, or pick a new --study name"
        )
    return study


def record_trial(
    study: optuna.Study,
    *,
    params: dict[str, float],
    value: float | None,
    state: optuna.trial.TrialState,
    user_attrs: dict[str, Any],
) -> None:
    """Add one finished trial (COMPLETE, FAIL or PRUNED) in a single write."""
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.trial import TrialState

    distributions = {k: FloatDistribution(1.0, max(8.0, v)) for k, v in params.items()}
    trial = optuna.trial.create_trial(
        state=state,
        value=value if state == TrialState.COMPLETE else None,
        params=params,
        distributions=distributions,  # type: ignore[arg-type]
        user_attrs=user_attrs,
    )
    study.add_trial(trial)
