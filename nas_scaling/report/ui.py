"""Serve the two web UIs over local results: the MLflow UI and optuna-dashboard.

Both run as subprocesses (each in its own session, so a terminal's Ctrl-C reaches only us and we stop
them in order); :func:`serve_ui` waits until both answer HTTP, prints their URLs and then watches them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nas_scaling.errors import UserError

__all__ = ["Server", "check_port", "serve_ui", "stop_servers", "wait_http"]


@dataclass
class Server:
    """One server subprocess, its URL and where its output goes."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def check_port(host: str, port: int, option: str) -> None:
    """Refuse a port outside 1-65535 or one something already listens on (we try to bind it)."""
    if not 1 <= port <= 65535:
        raise UserError(f"{option} must be a port number in 1-65535, got {port}")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise UserError(f"{option} {port} on {host} is not available: {exc.strerror or exc}") from None


def _probe_host(host: str) -> str:
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # it answered, if not with 200
    except (OSError, ValueError):
        return False


def _start(name: str, cmd: Sequence[str], url: str, logdir: Path) -> Server:
    log = logdir / f"{name.split()[0].lower()}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            list(cmd), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Server(name, url, process, log)


def _died(server: Server) -> str | None:
    code = server.process.poll()
    if code is None:
        return None
    return f"{server.name} exited with code {code} (log: {server.log})"


def wait_http(servers: Sequence[Server], *, timeout: float) -> str | None:
    """Wait until every server answers HTTP; the reason it failed, or None."""
    deadline = time.monotonic() + timeout
    pending = list(servers)
    while pending:
        for server in list(pending):
            if (reason := _died(server)) is not None:
                return reason
            if _answers(server.url):
                pending.remove(server)
        if pending:
            if time.monotonic() > deadline:
                late = pending[0]
                return f"{late.name} did not answer at {late.url} within {timeout:g} s (log: {late.log})"
            time.sleep(0.3)
    return None


def stop_servers(servers: Sequence[Server], *, timeout: float = 5.0) -> None:
    """SIGTERM each server's process group, then SIGKILL what is left after ``timeout`` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for server in servers:
            if server.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(server.process.pid, sig)
        deadline = time.monotonic() + timeout
        for server in servers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        if all(s.process.poll() is not None for s in servers):
            break
    for server in servers:  # children that outlived their group leader
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(server.process.pid, signal.SIGKILL)


def _dashboard_command() -> list[str]:
    script = Path(sys.executable).parent / "optuna-dashboard"
    if not script.exists():
        import importlib.util

        if importlib.util.find_spec("optuna_dashboard") is None:
            raise UserError("optuna-dashboard is not installed; install it with 'pip install optuna-dashboard'")
        return [sys.executable, "-c", "from optuna_dashboard._cli import main; main()"]
    return [str(script)]


def serve_ui(
    *,
    storage: str,
    tracking_uri: str,
    artifact_root: Path | None = None,
    host: str = "127.0.0.1",
    mlflow_port: int = 5000,
    dashboard_port: int = 8080,
    start_timeout: float = 120.0,
    print_fn: Callable[[str], None] | None = None,
    experiment_id: str | None = None,
) -> int:
    """Run both UIs until Ctrl-C (KeyboardInterrupt propagates, after both are stopped) or one dies (1);
    with ``experiment_id``, also print the URL of that experiment's runs page."""
    from nas_scaling.search.study import open_storage

    def say(line: str) -> None:
        (print_fn or (lambda text: print(text, flush=True)))(line)

    if mlflow_port == dashboard_port:
        raise UserError(f"--mlflow-port and --dashboard-port must differ, both are {mlflow_port}")
    check_port(host, mlflow_port, "--mlflow-port")
    check_port(host, dashboard_port, "--dashboard-port")
    open_storage(storage)  # optuna-dashboard fails on a database without Optuna's tables
    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow_cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", tracking_uri,
                  "--host", host, "--port", str(mlflow_port), "--workers", "1"]
    if artifact_root is not None:
        artifact_root.mkdir(parents=True, exist_ok=True)
        mlflow_cmd += ["--default-artifact-root", artifact_root.resolve().as_uri()]
    dashboard_cmd = [*_dashboard_command(), storage, "--host", host, "--port", str(dashboard_port)]

    probe = _probe_host(host)
    restore = _handle_signals()
    logdir = Path(tempfile.mkdtemp(prefix="nas-scaling-ui-"))
    servers: list[Server] = []
    keep_logs = False  # a server that died or never answered: its log is named in the error, so it stays
    try:
        servers.append(_start("MLflow UI", mlflow_cmd, f"http://{probe}:{mlflow_port}/", logdir))
        servers.append(_start("Optuna dashboard", dashboard_cmd, f"http://{probe}:{dashboard_port}/", logdir))
        reason = wait_http(servers, timeout=start_timeout)
        if reason is None:
            for server in servers:
                say(f"{server.name}: {server.url}")
            if experiment_id is not None:
                say(f"MLflow runs: {servers[0].url}#/experiments/{experiment_id}/runs")
            say("Press Ctrl-C to stop both.")
            while reason is None:
                time.sleep(0.5)
                reason = next((r for r in map(_died, servers) if r is not None), None)
        keep_logs = True
        print(f"nas-scaling: error: {reason}", file=sys.stderr)
        return 1
    finally:
        stop_servers(servers)
        restore()
        if not keep_logs:
            shutil.rmtree(logdir, ignore_errors=True)


def _handle_signals() -> Callable[[], None]:
    """Ctrl-C raises KeyboardInterrupt even where SIGINT was ignored; SIGTERM exits 143 via ``finally``."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def on_term(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    old_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    old_term = signal.signal(signal.SIGTERM, on_term)

    def restore() -> None:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)

    return restore
