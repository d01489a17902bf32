"""User mistakes: one line naming the value, exit code 2, no traceback (table-driven)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nas_scaling.cli.main import main
from nas_scaling.spec import spec_to_yaml
from nas_scaling.zoo import get_spec
from tests.cli.one_line import one_line_error


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


@pytest.mark.parametrize(("name", "expect"), SPEC_CASES)
@pytest.mark.parametrize("command", ["show", "profile"])
def test_bad_spec_files(
    capsys: pytest.CaptureFixture[str], spec_files: dict[str, Path], name: str, expect: str, command: str
) -> None:
    one_line_error(capsys, [command, str(spec_files[name])], expect)


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
    one_line_error(capsys, argv, expect)


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


def test_the_grid_driver_does_not_import_torchvision_without_prescreening() -> None:
    """Only trials build networks; importing torchvision (torch._dynamo with it) costs the driver 1.5-3 s."""
    code = ("import sys, argparse; import nas_scaling.cli.grid, nas_scaling.experiments.grid, "
            "nas_scaling.experiments.plots; from nas_scaling.cli.proxies import prescreen_options; "
            "prescreen_options(argparse.Namespace(prescreen=None, proxy=None, train_top=None), default_top=None); "
            "print('torchvision' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"


# --- search: options and space files ----------------------------------------------------------------

GOOD_SPACE = """\
name: tiny
reference: efficientnet_tiny
resolution: 16
width: {low: 0.75, high: 1.0, step: 0.25}
stem: {channels: [8, 16], kernel: 3, stride: 1, act: silu}
stages:
  - kinds: [mbconv, conv]
    stride: 2
    mbconv: {channels: [16, 24], expand: [1, 3], se: 0.0}
    conv: {channels: [16, 32]}
