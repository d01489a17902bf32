"""Several ``nas-scaling search`` workers sharing one study (one SQLite Optuna storage, one SQLite MLflow
store): no lock error, no lost trial, and exactly ``--trials`` trained trials between them.

Each worker is pinned to one core (as a cluster scheduler would give it one), so its trials train with one
thread: four workers with two torch threads each on two cores spend most of their time spinning.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from nas_scaling.cost import parse_budget
from nas_scaling.errors import UserError
from nas_scaling.experiments.search import SearchOptions, run_search
from nas_scaling.search import proposer as proposer_module
from nas_scaling.search.proposer import Proposal, Proposer, trained_count
from nas_scaling.search.space import load_space
from nas_scaling.search.study import open_storage
from nas_scaling.spec import load_spec
from nas_scaling.tracking import MemoryTracker, MlflowTracker
from tests.search.tiny import write_space

WORKERS = 4
TRIALS = 50
STUDY = "shared"

SPACE = """\
name: wide
reference: ref.yaml
resolution: 8
stem: {channels: [8, 12, 16], kernel: 3, stride: 1, act: relu}
stages:
  - kinds: [conv, dwsep, mbconv]
    stride: 2
    conv: {channels: [8, 12, 16, 20, 24]}
    dwsep: {channels: [8, 12, 16, 20, 24]}
    mbconv: {channels: [8, 16], expand: [1, 2], se: 0.0, kernel: 3}
  - kinds: [conv, dwsep]
    stride: 1
    conv: {channels: [8, 12, 16]}
    dwsep: {channels: [8, 12, 16]}
head: {conv: null, dropout: 0.0}
"""
"""252 networks, all within 8x the reference, each trained in about 0.1 s (one 8x8 digits epoch)."""


def _write(tmp_path: Path) -> Path:
    return write_space(tmp_path, SPACE)


def _urls(tmp_path: Path) -> tuple[str, str]:
    return f"sqlite:///{tmp_path}/studies.db", f"sqlite:///{tmp_path}/mlflow.db"


def _workers(tmp_path: Path, trials: int) -> list[subprocess.CompletedProcess[str]]:
    """Start WORKERS searches on one study at the same moment; wait for all of them."""
    storage, tracking = _urls(tmp_path)
    space = _write(tmp_path)
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    procs = []
    for i in range(WORKERS):
        command = [
            sys.executable, "-m", "nas_scaling", "search", "--space", str(space), "--budget", "8xFLOPS",
            "--trials", str(trials), "--executor", "local", "--study", STUDY, "--storage", storage,
            "--epochs", "1", "--batch-size", "128", "--no-early-stopping", "--no-progress",
            "--output", str(tmp_path / f"out{i}"), "--format", "json",
        ]
        pin = {cpus[i % len(cpus)]} if cpus else None
        procs.append(subprocess.Popen(
            command, cwd=tmp_path, env={**os.environ, "MLFLOW_TRACKING_URI": tracking}, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            preexec_fn=(lambda pin=pin: os.sched_setaffinity(0, pin)) if pin else None,
        ))
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


@pytest.mark.slow
def test_four_workers_fill_one_study_with_exactly_the_trials_asked(tmp_path: Path) -> None:
    """The stores exist already (created here, as after a first run): this is about the steady state.
    Starting on fresh stores is the next test."""
    storage, tracking = _urls(tmp_path)
    open_storage(storage)
    MlflowTracker(tracking, experiment="nas-scaling").open()

    started = time.monotonic()
    results = _workers(tmp_path, TRIALS)
    seconds = time.monotonic() - started
    for r in results:
        assert r.returncode == 0, r.stderr
        assert "database is locked" not in r.stderr, r.stderr
        assert "Traceback" not in r.stderr, r.stderr

    study = optuna.load_study(study_name=STUDY, storage=storage)
    trials = study.get_trials(deepcopy=False)
    assert len({t.number for t in trials}) == len(trials)
    assert not [t.number for t in trials if not t.state.is_finished()], "a trial was left RUNNING or WAITING"
    trained = [t for t in trials if t.user_attrs.get("outcome") in ("complete", "pruned", "failed")]
    owners = Counter(t.user_attrs["owner"] for t in trained)
    assert len(trained) == trained_count(study) == TRIALS, (
        f"{len(trained)} trained trials for --trials {TRIALS} ({seconds:.0f} s, by worker: {dict(owners)})"
    )

    tracker = MlflowTracker(tracking, experiment="nas-scaling")
    children = tracker.find_runs({"kind": "found", "study": STUDY})
    odd = [(r.tags["trial"], r.status, r.tags.get("state")) for r in children if r.status != "FINISHED"]
    assert not odd, f"child runs not FINISHED (trial, status, state tag): {odd}"
    assert len(children) == len(trained)
    assert sorted(int(r.tags["trial"]) for r in children) == sorted(t.number for t in trained)
    parents = tracker.find_runs({"kind": "search-parent", "study": STUDY})
    assert {c.parent_id for c in children} <= {p.run_id for p in parents}
    assert all(p.status == "FINISHED" for p in parents)


@pytest.mark.slow
def test_workers_started_together_on_fresh_stores_all_start(tmp_path: Path) -> None:
    """Four workers launched at once on a new machine: the first run creates both SQLite stores, and
    every worker must get through that (no schema-migration race), not crash with a traceback."""
    storage, _ = _urls(tmp_path)
    results = _workers(tmp_path, WORKERS)
    for r in results:
        assert r.returncode == 0, r.stderr[-3000:]
    study = optuna.load_study(study_name=STUDY, storage=storage)
    assert trained_count(study) == WORKERS


def test_two_workers_racing_for_the_last_trial_do_not_overshoot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--trials 1``, two workers: both see 0 trained and 0 training, then both ask. Worker B is simulated
    (a RUNNING trial owned by this live process appears between our check and our ask); when B's trial
    completes, the study must hold exactly one trained trial, not two."""
    storage, _ = _urls(tmp_path)
    space = load_space(_write(tmp_path))
    foreign: list[int] = []
    real_propose = Proposer.propose

    def propose(self: Proposer, **kw: Any) -> Proposal | None:
        if not foreign:  # worker B asks right after our count said "0 of 1, go on"
            other = self.study.ask()
            other.set_user_attr("owner", f"{socket.gethostname()}:{os.getppid()}")  # alive: not stale
            other.set_user_attr("outcome", "running")
            foreign.append(other.number)
        return real_propose(self, **kw)

    monkeypatch.setattr(proposer_module.Proposer, "propose", propose)
    options = SearchOptions(
        budget=parse_budget("8xFLOPS"), trials=1, sampler="random", study="race", executor="local", storage=storage,
        train={"epochs": 1, "batch_size": 128}, early_stopping=False, progress=False,
    )
    with contextlib.suppress(UserError):  # a worker left with nothing to train may say so
        run_search(space, load_spec(tmp_path / "ref.yaml"), options, tracker=MemoryTracker(), num_classes=10,
                   in_channels=1, log=lambda m: None)
    study = optuna.load_study(study_name="race", storage=storage)
    [other] = [t for t in study.trials if t.number == foreign[0]]
    if other.state == TrialState.RUNNING:  # worker B finishes its training
        study._storage.set_trial_user_attr(other._trial_id, "outcome", "complete")
        study.tell(other.number, 0.5)
    assert trained_count(study) == 1, "two workers both trained the last of --trials 1"


