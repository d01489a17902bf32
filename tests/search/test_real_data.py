"""Inputs follow the data: grid, search, baseline and proxies on a colour ImageFolder (generated here)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nas_scaling.cli.main import main
from nas_scaling.spec import NetworkSpec, save_spec
from nas_scaling.tracking import MlflowTracker
from tests.cli.one_line import one_line_error


def _colour_folder(root: Path, *, per_class: int = 12, side: int = 16) -> Path:
    """Three classes of noisy colour images (each class its own hue), train and val splits."""
    rng = np.random.default_rng(0)
    for split, count in (("train", per_class), ("val", per_class // 2)):
        for c, hue in enumerate(((200, 40, 40), (40, 200, 40), (40, 40, 200))):
            folder = root / split / f"class{c}"
            folder.mkdir(parents=True)
            for i in range(count):
                noise = rng.integers(-40, 40, size=(side, side, 3))
                pixels = np.clip(np.array(hue) + noise, 0, 255).astype(np.uint8)
                Image.fromarray(pixels, "RGB").save(folder / f"{i}.png")
    return root


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    return _colour_folder(tmp_path / "my-photos")


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _runs(store: Path, kind: str) -> list:
    return MlflowTracker(f"sqlite:///{store}/mlflow.db", experiment="nas-scaling").find_runs({"kind": kind})


@pytest.mark.slow
def test_grid_on_colour_photos_trains_three_channel_networks_at_the_asked_resolution(
    photos: Path, store: Path, micro_base: NetworkSpec, capsys: pytest.CaptureFixture[str]
) -> None:
    base = save_spec(micro_base, store / "micro.yaml")  # written for 1-channel 16 px digits
    argv = ["grid", "--budget", "2xFLOPS", "--base", str(base), "--dataset", f"imagefolder:{photos}",
            "--resolution", "12", "--executor", "local", "--max-candidates", "2", "--epochs", "1", "--no-progress",
            "--storage", f"sqlite:///{store}/studies.db", "--subset", "0.5", "--format", "json"]
    assert main(argv) == 0
    out = capsys.readouterr()
    assert "micro: stem adapted from 1 to 3 input channels" in out.err
    assert "micro: resolution 16 -> 12 (--resolution)" in out.err
    assert "inputs 3x12x12 from imagefolder:my-photos (native 16x16)" in out.err
    assert "warning: inputs are downsampled from the native 16x16 to 12x12" in out.err
    result = json.loads(out.out)
    assert result["study"] == "grid-micro-2xFLOPS-my-photos"  # the folder's own name, not its path
    children = _runs(store, "grid")
    assert len(children) == 3  # 2 candidates and the base, the control
    for run in children:
        resolution = int(run.params["resolution"])
        assert f"@{resolution}x3" in run.params["arch"] and run.params["in_channels"] == "3"
        assert resolution >= 12 and run.params["subset"] == "0.5"
    [parent] = _runs(store, "grid-parent")
    assert parent.params["train_augment"] == "basic" and parent.params["resolution"] == "12"
    best = (store / "runs" / result["study"] / "best.yaml").read_text()
    assert "in_channels: 3" in best

    # The handcrafted baselines on the same inputs as that study
    assert main(["baseline", "lenet5", "--like", result["study"], "--resolution", "32", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["in_channels"] == 3 and rows[0]["resolution"] == 32
    [lenet] = _runs(store, "handcrafted")
    assert lenet.params["dataset"] == f"imagefolder:{photos}" and lenet.params["train_augment"] == "basic"
    assert lenet.params["subset"] == "0.5" and "@32x3" in lenet.params["arch"]


@pytest.mark.slow
def test_search_on_colour_photos_records_three_channel_networks(
    photos: Path, store: Path, micro_space: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["search", "--space", str(micro_space), "--budget", "2xFLOPS", "--trials", "2", "--dataset",
            f"imagefolder:{photos}", "--executor", "local", "--epochs", "1", "--no-progress", "--storage",
            f"sqlite:///{store}/studies.db"]
    assert main(argv) == 0
    out = capsys.readouterr()
    assert "inputs 3x16x16 from imagefolder:my-photos (native 16x16)" in out.err
    assert f"nas-scaling train runs/search-micro-2xFLOPS-tpe-my-photos/best.yaml --dataset imagefolder:{photos} " \
           "--recipe full" in out.out
    found = _runs(store, "found")
    assert found and all("@16x3" in r.params["arch"] and r.params["resolution"] == "16" for r in found)
    assert "in_channels: 3" in (store / "runs" / "search-micro-2xFLOPS-tpe-my-photos" / "best.yaml").read_text()


@pytest.mark.parametrize(("argv", "expect"), [
    (["grid", "--budget", "2xFLOPS", "--resolution", "0"], "--resolution: must be a positive integer, got '0'"),
    (["grid", "--budget", "2xFLOPS", "--subset", "0"], "--subset: must be a fraction in (0, 1], got '0'"),
    (["search", "--space", "x.yaml", "--budget", "2xFLOPS", "--subset", "1.5"], "got '1.5'"),
    (["proxies", "--space", "x.yaml", "--samples", "4", "--train-top", "3", "--augment", "bogus"],
     "invalid choice: 'bogus'"),
    (["baseline", "lenet5", "--augment", "bogus"], "invalid choice: 'bogus'"),
    (["baseline", "lenet5", "--like", "no-such-study"], "no study 'no-such-study' in the MLflow store"),
    (["grid", "--budget", "2xFLOPS", "--base", "lenet5", "--resolution", "8"], "--resolution 8 does not fit lenet5"),
])
def test_bad_real_data_options_are_one_line(
    store: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expect: str
) -> None:
    one_line_error(capsys, argv, expect)
    assert not (store / "studies").exists()


def test_a_corrupt_photo_is_named_in_one_line(photos: Path, store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = photos / "train" / "class1" / "3.png"
    bad.write_bytes(b"not a png")
    one_line_error(capsys, ["grid", "--budget", "2xFLOPS", "--dataset", f"imagefolder:{photos}"],
                   f"cannot read image {bad}")
