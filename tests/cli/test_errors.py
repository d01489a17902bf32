"""User mistakes: one line naming the value, exit code 2, no traceback (table-driven)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nas_scaling.cli.main import main
from nas_scaling.spec import spec_to_yaml
from nas_scaling.zoo import get_spec


@pytest.fixture
def spec_files(tmp_path: Path) -> dict[str, Path]:
    good = spec_to_yaml(get_spec("efficientnet_tiny", num_classes=10, in_channels=1))
    files = {
        "unknown_kind": good.replace("kind: mbconv", "kind: capsule", 1),
        "negative_channels": good.replace("channels: 24", "channels: -24", 1),
        "stride3": good.replace("stride: 2", "stride: 3", 1),
        "missing_field": good.replace("channels: 24, ", "", 1),
        "yaml_error": good.replace("stages:", "stages: [", 1),
        "not_a_mapping": "- just\n- a list\n",
    }
    out = {}
    for name, text in files.items():
        assert text != good or name == "not_a_mapping"
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        out[name] = path
    return out


SPEC_CASES = [
    ("unknown_kind", "kind must be one of conv"),
    ("negative_channels", "channels must be a positive integer, got -24"),
    ("stride3", "must be one of 1, 2, got 3"),
    ("missing_field", "missing field 'channels'"),
    ("yaml_error", "not valid YAML"),
    ("not_a_mapping", "a spec must be a mapping"),
]


def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str], expect: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, err
    assert "Traceback" not in err
    assert err.startswith("nas-scaling: error: ")
    assert expect in err, err


@pytest.mark.parametrize(("name", "expect"), SPEC_CASES)
@pytest.mark.parametrize("command", ["show", "profile"])
def test_bad_spec_files(
    capsys: pytest.CaptureFixture[str], spec_files: dict[str, Path], name: str, expect: str, command: str
) -> None:
    _one_line_error(capsys, [command, str(spec_files[name])], expect)


CASES = [
    (["show", "no_such_net"], "unknown architecture 'no_such_net'"),
    (["show", "missing/file.yaml"], "spec file not found"),
    (["show", "efficientnet_b0", "--resolution", "0"], "must be a positive integer, got '0'"),
    (["show", "lenet5", "--resolution", "8"], "resolution 8 is too small for lenet5"),
    (["zoo", "--format", "xml"], "invalid choice: 'xml'"),
    (["profile", "efficientnet_b0", "--budget", "2x"], "budget must look like"),
    (["profile", "efficientnet_b0", "--budget=-1MFLOPS"], "got '-1MFLOPS'"),
    (["profile", "efficientnet_b0", "--budget", "2xFOO"], "budget must look like"),
    (["profile", "efficientnet_b0", "--budget", ""], "budget must look like"),
    (["grid", "--budget", "2x"], "budget must look like"),
    (["grid", "--budget", "2xFLOPS", "--step", "0"], "must be a positive number, got '0'"),
    (["grid", "--budget", "2xFLOPS", "--step=-0.1"], "must be a positive number, got '-0.1'"),
    (["grid", "--budget", "0.5xFLOPS"], "must be at least 1x"),
    (["grid", "--budget", "1.0001xFLOPS,1Kparams"], "no (alpha, beta, gamma)"),
    (["grid", "--budget", "2xFLOPS", "--tolerance", "1.5"], "must be a number in (0, 1)"),
    (["grid", "--budget", "2xFLOPS", "--seeds", "0"], "must be a positive integer, got '0'"),
    (["grid", "--budget", "2xFLOPS", "--epochs=-3"], "must be a positive integer, got '-3'"),
    (["grid", "--budget", "2xFLOPS", "--dataset", "imagenet22k"], "unknown dataset 'imagenet22k'"),
    (["grid", "--budget", "2xFLOPS", "--executor", "spark"], "invalid choice: 'spark'"),
    (["grid", "--budget", "2xFLOPS", "--base", "nope.yaml"], "spec file not found"),
    (["grid", "--budget", "2xFLOPS", "--phi-max", "0"], "must be a positive integer"),
    (["grid"], "the following arguments are required: --budget"),
    (["scale", "efficientnet_b0", "--phi-max", "0"], "must be an integer from 1 to 20"),
    (["scale", "efficientnet_b0", "--phi-max", "3", "--alpha", "0.5"], "must be a number >= 1"),
    (["scale", "efficientnet_b0", "--phi-max", "9", "--published"], "--published has phi 0..7 only"),
    (["train", "lenet5", "--epochs", "0"], "must be a positive integer, got '0'"),
    (["train", "lenet5", "--dataset", "nope"], "unknown dataset 'nope'"),
    (["train", "lenet5", "--resolution", "4"], "resolution 4 is too small for lenet5"),
    (["train", "lenet5", "--dataset", "cifar10", "--data-dir", "/nonexistent/data"], "cifar10"),
    (["train", "lenet5", "--device", "tpu"], "device must be"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
]


@pytest.mark.parametrize(("argv", "expect"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_options(capsys: pytest.CaptureFixture[str], argv: list[str], expect: str) -> None:
    _one_line_error(capsys, argv, expect)


def test_console_script_error_has_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "nas_scaling", "profile", "efficientnet_b0", "--budget", "2xFOO"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "budget must look like" in proc.stderr


def test_help_does_not_import_torch() -> None:
    code = "import sys; from nas_scaling.cli.main import build_parser; build_parser(); print('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"