def test_a_starting_worker_leaves_other_workers_runs_alone(tmp_path: Path) -> None:
    """Worker A has told its trial COMPLETE and is about to end its MLflow run when worker B starts. B's
    clean-up of runs orphaned by dead processes must not mark A's run KILLED (A is alive)."""
    storage, _ = _urls(tmp_path)
    space = load_space(_write(tmp_path))
    tracker = MemoryTracker()

    def search(trials: int) -> None:
        options = SearchOptions(
            budget=parse_budget("8xFLOPS"), trials=trials, sampler="random", study="pair", executor="local",
            storage=storage, train={"epochs": 1, "batch_size": 128, "threads": 1}, early_stopping=False,
            progress=False,
        )
        run_search(space, load_spec(tmp_path / "ref.yaml"), options, tracker=tracker, num_classes=10,
                   in_channels=1, log=lambda m: None)

    search(1)
    study = optuna.load_study(study_name="pair", storage=storage)
    trial = study.ask()  # worker A's trial, trained; A is between study.tell and tracker.end_run
    for key, value in {"owner": f"{socket.gethostname()}:{os.getppid()}", "outcome": "complete",
                       "val_top1": 0.5, "macs": 1000, "params": 100, "arch": "conv_a"}.items():
        trial.set_user_attr(key, value)
    run_a = tracker.start_run(f"pair/{trial.number}", tags={"kind": "found", "study": "pair",
                                                            "trial": str(trial.number)})
    study.tell(trial, 0.5)

    search(2)  # worker B starts: nothing left to train
    assert tracker.runs[run_a].status == "RUNNING", tracker.runs[run_a].tags
