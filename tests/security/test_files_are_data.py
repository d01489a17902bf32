"""Files are data, never code: YAML through safe loading, weights with ``weights_only=True``, no pickle of
user files anywhere in the package, and the web UIs on 127.0.0.1 unless told otherwise.

Each payload would create a marker file if it ran; the tests check the refusal *and* that nothing ran.
"""

from __future__ import annotations

import ast
import inspect
import os
import socket
from pathlib import Path

import pytest
import torch
from torch import nn

import nas_scaling
from nas_scaling.cli.main import build_parser
from nas_scaling.errors import UserError
from nas_scaling.spec import spec_to_yaml
from nas_scaling.training import load_weights, save_checkpoint
from nas_scaling.zoo import get_spec
from tests.cli.one_line import one_line_error

PACKAGE = Path(nas_scaling.__file__).parent


def _payload(marker: Path) -> str:
    """A YAML node that, loaded unsafely, runs a shell command creating ``marker``."""
    return f"!!python/object/apply:os.system ['touch {marker}']"


@pytest.fixture
def evil_spec(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "pwned-spec"
    good = spec_to_yaml(get_spec("lenet5"))
    text = good.replace("name: lenet5", f"name: {_payload(marker)}", 1)
    assert text != good
    path = tmp_path / "evil.yaml"
    path.write_text(text)
    return path, marker


@pytest.mark.parametrize("argv", [
    ["show", "{spec}"],
    ["profile", "{spec}"],
    ["train", "{spec}", "--epochs", "1"],
    ["grid", "--budget", "2xFLOPS", "--base", "{spec}", "--executor", "local"],
], ids=["show", "profile", "train", "grid --base"])
def test_python_tag_in_a_spec_file_is_refused(
    capsys: pytest.CaptureFixture[str], evil_spec: tuple[Path, Path], argv: list[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, marker = evil_spec
    monkeypatch.chdir(tmp_path)
    one_line_error(capsys, [a.format(spec=path) for a in argv], "could not determine a constructor for the tag")
    assert not marker.exists(), "the YAML payload ran"


def test_python_object_tag_in_a_spec_file_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "object.yaml"
    path.write_text("!!python/object:nas_scaling.spec.NetworkSpec {name: x}\n")
    one_line_error(capsys, ["show", str(path)], "python/object:nas_scaling.spec.NetworkSpec")


@pytest.mark.parametrize("where", ["top", "stage"])
def test_python_tag_in_a_space_file_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    marker = tmp_path / "pwned-space"
    value = _payload(marker)
    space = tmp_path / "space.yaml"
    space.write_text(
        f"name: {value if where == 'top' else 'evil'}\nreference: efficientnet_tiny\n"
        f"stages:\n  - kinds: [mbconv]\n    mbconv: {{channels: {value if where == 'stage' else 16}}}\n"
    )
    monkeypatch.chdir(tmp_path)
    one_line_error(capsys, ["search", "--space", str(space), "--budget", "2xFLOPS", "--executor", "local"],
                    "is not valid YAML: could not determine a constructor for the tag")
    assert not marker.exists(), "the YAML payload ran"
    assert not (tmp_path / "studies").exists(), "the search started before the space was read"


class _Exploit:
    """Pickles to a call of ``os.system`` (what a hostile weights.pt would hold)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def _model() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))


def test_weights_with_a_pickled_call_are_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned-weights"
    weights = tmp_path / "weights.pt"
    torch.save({"0.weight": _Exploit(marker)}, weights)
    with pytest.raises(UserError, match=r"is not a readable weights file: Weights only load failed") as info:
        load_weights(weights, _model())
    assert "\n" not in str(info.value)
    assert not marker.exists(), "unpickling the weights ran code"


def test_saved_weights_still_load(tmp_path: Path) -> None:
    """The safe path loads what ``save_checkpoint`` writes (plain tensors)."""
    model = _model()
    path = save_checkpoint(tmp_path / "weights.pt", model)
    again = load_weights(path, _model())
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values(),
                                                    strict=True))


# --- the whole package, read as source ------------------------------------------------------------

UNSAFE_CALLS = {
    "pickle.load", "pickle.loads", "pickle.Unpickler", "cPickle.load", "cPickle.loads", "dill.load", "dill.loads",
    "joblib.load", "marshal.load", "marshal.loads", "shelve.open", "pandas.read_pickle", "pd.read_pickle",
    "yaml.load", "yaml.load_all", "yaml.unsafe_load", "yaml.unsafe_load_all", "yaml.full_load",
    "yaml.full_load_all", "eval", "exec",
}
UNSAFE_IMPORTS = {"pickle": {"load", "loads", "Unpickler"}, "yaml": {"load", "load_all", "unsafe_load", "full_load"},
                  "dill": {"load", "loads"}, "marshal": {"load", "loads"}, "torch": {"load"}}


def _sources() -> list[Path]:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 20
    return files


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_true(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _unsafe(source: str, label: str) -> list[str]:
    """``label:line: what`` for every unsafe load in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source, filename=label)):
        where = f"{label}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.ImportFrom) and node.module in UNSAFE_IMPORTS:
            bad = {a.name for a in node.names} & UNSAFE_IMPORTS[node.module]
            if bad:
                found.append(f"{where}: from {node.module} import {', '.join(sorted(bad))}")
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        if name in UNSAFE_CALLS:
            loader = _keyword(node, "Loader")
            if name.startswith("yaml.") and loader is not None and "SafeLoader" in ast.unparse(loader):
                continue
            found.append(f"{where}: {name}(...)")
        elif name == "torch.load" or name.endswith(".torch.load"):
            if not _is_true(_keyword(node, "weights_only")):
                found.append(f"{where}: torch.load(...) without weights_only=True")
        elif name in ("np.load", "numpy.load") and _is_true(_keyword(node, "allow_pickle")):
            found.append(f"{where}: {name}(..., allow_pickle=True)")
    return found


def test_no_unsafe_deserialization_in_the_package() -> None:
    found = [line for path in _sources()
             for line in _unsafe(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE.parent)))]
    assert not found, "unsafe loading in nas_scaling:\n" + "\n".join(found)


