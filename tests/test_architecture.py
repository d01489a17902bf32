"""The architecture as checks (ARCHITECTURE.md): the import-linter contracts hold, and library code
outside ``cli/`` sets no process-wide state (logging levels, warning filters, verbosity, the
matplotlib backend, environment variables)."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "nas_scaling"


def test_import_contracts_hold() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    if not lint_imports.exists():
        found = shutil.which("lint-imports")
        if found is None:
            pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
        lint_imports = Path(found)
    done = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    broken = done.stdout[done.stdout.find("Broken contracts"):] if "Broken contracts" in done.stdout else done.stdout
    assert done.returncode == 0, broken + done.stderr


def _global_state_calls(path: Path) -> list[str]:
    """``file:line what`` for each call that changes process-wide state in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        what = ""
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name, owner = node.func.attr, ast.unparse(node.func.value)
            if name in ("setLevel", "filterwarnings", "set_verbosity", "basicConfig", "disable"):
                what = f"{owner}.{name}(...)"
            elif name == "use" and owner == "matplotlib":
                what = "matplotlib.use(...)"
            elif owner == "os.environ" and name in ("setdefault", "__setitem__"):
                what = f"os.environ.{name}(...)"
            elif owner == "os" and name == "putenv":
                what = "os.putenv(...)"
        elif isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Subscript) and ast.unparse(t.value) == "os.environ" for t in targets):
                what = "os.environ[...] = ..."
        if what:
            found.append(f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)} {what}")
    return found


def test_library_code_sets_no_global_state() -> None:
    """Settings of that kind belong to the CLI (cli/main.py); a library call that needs a local effect
    scopes it (warnings.catch_warnings, a logging filter added and removed)."""
    found = [hit for path in sorted(PACKAGE.rglob("*.py")) if "cli" not in path.relative_to(PACKAGE).parts
             for hit in _global_state_calls(path)]
    assert not found, "\n".join(found)


def test_a_ray_run_leaves_environment_and_scratch_as_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ray Tune's settings hold for one run only (a value the user set wins) and its scratch folder goes."""
    from nas_scaling.search import ray_executor

    first, second, *_ = ray_executor.TUNE_ENVIRONMENT
    monkeypatch.setenv(second, "users-choice")
    monkeypatch.delenv(first, raising=False)
    with ray_executor._tune_run() as storage:
        assert os.environ[first] == ray_executor.TUNE_ENVIRONMENT[first]
        assert os.environ[second] == "users-choice"
        assert Path(storage).is_dir()
        (Path(storage) / "experiment").mkdir()
    assert first not in os.environ
    assert os.environ[second] == "users-choice"
    assert not Path(storage).exists()
