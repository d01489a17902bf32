"""docker/check.sh, the end-to-end check of the images: run for real where a Docker engine answers (slow,
minutes to an hour; not in `.ci/run`'s reach unless that machine has Docker), and without one its override
file, its host-networking rule and the checks of its helper docker/check.py on made-up records."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
CHECK_SH = DOCKER / "check.sh"
RESET = object()


class _ComposeLoader(yaml.SafeLoader):
    """YAML as compose reads it: ``!reset`` marks a value the override drops."""


_ComposeLoader.add_constructor("!reset", lambda loader, node: RESET)


def _load(path: Path) -> dict[str, Any]:
    data = yaml.load(path.read_text(), Loader=_ComposeLoader)
    assert isinstance(data, dict)
    return data


def _helper() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docker_check", DOCKER / "check.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the end-to-end run --------------------------------------------------------------------------------


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@pytest.mark.slow
def test_check_script_runs_end_to_end(tmp_path: Path) -> None:
    """Opt-in (``NAS_SCALING_DOCKER_CHECK=1``): it builds a 7 GB image and takes 15-25 minutes."""
    if os.environ.get("NAS_SCALING_DOCKER_CHECK") != "1":
        pytest.skip("set NAS_SCALING_DOCKER_CHECK=1 to build the image and run docker/check.sh")
    if not _docker_answers():
        pytest.skip("no Docker engine answers `docker info`")
    out = subprocess.run([str(CHECK_SH)], env={**os.environ, "CHECK_LOGS": str(tmp_path)}, capture_output=True,
                         text=True, timeout=3 * 3600)
    assert out.returncode == 0, f"{out.stdout[-6000:]}\n{out.stderr[-6000:]}"
    assert "check passed: base build grid stack" in out.stdout


# --- without an engine: the files the check uses ----------------------------------------------------------


def test_check_override_puts_every_service_on_the_host_network() -> None:
    compose, override = _load(DOCKER / "compose.yaml"), _load(DOCKER / "compose.check.yaml")
    assert set(override["services"]) == set(compose["services"])
    names = set(compose["services"])
    for name, service in override["services"].items():
        assert service["network_mode"] == "host", name
        hosts = dict(h.split(":", 1) for h in service["extra_hosts"])
        assert hosts == dict.fromkeys(names - {"ray-worker", "runner"}, "127.0.0.1"), name
        for key in ("ports", "expose"):  # meaningless under host networking: dropped where compose.yaml has them
            assert (key in compose["services"][name]) == (service.get(key) is RESET), (name, key)
    assert override["services"]["ray-worker"]["deploy"] is RESET  # no GPU reservation on a CPU host


def test_check_override_changes_the_commands_only_where_it_says() -> None:
    """MLflow and optuna-dashboard listen on 127.0.0.1 and the runner asks for no GPU; the rest of each command
    is compose.yaml's, and the head's command and the worker's script are not replaced."""
    compose, override = _load(DOCKER / "compose.yaml")["services"], _load(DOCKER / "compose.check.yaml")["services"]

    def words(services: dict[str, Any], name: str) -> list[str]:
        return [str(w) for w in services[name]["command"]]

    for name in ("mlflow", "optuna-dashboard"):
        assert "--host=0.0.0.0" in words(compose, name)
        assert words(override, name) == [("--host=127.0.0.1" if w == "--host=0.0.0.0" else w)
                                         for w in words(compose, name)], name
    default = words(compose, "runner")
    i = default.index("--gpus-per-trial") + 1
    assert float(default[i]) > 0
    assert words(override, "runner") == [*default[:i], "0", *default[i + 1:]]
    assert all("entrypoint" not in s for s in override.values())
    assert "command" not in override["ray-head"] and "command" not in override["ray-worker"]


def test_check_script_uses_host_networking_for_every_build_and_container() -> None:
    text = CHECK_SH.read_text()
    commands = re.findall(r"(?:^\s*(?:if ! )?|\$\()(docker (?:build|run)\b[^\n]*)", text, re.M)
    assert len(commands) == 5  # the Python base, its check, the image, its versions, the grid
    for command in commands:
        assert "--network host" in command, command
    # compose only as COMPOSE: compose.yaml with the host-networking override, never alone
    assert re.findall(r"docker compose (?!version)\S+", text) == ["docker compose -p"]
    assert "-f docker/compose.yaml -f docker/compose.check.yaml" in text


