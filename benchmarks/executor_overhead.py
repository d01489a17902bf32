"""Per-trial overhead of the Ray executor against the local one, same trials, every run a new process.

The same search (random sampler, same seed, hence the same architectures) runs with the local
executor (in-process, one trial after the other) and with Ray Tune (one trial at a time too:
``--cpus-per-trial`` equal to the machine's cores, so both train serially with the same threads).
Early stopping is off, so both train every trial to the end. The difference in wall time divided
by the number of trials is the Ray executor's overhead per trial (Ray start-up included, and
amortized over the trials). A third run shows Ray's default, one CPU per trial with trials side
by side, against the same local baseline.

The last two runs join a Ray kept running on this machine instead of starting one (``ray start
--head`` with a fresh token, started before and stopped after them, outside their timing; the
command joins it through ``RAY_ADDRESS``): the first command after ``ray start`` and a later one, one
trial at a time as in the second run. What they save is Ray's start-up and shutdown; the trial
workers are still new processes per command (Ray's workers belong to one job).

Every run is a new Python process, as a command is, timed inside it around ``run_search`` (torch
and the benchmark's modules are imported before, Optuna and Ray inside, as in a command). Before
2026-12-03 late evening the first three ran one after the other in one process. ``--repeat N``
runs all five N times, in rounds, so that each round's runs are close in time (this VM's speed
drifts); the overhead per trial is taken within a round.

    python benchmarks/executor_overhead.py
    python benchmarks/executor_overhead.py --repeat 2
    python benchmarks/executor_overhead.py --trials 4 --epochs 1
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from nas_scaling import zoo
from nas_scaling.cost import parse_budget
from nas_scaling.experiments.search import SearchOptions, run_search
from nas_scaling.search.space import load_space
from nas_scaling.tracking import MemoryTracker

ROOT = Path(__file__).resolve().parents[1]


def _run(executor: str, args: argparse.Namespace, cores: float) -> tuple[float, list[str]]:
    space = load_space(args.space)
    reference = dataclasses.replace(zoo.get_spec(space.reference), num_classes=10, in_channels=1)
    with tempfile.TemporaryDirectory() as tmp:
        options = SearchOptions(
            budget=parse_budget(args.budget), trials=args.trials, sampler="random", seed=args.seed,
            train={"epochs": args.epochs, "threads": int(cores)}, early_stopping=False, executor=executor,
            study="bench", storage=f"sqlite:///{tmp}/studies.db", progress=False, cpus_per_trial=cores,
        )
        start = time.perf_counter()
        result = run_search(space, reference, options, tracker=MemoryTracker(), num_classes=10, in_channels=1,
                            log=lambda m: None)
        wall = time.perf_counter() - start
    archs = sorted(str(t["arch"]) for t in result.best)
    return wall, archs


def _run_apart(executor: str, args: argparse.Namespace, cores: float) -> tuple[float, list[str]]:
    """:func:`_run` in a new Python process, as a command runs (timed inside it, around ``run_search``)."""
    command = [sys.executable, __file__, "--space", str(args.space), "--budget", args.budget, "--trials",
               str(args.trials), "--epochs", str(args.epochs), "--seed", str(args.seed),
               "--one-run", executor, str(cores)]
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"the {executor} run failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return float(result["wall"]), list(result["archs"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _ray_kept_running(cores: float) -> Iterator[None]:
    """``ray start --head --block`` here, as a user keeps Ray running, with a fresh token; inside the block
    this process joins it through ``RAY_ADDRESS`` (and the token); afterwards the head's process group
    is stopped and the environment is as it was."""
    token = secrets.token_hex(32)
    port = _free_port()
    temp_dir = Path(tempfile.mkdtemp(prefix="rbo", dir="/tmp"))  # Ray's socket paths must stay short
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}
    env = {**os.environ, **auth, "PYTHONUNBUFFERED": "1", "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"}
    log = temp_dir / "head.log"
    ray = str(Path(sys.executable).with_name("ray"))
    with log.open("wb") as out:
        head = subprocess.Popen(
            [ray, "start", "--block", "--head", "--disable-usage-stats", f"--port={port}", "--include-dashboard=false",
             f"--dashboard-port={_free_port()}", f"--num-cpus={int(cores)}", "--num-gpus=0", f"--temp-dir={temp_dir}"],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    saved = {k: os.environ.get(k) for k in (*auth, "RAY_ADDRESS")}
    try:
        deadline = time.monotonic() + 60
        while b"Ray runtime started" not in log.read_bytes():
            if head.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"`ray start --head` did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        os.environ.update(auth, RAY_ADDRESS=f"127.0.0.1:{port}")
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        head.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            head.wait(30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(head.pid, signal.SIGKILL)
        head.wait(10)
        shutil.rmtree(temp_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", type=Path, default=ROOT / "search_spaces" / "mixed.yaml")
    parser.add_argument("--budget", default="2xFLOPS")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1, help="rounds of all five runs (default 1)")
    parser.add_argument("--one-run", nargs=2, metavar=("EXECUTOR", "CPUS_PER_TRIAL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_run is not None:  # one run, for _run_apart: its wall and architectures as JSON
        wall, archs = _run(args.one_run[0], args, float(args.one_run[1]))
        print(json.dumps({"wall": wall, "archs": archs}))
        return

    cores = float(os.cpu_count() or 1)
    runs = [  # name, label, executor, CPUs per trial
        ("local", "local", "local", cores),
        ("ray", f"ray, one trial at a time ({cores:g} CPUs each), started by the command", "ray", cores),
        ("side", "ray, side by side (1 CPU each, the default), started by the command", "ray", 1.0),
        ("first", "ray kept running (`ray start --head`), one at a time: the first command", "ray", cores),
        ("later", "ray kept running, one at a time: a later command", "ray", cores),
    ]
    walls: dict[str, list[float]] = {name: [] for name, *_ in runs}
    found: set[tuple[str, ...]] = set()
    for _ in range(args.repeat):
        for name, _label, executor, cpus in runs[:3]:
            wall, archs = _run_apart(executor, args, cpus)
            walls[name].append(wall)
            found.add(tuple(archs))
        with _ray_kept_running(cores):
            for name, _label, executor, cpus in runs[3:]:
                wall, archs = _run_apart(executor, args, cpus)
                walls[name].append(wall)
                found.add(tuple(archs))
    print(f"{args.trials} trials x {args.epochs} epochs (random sampler, seed {args.seed}), {args.repeat} round(s), "
          f"every run a new process; same architectures in every run: {len(found) == 1}")
    print("| executor | wall (s), each round | per trial (s), each round | overhead per trial vs local (s) |")
    print("|---|---:|---:|---:|")
    for name, label, *_ in runs:
        values = walls[name]
        overhead = [(w - base) / args.trials for w, base in zip(values, walls["local"], strict=True)]
        print(f"| {label} | {', '.join(f'{w:.1f}' for w in values)} | "
              f"{', '.join(f'{w / args.trials:.2f}' for w in values)} | "
              f"{'-' if name == 'local' else ', '.join(f'{o:+.2f}' for o in overhead)} |")

if __name__ == "__main__":
    main()
