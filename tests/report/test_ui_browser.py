"""``nas-scaling ui`` end to end: a tiny grid, both servers, and a real headless Chromium reading them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from nas_scaling.cli.main import main
from nas_scaling.cost import parse_budget
from nas_scaling.experiments.grid import GridOptions, run_grid
from nas_scaling.spec import ConvBlock, Head, MBConv, NetworkSpec, Stage
from nas_scaling.tracking import MlflowTracker

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--run-all-compositor-stages-before-draw", "--virtual-time-budget=15000",
)
STUDY = "ui-grid"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _dump_dom(url: str, profile: Path) -> str:
    out = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
        capture_output=True, text=True, timeout=90, check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


@pytest.mark.parametrize("argv", [
    ["ui", "--mlflow-port", "0"],
    ["ui", "--dashboard-port", "70000"],
    ["ui", "--mlflow-port", "http"],
])
def test_bad_port_values_exit_2_with_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "from 1 to 65535" in err and argv[-1] in err


def test_a_port_in_use_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["ui", "--dashboard-port", str(port), "--mlflow-port", str(_free_port()),
                     "--storage", f"sqlite:///{tmp_path}/s.db", "--tracking-uri", f"sqlite:///{tmp_path}/m.db"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--dashboard-port {port}" in err


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(),
                    reason=f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)")
def test_ui_serves_the_study_and_the_runs_to_a_real_browser(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    base = NetworkSpec(
        name="micro", stem=(Stage(ConvBlock(8, act="silu")),),
        stages=(Stage(MBConv(16, expand=2.0, se=0.25), repeats=2, stride=2),
                Stage(MBConv(24, expand=2.0, se=0.25), repeats=2, stride=2)),
        head=Head(conv=32, act="silu"), in_channels=1, resolution=16, num_classes=10,
    )
    storage = f"sqlite:///{tmp_path}/studies/studies.db"
    uri = f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    tracker = MlflowTracker(uri, experiment="nas-scaling", artifact_root=tmp_path / "mlruns" / "artifacts")
    run_grid(base, GridOptions(budget=parse_budget("2xFLOPS"), max_candidates=1, train={"epochs": 1},
                               executor="local", study=STUDY, storage=storage, progress=False, phi_max=1),
             tracker=tracker, log=lambda m: None)
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("nas-scaling")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert STUDY in {r.info.run_name for r in runs}  # the grid's parent run is named after the study
    # a model-training experiment (MLflow 3 opens it on its runs, not on the GenAI traces overview)
    assert experiment.tags.get("mlflow.experimentKind") == "custom_model_development"
    [child] = [r for r in runs if r.data.tags.get("kind") == "grid" and "control" not in r.data.tags]
    [control] = [r for r in runs if r.data.tags.get("control") == "base"]  # the base, trained as the control
    assert control.data.params["phi"] == "0"
    [dataset] = child.inputs.dataset_inputs  # the Dataset column
    assert dataset.dataset.name == "digits" and dataset.dataset.digest
    assert child.info.end_time - child.info.start_time > 100  # started with its training, not after it
    assert child.data.metrics["val_top1"] >= 0

    mlflow_port, dashboard_port = _free_port(), _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    ui = subprocess.Popen(
        [sys.executable, "-m", "nas_scaling", "ui", "--storage", storage, "--tracking-uri", uri,
         "--mlflow-port", str(mlflow_port), "--dashboard-port", str(dashboard_port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )
    try:
        mlflow_url, dashboard_url = f"http://127.0.0.1:{mlflow_port}/", f"http://127.0.0.1:{dashboard_port}/"
        deadline = time.monotonic() + 90
        while not (_answers(mlflow_url) and _answers(dashboard_url)):
            assert ui.poll() is None, ui.communicate()
            assert time.monotonic() < deadline, "the UIs did not answer within 90 s"
            time.sleep(0.5)

        dashboard_dom = _dump_dom(f"{dashboard_url}dashboard", tmp_path / "chrome-a")
        assert STUDY in dashboard_dom

        # MLflow 3's SPA routes by hash; /#/experiments/<id> alone opens the GenAI overview, not the runs
        runs_url = f"{mlflow_url}#/experiments/{experiment.experiment_id}/runs"
        mlflow_dom = _dump_dom(runs_url, tmp_path / "chrome-b")
        assert "nas-scaling" in mlflow_dom  # the experiment's name
        assert "Run Name" in mlflow_dom and "matching runs" in mlflow_dom  # the runs table rendered
        assert f">{STUDY}<" in mlflow_dom  # the grid's parent run, a row of that table
    finally:
        if ui.poll() is None:
            ui.send_signal(signal.SIGINT)
        try:
            stdout, stderr = ui.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            ui.kill()
            raise
    assert ui.returncode == 130, stderr
    assert f"MLflow UI: {mlflow_url}" in stdout and f"Optuna dashboard: {dashboard_url}" in stdout
    assert f"MLflow runs: {runs_url}" in stdout
    assert _port_free(mlflow_port) and _port_free(dashboard_port)
    assert not _answers(mlflow_url) and not _answers(dashboard_url)


@pytest.mark.slow
def test_when_a_server_dies_both_stop_and_the_exit_is_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    from nas_scaling.report import ui

    monkeypatch.setattr(ui, "_dashboard_command", lambda: [sys.executable, "-c", "import sys; sys.exit(3)"])
    mlflow_port = _free_port()
    storage = tmp_path / "empty" / "studies.db"
    code = ui.serve_ui(storage=f"sqlite:///{storage}", tracking_uri=f"sqlite:///{tmp_path}/mlruns/mlflow.db",
                       mlflow_port=mlflow_port, dashboard_port=_free_port())
    assert code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Optuna dashboard exited with code 3" in err
    assert _port_free(mlflow_port)
    with sqlite3.connect(storage) as db:  # Optuna's tables were created for optuna-dashboard
        assert ("studies",) in db.execute("select name from sqlite_master where type = 'table'").fetchall()
