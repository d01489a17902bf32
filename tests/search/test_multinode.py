"""Multi-node Ray without Docker: a head and a second node on this machine, token authentication on.

Each node is a ``ray start --block`` process in its own session, so the test stops exactly the nodes it
started (a signal to their process groups) and never a Ray cluster that something else runs here, as
``ray stop`` would. Each node offers one CPU and each trial needs one, so with four candidates the two
nodes must share the work; the MLflow tag ``node`` of every candidate run says where it trained.
"""

from __future__ import annotations

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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from nas_scaling.tracking import MlflowTracker

pytestmark = pytest.mark.slow

RAY = str(Path(sys.executable).with_name("ray"))
START_TIMEOUT_S = 60.0
CLI_TIMEOUT_S = 600.0
NODE_ENV = {
    "PYTHONUNBUFFERED": "1",  # the "Ray runtime started" line must reach the log while `ray start` blocks
    "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0",  # on SIGTERM stop at once, don't drain for up to 30 s
}


@dataclass(frozen=True)
class Cluster:
    address: str
    env: dict[str, str]
    """What a driver needs to join: RAY_AUTH_MODE=token and the cluster's RAY_AUTH_TOKEN."""
    node_ids: frozenset[str]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_node(args: Sequence[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``ray start --block ARGS`` in a new session; returns once the node runs (or fails the test)."""
    with log.open("wb") as out:
        proc = subprocess.Popen([RAY, "start", "--block", "--disable-usage-stats", *args],
                                env={**env, **NODE_ENV}, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    while b"Ray runtime started" not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop_node(proc)
            pytest.fail(f"`ray start {' '.join(args)}` did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)
    return proc


def _stop_node(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM makes ``ray start --block`` stop its node's processes; SIGKILL its group for any straggler."""
    proc.terminate()
    with suppress(subprocess.TimeoutExpired):
        proc.wait(30)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


_ALIVE_NODES = """
import json, logging, ray
ray.init(address={address!r}, log_to_driver=False, logging_level=logging.ERROR)
print(json.dumps([n["NodeID"] for n in ray.nodes() if n["Alive"]]))
"""


def _alive_node_ids(address: str, env: dict[str, str]) -> list[str]:
    """The ids of the cluster's live nodes, asked by a driver started with ``env``."""
    out = subprocess.run([sys.executable, "-c", _ALIVE_NODES.format(address=address)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


@contextmanager
def ray_cluster(*, nodes: int = 2, cpus_per_node: int = 1) -> Iterator[Cluster]:
    """A head and ``nodes - 1`` more nodes on this machine, sharing a fresh token; all stopped on exit."""
    token = secrets.token_hex(32)  # what `ray get-auth-token --generate` makes
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_AUTH_TOKEN_PATH")}
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token)
    # Ray's unix sockets live under the temp dir and a socket path may not exceed 107 bytes: keep it short.
    temp_dir = Path(tempfile.mkdtemp(prefix="rmn", dir="/tmp"))
    port = _free_port()
    address = f"127.0.0.1:{port}"
    common = [f"--num-cpus={cpus_per_node}", "--num-gpus=0", f"--temp-dir={temp_dir}"]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        # a free port for the (minimal) dashboard too: its default 8265 may belong to another Ray here
        head = ["--head", f"--port={port}", "--include-dashboard=false", f"--dashboard-port={_free_port()}"]
        procs.append(_start_node([*head, *common], env, temp_dir / "head.log"))
        for i in range(1, nodes):
            procs.append(_start_node([f"--address={address}", *common], env, temp_dir / f"node{i}.log"))
        deadline = time.monotonic() + START_TIMEOUT_S
        while len(ids := _alive_node_ids(address, env)) < nodes:
            assert time.monotonic() < deadline, f"only {len(ids)} of {nodes} Ray nodes joined"
            time.sleep(1)
        assert len(ids) == nodes, ids
        yield Cluster(address, env, frozenset(ids))
    finally:
        for proc in reversed(procs):
            _stop_node(proc)
        shutil.rmtree(temp_dir, ignore_errors=True)


def run_cli(cluster: Cluster, tmp: Path, command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run ``nas-scaling COMMAND --address HEAD`` as a driver of the cluster, its records under ``tmp``.

    The environment is the cluster's (token included) plus MLFLOW_TRACKING_URI, as in docker/compose.yaml.
    """
    env = {**cluster.env, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db"}
    proc = subprocess.run([sys.executable, "-m", "nas_scaling", *command, "--address", cluster.address], cwd=tmp,
                          env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc


def trial_runs(tmp: Path, *, kind: str, study: str) -> list[tuple[str, str]]:
    """(status, ``node`` tag) of every trial run tagged ``kind`` and ``study`` in the MLflow store under ``tmp``."""
    tracker = MlflowTracker(f"sqlite:///{tmp}/mlflow.db", experiment="nas-scaling")
    return [(r.status, r.tags.get("node", "")) for r in tracker.find_runs({"kind": kind, "study": study})]


def check_trials_ran_on_every_node(cluster: Cluster, tmp: Path, command: Sequence[str], *, kind: str, study: str,
                                   trials: int) -> None:
    """Run ``nas-scaling COMMAND`` on the cluster: its ``trials`` runs finished, on every node of the cluster
    and nowhere else (``kind`` is the MLflow tag of trial runs: "grid" for grid, "found" for search)."""
    run_cli(cluster, tmp, command)
    runs = trial_runs(tmp, kind=kind, study=study)
    assert [status for status, _ in runs] == ["FINISHED"] * trials, runs
    nodes = [node for _, node in runs]
    assert set(nodes) == cluster.node_ids, (nodes, cluster.node_ids)


def test_grid_trials_run_on_both_nodes(tmp_path: Path) -> None:
    """Four candidates and the base, one CPU each, two nodes of one CPU: the grid must use both nodes."""
    with ray_cluster(nodes=2, cpus_per_node=1) as cluster:
        check_trials_ran_on_every_node(cluster, tmp_path, [
            "grid", "--budget", "2xFLOPS", "--epochs", "1", "--max-candidates", "4", "--cpus-per-trial", "1",
            "--no-progress", "--study", "mn", "--storage", f"sqlite:///{tmp_path}/s.db",
            "--output", str(tmp_path / "grid.json"), "--format", "json",
        ], kind="grid", study="mn", trials=5)
    assert len(json.loads((tmp_path / "grid.json").read_text())["candidates"]) == 4


def test_search_trials_run_on_both_nodes(tmp_path: Path) -> None:
    """Four search trials (no early stopping, so all finish), one CPU each, on two one-CPU nodes."""
    space = Path(__file__).resolve().parents[2] / "search_spaces" / "mixed.yaml"
    with ray_cluster(nodes=2, cpus_per_node=1) as cluster:
        check_trials_ran_on_every_node(cluster, tmp_path, [
            "search", "--space", str(space), "--budget", "2xFLOPS", "--trials", "4", "--epochs", "1",
            "--no-early-stopping", "--cpus-per-trial", "1", "--no-progress", "--study", "mns",
            "--storage", f"sqlite:///{tmp_path}/s.db", "--output", str(tmp_path / "found"), "--format", "json",
        ], kind="found", study="mns", trials=4)
    assert (tmp_path / "found" / "best.yaml").exists()


def test_cluster_refuses_a_driver_without_its_token() -> None:
    """Token authentication stays on: the cluster's token gets in, another token does not."""
    with ray_cluster(nodes=1) as cluster:
        assert set(_alive_node_ids(cluster.address, cluster.env)) == cluster.node_ids
        # a wrong token; RAY_gcs_server_port_wait_time_s shortens the driver's ~20 s of retries to ~2 s
        stranger = {**cluster.env, "RAY_AUTH_TOKEN": secrets.token_hex(32), "RAY_gcs_server_port_wait_time_s": "2"}
        out = subprocess.run([sys.executable, "-c", _ALIVE_NODES.format(address=cluster.address)], env=stranger,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode != 0
        assert "InvalidAuthToken" in out.stderr, out.stderr[-3000:]


def test_ray_address_in_the_environment_joins_the_running_cluster(tmp_path: Path) -> None:
    """Without --address, `RAY_ADDRESS` (Ray's own variable) is the cluster to join: the trials run on its
    node, not on a Ray the command starts itself (as when a user keeps `ray start --head` running)."""
    with ray_cluster(nodes=1) as cluster:
        env = {**cluster.env, "RAY_ADDRESS": cluster.address, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"}
        proc = subprocess.run([sys.executable, "-m", "nas_scaling", "grid", "--budget", "2xFLOPS", "--epochs", "1",
                               "--max-candidates", "1", "--cpus-per-trial", "1", "--no-progress", "--study", "env",
                               "--storage", f"sqlite:///{tmp_path}/s.db"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
        assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stderr[-5000:]}"
        runs = trial_runs(tmp_path, kind="grid", study="env")
        assert [status for status, _ in runs] == ["FINISHED"] * 2, runs
        assert {node for _, node in runs} == cluster.node_ids