head: {conv: null, dropout: 0.0}
"""


@pytest.fixture
def space_files(tmp_path: Path) -> dict[str, str]:
    """Space files (good and broken, each one mistake) and a plain file, by name; paths as strings."""
    texts = {
        "good": GOOD_SPACE,
        "unknown_kind": GOOD_SPACE.replace("kinds: [mbconv, conv]", "kinds: [mbconv, capsule]"),
        "low_high": GOOD_SPACE.replace("conv: {channels: [16, 32]}", "conv: {channels: {low: 32, high: 16}}"),
        "unknown_key": GOOD_SPACE + "colour: blue\n",
        "bad_dist_field": GOOD_SPACE.replace("step: 0.25}", "stpe: 0.25}"),
        "stride3": GOOD_SPACE.replace("stride: 2", "stride: 3"),
        "yaml_error": GOOD_SPACE.replace("stages:", "stages: [", 1),
        "not_a_mapping": "- just\n- a list\n",
        "no_reference": GOOD_SPACE.replace("reference: efficientnet_tiny\n", ""),
        "missing_reference": GOOD_SPACE.replace("reference: efficientnet_tiny", "reference: nowhere/ref.yaml"),
        "continuous": GOOD_SPACE.replace(", step: 0.25}", "}"),
    }
    out = {}
    for name, text in texts.items():
        assert text != GOOD_SPACE or name == "good"
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        out[name] = str(path)
    (tmp_path / "a_file").write_text("not a folder\n")
    out["a_file"] = str(tmp_path / "a_file")
    out["tmp"] = str(tmp_path)
    return out


def _search(*options: str, space: str = "{good}") -> list[str]:
    return ["search", "--space", space, "--budget", "2xFLOPS", "--executor", "local", *options]


SEARCH_CASES = [
    (["search", "--space", "nope.yaml", "--budget", "2xFLOPS"], "search space file 'nope.yaml' does not exist"),
    (["search", "--space", "{tmp}", "--budget", "2xFLOPS"], "search space file '{tmp}'"),
    (["search", "--budget", "2xFLOPS"], "the following arguments are required: --space"),
    (_search(space="{unknown_kind}"), "stages[0].kinds: block kind must be one of conv, dwsep, mbconv, residual, "
     "fire, dense, inception, got 'capsule'"),
    (_search(space="{low_high}"), "stages[0].conv.channels: low must be <= high, got low=32 high=16"),
    (_search(space="{unknown_key}"), "colour: unknown key"),
    (_search(space="{bad_dist_field}"), "width: unknown distribution field 'stpe'"),
    (_search(space="{stride3}"), "stages[0].stride must be 1 or 2, got 3"),
    (_search(space="{yaml_error}"), "is not valid YAML"),
    (_search(space="{not_a_mapping}"), "a search space must be a mapping, got list"),
    (_search(space="{no_reference}"), "reference: a space must name the network"),
    (_search(space="{missing_reference}"), "nowhere/ref.yaml"),
    (_search("--trials", "0"), "argument --trials: must be a positive integer, got '0'"),
    (_search("--trials", "abc"), "argument --trials: must be a positive integer, got 'abc'"),
    (_search("--sampler", "bogus"), "argument --sampler: invalid choice: 'bogus'"),
    (["search", "--space", "{good}", "--budget", "2x"], "budget must look like"),
    (["search", "--space", "{good}", "--budget", "2xFOO"], "got '2xFOO'"),
    (["search", "--space", "{good}", "--budget", "0.001xFLOPS", "--executor", "local"],
     "budget 0.001xFLOPS"),
    (["search", "--space", "{good}", "--budget", "2xFLOPS,100params", "--executor", "local"],
     "is below the cheapest network of space 'tiny'"),
    (_search("--storage", "bogus://nowhere"), "cannot open study storage 'bogus://nowhere'"),
    (_search("--storage", "sqlite:///{a_file}/studies.db"), "sqlite:///{a_file}/studies.db"),
    (_search("--epochs", "0"), "argument --epochs: must be a positive integer, got '0'"),
    (_search("--epochs=-3"), "argument --epochs: must be a positive integer, got '-3'"),
    (_search("--batch-size", "0"), "argument --batch-size: must be a positive integer, got '0'"),
    (_search("--seed", "-1"), "argument --seed: must be an integer >= 0, got '-1'"),
    (_search("--gpus-per-trial", "-1"), "argument --gpus-per-trial: must be a number >= 0, got '-1'"),
    (_search("--gpus-per-trial", "abc"), "argument --gpus-per-trial: must be a number >= 0, got 'abc'"),
    (_search("--cpus-per-trial", "0"), "argument --cpus-per-trial: must be a positive number, got '0'"),
    (_search("--sampler", "grid", space="{continuous}"),
     "sampler 'grid' needs a finite space, but width is a continuous range"),
    (_search("--dataset", "imagenet22k"), "unknown dataset 'imagenet22k'"),
    (_search("--dataset", "imagefolder:/nonexistent/images"), "image folder /nonexistent/images does not exist"),
    (_search("--dataset", "cifar10", "--data-dir", "/nonexistent/data"), "/nonexistent/data"),
    (["search", "--space", "{good}", "--budget", "2xFLOPS", "--executor", "bogus"],
     "argument --executor: invalid choice: 'bogus'"),
]


@pytest.mark.parametrize(("argv", "expect"), SEARCH_CASES, ids=[" ".join(a) for a, _ in SEARCH_CASES])
def test_bad_search_options(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    space_files: dict[str, str], argv: list[str], expect: str,
) -> None:
    """Every case fails before any training (a few after loading the data), in a scratch folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    one_line_error(capsys, [a.format(**space_files) for a in argv], expect.format(**space_files))
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("argv", [
    _search("--budget", "0.001xFLOPS"),
    _search("--sampler", "grid", space="{continuous}"),
], ids=["budget nothing meets", "grid on a continuous space"])
def test_a_refused_search_leaves_no_study_behind(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    space_files: dict[str, str], argv: list[str],
) -> None:
    """A refused command must not create the study: the corrected command (same default study name, a
    fixed space file) would then be refused as 'made with space_sha256=...'."""
    import optuna

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    assert main([a.format(**space_files) for a in argv]) == 2
    capsys.readouterr()
    db = tmp_path / "studies" / "studies.db"
    assert not db.exists() or not optuna.get_all_study_names(f"sqlite:///{db}")


def test_search_with_an_unusable_tracking_uri_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    space_files: dict[str, str],
) -> None:
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{space_files['a_file']}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    one_line_error(capsys, _search(space=space_files["good"]), uri)