def test_check_script_passes_shellcheck() -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed")
    out = subprocess.run(["shellcheck", str(CHECK_SH)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout


def test_check_script_refuses_an_unknown_step() -> None:
    out = subprocess.run([str(CHECK_SH), "nonsense"], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "CHECK_LOGS": "/dev/null/none"})
    assert out.returncode == 2 and "usage:" in out.stderr


# --- the helper's checks --------------------------------------------------------------------------------


def _grid(**changes: Any) -> dict[str, Any]:
    def point(alpha: float, beta: float, factor: float, top1: float) -> dict[str, Any]:
        return {"alpha": alpha, "beta": beta, "gamma": 1.0, "factor_real": factor, "params": 1000,
                "status": "completed", "val_top1_mean": top1}
    result = {"study": "grid-x", "budget": "2xFLOPS", "budget_reading": "at most", "target_factor": 2.0,
              "trained": 3, "restored": 0, "failed": 0, "best": {"alpha": 1.0, "beta": 1.35, "gamma": 1.0},
              "base": point(1.0, 1.0, 1.0, 0.9),
              "candidates": [point(1.0, 1.35, 1.9, 0.95), point(1.5, 1.1, 1.98, 0.93)]}
    return {**result, **changes}


def test_grid_result_accepts_a_full_grid_and_names_the_best(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "grid.json"
    path.write_text(json.dumps(_grid()))
    assert _helper().main(["grid-result", str(path)]) == 0
    assert "best: alpha=1.0 beta=1.35 gamma=1.0, real FLOP factor 1.900" in capsys.readouterr().out


@pytest.mark.parametrize(("changes", "message"), [
    ({"failed": 1}, "1 of the grid's trainings failed"),
    ({"trained": 2}, "expected the 2 candidates and the base"),
    ({"target_factor": 1.95}, "above the budget"),
])
def test_grid_result_refuses_a_broken_grid(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           changes: dict[str, Any], message: str) -> None:
    path = tmp_path / "grid.json"
    path.write_text(json.dumps(_grid(**changes)))
    assert _helper().main(["grid-result", str(path)]) == 1
    assert message in capsys.readouterr().err


def _server(nodes: list[str], *, statuses: list[str] | None = None, dashboard_trials: int | None = None) -> Any:
    """Answers of MLflow's and optuna-dashboard's REST APIs for one study whose trials ran on ``nodes``."""
    statuses = statuses or ["FINISHED"] * len(nodes)
    runs = [{"info": {"status": "FINISHED"}, "data": {"tags": [{"key": "kind", "value": "grid-parent"}]}}]
    runs += [{"info": {"status": s}, "data": {"tags": [{"key": "kind", "value": "grid"}, {"key": "node", "value": n}]}}
             for n, s in zip(nodes, statuses, strict=True)]
    complete = len(nodes) if dashboard_trials is None else dashboard_trials
    answers = {
        "http://m/api/2.0/mlflow/experiments/search": {"experiments": [{"experiment_id": "1", "name": "nas-scaling"}]},
        "http://m/api/2.0/mlflow/runs/search": {"runs": runs},
        "http://d/api/studies": {"study_summaries": [{"study_id": 3, "study_name": "grid-x"}]},
        "http://d/api/studies/3": {"trials": [{"state": "Complete"}] * complete},
    }
    return lambda url, body=None: answers[url]


@pytest.mark.parametrize(("server", "message"), [
    (_server(["w", "w", "w"]), None),
    (_server(["w", "h"]), "not only on the ray-worker's node"),
    (_server(["w", "w"], statuses=["FINISHED", "FAILED"]), "not every trial run FINISHED"),
    (_server(["w", "w"], dashboard_trials=1), "1 complete trials in the study, 2 trial runs"),
])
def test_stack_check_reads_where_the_trials_ran(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                                server: Any, message: str | None) -> None:
    helper = _helper()
    monkeypatch.setattr(helper, "_http", server)
    code = helper.main(["stack", "--mlflow", "http://m", "--dashboard", "http://d", "--study", "grid-x",
                        "--worker-node", "w", "--other-node", "h", "--other-node", "r"])
    out = capsys.readouterr()
    if message is None:
        assert code == 0, out.err
        assert "trial runs: 3, status {'FINISHED': 3}, Ray node {'w': 3}" in out.out
    else:
        assert code == 1 and message in out.err


def test_pip_indexes_serves_local_indexes_and_constraints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    helper = _helper()
    (tmp_path / "mirror" / "simple").mkdir(parents=True)
    (tmp_path / "constraints.txt").write_text("torch<=2.14.1\n")
    serve = tmp_path / "serve"
    serve.mkdir()
    monkeypatch.setattr(helper, "_pip_config", lambda: {
        "extra-index-url": f"file://{tmp_path}/mirror/simple https://pypi.example/simple",
        "constraint": str(tmp_path / "constraints.txt")})
    args = helper.pip_indexes(serve, "http://127.0.0.1:9")
    assert args == ["PIP_EXTRA_INDEX_URL=http://127.0.0.1:9/l1/simple https://pypi.example/simple",
                    "PIP_CONSTRAINT=http://127.0.0.1:9/l2"]
    assert (serve / "l1").resolve() == tmp_path / "mirror"  # the index's parent: its pages link ../../files/
    assert (serve / "l2").read_text() == "torch<=2.14.1\n"
    monkeypatch.setattr(helper, "_pip_config", lambda: {"index-url": "https://pypi.example/simple"})
    assert helper.pip_indexes(tmp_path / "unused", "http://127.0.0.1:9") == []  # nothing local: PyPI as usual