def test_the_source_check_catches_what_it_should() -> None:
    """The checker itself: each of these lines is reported, the safe ones are not."""
    bad = ["pickle.load(f)", "yaml.load(text)", "yaml.load(text, Loader=yaml.FullLoader)", "yaml.unsafe_load(t)",
           "torch.load(p)", "torch.load(p, weights_only=False)", "np.load(p, allow_pickle=True)"]
    good = ["yaml.safe_load(t)", "yaml.load(t, Loader=yaml.SafeLoader)", "torch.load(p, weights_only=True)",
            "np.load(p)", "json.loads(t)"]
    found = _unsafe("\n".join(["def f(f, t, p, text):", *(f"    {line}" for line in bad + good)]), "sample.py")
    assert len(found) == len(bad), found
    assert [int(line.split(":")[1]) for line in found] == list(range(2, 2 + len(bad)))


# --- servers ----------------------------------------------------------------------------------------


def test_ui_binds_loopback_by_default() -> None:
    from nas_scaling.report.ui import serve_ui

    assert inspect.signature(serve_ui).parameters["host"].default == "127.0.0.1"
    args = build_parser().parse_args(["ui"])
    assert args.host == "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Gone:
    """A stand-in for a server process that has already exited."""

    pid = 0

    def poll(self) -> int:
        return 0


def test_ui_starts_both_servers_on_loopback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command lines ``nas-scaling ui`` gives the MLflow server and optuna-dashboard, defaults only
    (nothing is started: ``_start`` records the command line, ``stop_servers`` has nothing to stop)."""
    from nas_scaling.report import ui

    started: list[list[str]] = []

    class Started(Exception):
        pass

    def fake_start(name: str, cmd: list[str], url: str, logdir: Path) -> ui.Server:
        started.append(list(cmd))
        if len(started) == 2:
            raise Started
        return ui.Server(name, url, _Gone(), logdir / "log")  # type: ignore[arg-type]

    monkeypatch.setattr(ui, "_start", fake_start)
    monkeypatch.setattr(ui, "stop_servers", lambda servers, **kw: None)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(Started):
        ui.serve_ui(storage=f"sqlite:///{tmp_path}/studies.db", tracking_uri=f"sqlite:///{tmp_path}/mlflow.db",
                    mlflow_port=_free_port(), dashboard_port=_free_port())
    assert len(started) == 2
    for cmd in started:
        assert cmd[cmd.index("--host") + 1] == "127.0.0.1", cmd
        assert "0.0.0.0" not in cmd and "::" not in cmd


def test_no_server_in_the_package_binds_all_interfaces() -> None:
    """Every ``--host`` option defaults to loopback, and no ``host=`` default is 0.0.0.0 or ``::``."""
    found = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.arguments) and node.defaults:
                for arg, default in zip(node.args[-len(node.defaults):], node.defaults, strict=True):
                    if arg.arg == "host" and isinstance(default, ast.Constant) and default.value in ("0.0.0.0", "::"):
                        found.append(f"{path.name}:{default.lineno}: host={default.value!r}")
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("add_argument"):
                flags = [a.value for a in node.args if isinstance(a, ast.Constant)]
                default = _keyword(node, "default")
                if "--host" in flags and not (isinstance(default, ast.Constant) and default.value == "127.0.0.1"):
                    shown = ast.unparse(default) if default is not None else "None"
                    found.append(f"{path.name}:{node.lineno}: --host defaults to {shown}")
    assert not found, found
