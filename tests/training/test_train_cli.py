"""``nas-scaling train``: recipes, augmentation, inputs from the data, MLflow run, --resume after Ctrl-C
or SIGKILL (the same result and the same MLflow run as an uninterrupted training), bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import torch

from nas_scaling.cli.main import main
from nas_scaling.tracking import MlflowTracker, RunRecord
from nas_scaling.training import TrainConfig, load_train_state
from tests.cli.one_line import one_line_error

TINY = """\
name: tiny
in_channels: 1
resolution: 8
num_classes: 10
stem:
- {kind: conv, repeats: 1, stride: 1, channels: 16, kernel: 3, act: relu}
stages:
- {kind: conv, repeats: 1, stride: 2, channels: 16, kernel: 3, act: relu}
head: {conv: null, act: relu, pool: avg, dropout: 0.1}
"""
"""Trains a digits epoch in well under a second; dropout so the global generator matters on resume."""


@pytest.fixture(scope="module")
def _shared_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One MLflow store for the module: making a store costs seconds (schema migrations)."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlruns')}/mlflow.db"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _shared_store: str) -> str:
    """A scratch folder as the working folder; the module's MLflow store, whose runs ``_runs`` filters
    to those made since the test began."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", _shared_store)
    (tmp_path / "tiny.yaml").write_text(TINY)
    _BEFORE[_shared_store] = {r.run_id for r in _all_runs(_shared_store)}
    return _shared_store


_BEFORE: dict[str, set[str]] = {}


def _all_runs(uri: str) -> list[RunRecord]:
    return MlflowTracker(uri, experiment="nas-scaling").find_runs({"kind": "train"})


def _runs(uri: str) -> list[RunRecord]:
    """The training runs this test made."""
    return [r for r in _all_runs(uri) if r.run_id not in _BEFORE.get(uri, set())]


def _train(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main(["train", *argv, "--threads", "1", "--format", "json"]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return out


def _interrupt_after(monkeypatch: pytest.MonkeyPatch, epoch: int) -> None:
    """Ctrl-C right after the checkpoint of ``epoch`` is written."""
    import nas_scaling.training as training

    original = training.save_train_state

    def save(path: Path, state: Any, meta: dict[str, Any]) -> Path:
        written = original(path, state, meta)
        if state.epoch == epoch:
            raise KeyboardInterrupt
        return written

    monkeypatch.setattr(training, "save_train_state", save)


def test_a_training_is_one_mlflow_run(capsys: pytest.CaptureFixture[str], store: str, tmp_path: Path) -> None:
    out = _train(capsys, "tiny.yaml", "--epochs", "2", "--output", "out")
    assert out["status"] == "completed" and out["recipe"] == "proxy" and out["in_channels"] == 1
    assert not (tmp_path / "out" / "checkpoint.pt").exists()  # removed once the weights are written
    (run,) = _runs(store)
    assert run.run_id == out["mlflow_run_id"] and run.status == "FINISHED"
    assert run.tags["kind"] == "train" and run.tags["dataset"] == "digits"
    params = run.params
    assert {"arch", "dataset", "recipe", "augment", "resolution", "in_channels"} <= set(params)
    assert {f.name for f in fields(TrainConfig)} <= set(params)
    assert (params["recipe"], params["augment"], params["epochs"], params["resolution"]) == ("proxy", "none", "2", "8")
    assert params["arch"].endswith("@8x1 ->10 sd0")
    assert run.metrics["test_top1"] == out["test_top1"] and run.metrics["val_top1"] == out["val_top1"]
    client = MlflowTracker(store, experiment="nas-scaling").client
    assert [m.step for m in client.get_metric_history(run.run_id, "val_loss")] == [1, 2]  # live, per epoch
    artifacts = {a.path for a in client.list_artifacts(run.run_id)}
    assert {"spec.yaml", "metrics.json"} <= artifacts


def test_full_recipe_and_augmentation_options(capsys: pytest.CaptureFixture[str], store: str) -> None:
    out = _train(capsys, "tiny.yaml", "--recipe", "full", "--epochs", "1", "--augment", "basic", "--batch-size",
                 "64", "--output", "full")
    assert out["status"] == "completed"
    (run,) = _runs(store)
    p = run.params
    assert (p["recipe"], p["optimizer"], p["lr"], p["momentum"], p["weight_decay"]) == (
        "full", "sgd", "0.05", "0.9", "0.0005")
    assert (p["augment"], p["flip"], p["ema_decay"], p["batch_size"]) == ("basic", "False", "0.999", "64")


def test_rank_n_accuracy_for_any_n(capsys: pytest.CaptureFixture[str], store: str) -> None:
    out = _train(capsys, "tiny.yaml", "--epochs", "1", "--topk", "1,3,10,5", "--output", "ranks")
    for split in ("val", "test"):
        assert out[f"{split}_top1"] <= out[f"{split}_top3"] <= out[f"{split}_top5"] <= out[f"{split}_top10"] == 1.0
    (run,) = _runs(store)
    assert run.metrics["val_top3"] == out["val_top3"] and run.metrics["test_top10"] == 1.0


BAD = [
    (["--topk", "1,11"], "--topk 11 exceeds the 10 classes of digits; use ranks from 1 to 10"),
    (["--topk", "1,x"], "argument --topk: must be a comma-list of positive integers, got '1,x'"),
    (["--augment", "bogus"], "argument --augment: invalid choice: 'bogus'"),
    (["--recipe", "bogus"], "argument --recipe: invalid choice: 'bogus'"),
    (["--resume"], "no checkpoint to resume from: out/checkpoint.pt does not exist"),
]


@pytest.mark.parametrize(("argv", "expect"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_options_are_one_line(
    capsys: pytest.CaptureFixture[str], store: str, tmp_path: Path, argv: list[str], expect: str
) -> None:
    one_line_error(capsys, ["train", "tiny.yaml", "--output", "out", *argv], expect)
    assert not _runs(store) and not (tmp_path / "out").exists()


def test_ctrl_c_then_resume_ends_as_an_uninterrupted_run(
    capsys: pytest.CaptureFixture[str], store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _train(capsys, "tiny.yaml", "--epochs", "3", "--augment", "basic", "--output", "whole")
    with monkeypatch.context() as patch:
        _interrupt_after(patch, 2)
        assert main(["train", "tiny.yaml", "--epochs", "3", "--augment", "basic", "--output", "cut", "--threads",
                     "1"]) == 130
    capsys.readouterr()
    checkpoint = tmp_path / "cut" / "checkpoint.pt"
    state, meta = load_train_state(checkpoint)
    assert state.epoch == 2
    (killed,) = [r for r in _runs(store) if r.run_id == meta["run_id"]]
    assert killed.status == "KILLED"
    saved = checkpoint.read_bytes()

    # bad resumptions: one line, exit 2, the checkpoint untouched and no new run
    refusals = [
        (["--epochs", "3", "--augment", "basic"], "cut holds an unfinished training; continue it with --resume"),
        (["--epochs", "3", "--augment", "basic", "--resume", "--recipe", "full"],
         "is of another training: recipe 'proxy' there, 'full' here"),
        (["--epochs", "4", "--augment", "basic", "--resume"], "is of another training: epochs 3 there, 4 here"),
        (["--epochs", "3", "--resume"], "is of another training: augment 'basic' there, 'none' here"),
    ]
    for extra, expect in refusals:
        one_line_error(capsys, ["train", "tiny.yaml", "--output", "cut", *extra], expect)
    other = tmp_path / "other.yaml"
    other.write_text(TINY.replace("stride: 2, channels: 16", "stride: 2, channels: 24"))
    one_line_error(capsys, ["train", str(other), "--output", "cut", "--epochs", "3", "--augment", "basic", "--resume"],
                   "is of another training: arch")
    assert checkpoint.read_bytes() == saved and len(_runs(store)) == 2

    resumed = _train(capsys, "tiny.yaml", "--epochs", "3", "--augment", "basic", "--output", "cut", "--resume")
    for key in ("val_top1", "val_top5", "test_top1", "test_top5", "epochs"):
        assert resumed[key] == expected[key], key
    whole = torch.load(tmp_path / "whole" / "weights.pt", weights_only=True)
    cut = torch.load(tmp_path / "cut" / "weights.pt", weights_only=True)
    assert all(torch.equal(whole[k], cut[k]) for k in whole)
    assert resumed["mlflow_run_id"] == meta["run_id"]
    (run,) = [r for r in _runs(store) if r.run_id == meta["run_id"]]
    assert run.status == "FINISHED" and len(_runs(store)) == 2
    assert not checkpoint.exists()


def _png_folder(root: Path, side: int = 12) -> Path:
    from PIL import Image

    generator = torch.Generator().manual_seed(0)
    for split, count in (("train", 16), ("val", 8)):
        for label in ("cat", "dog"):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(count):
                pixels = torch.randint(0, 256, (side, side, 3), generator=generator, dtype=torch.uint8)
                Image.fromarray(pixels.numpy()).save(folder / f"{i}.png")
    return root


def test_inputs_follow_an_rgb_image_folder(capsys: pytest.CaptureFixture[str], store: str, tmp_path: Path) -> None:
    folder = _png_folder(tmp_path / "pets")
    assert main(["train", "tiny.yaml", "--dataset", f"imagefolder:{folder}", "--epochs", "1", "--batch-size", "8",
                 "--output", "rgb", "--threads", "1", "--format", "json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["in_channels"] == 3 and out["resolution"] == 8
    assert "tiny: stem adapted from 1 to 3 input channels" in captured.err
    assert "inputs 3x8x8 from imagefolder:pets (native 12x12)" in captured.err
    assert "downsampled" in captured.err
    (run,) = _runs(store)
    assert (run.params["augment"], run.params["flip"], run.params["in_channels"]) == ("basic", "True", "3")
    assert "@8x3 ->2" in run.params["arch"]


KILL_AFTER = textwrap.dedent("""\
    import os, signal, sys
    import nas_scaling.training as training
    original = training.save_train_state
    def save(path, state, meta):
        written = original(path, state, meta)
        if state.epoch == int(os.environ["KILL_AFTER_EPOCH"]):
            os.kill(os.getpid(), signal.SIGKILL)
        return written
    training.save_train_state = save
    from nas_scaling.cli.main import main
    sys.exit(main(sys.argv[1:]))
""")


@pytest.mark.slow
def test_sigkill_then_resume_ends_as_an_uninterrupted_run(tmp_path: Path) -> None:
    """Real processes: one killed with SIGKILL right after its epoch-2 checkpoint, then the same command
    with --resume; another trains uninterrupted. Same weights and metrics, and one MLflow run, FINISHED."""
    (tmp_path / "tiny.yaml").write_text(TINY)
    argv = ["train", "tiny.yaml", "--epochs", "4", "--augment", "trivialaugment", "--device", "cpu",
            "--threads", "1", "--format", "json"]
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/killed/mlflow.db", "KILL_AFTER_EPOCH": "2"}
    killed = subprocess.run([sys.executable, "-c", KILL_AFTER, *argv, "--output", "cut"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr
    state, meta = load_train_state(tmp_path / "cut" / "checkpoint.pt")
    assert state.epoch == 2
    resumed = subprocess.run([sys.executable, "-m", "nas_scaling", *argv, "--output", "cut", "--resume"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming tiny after epoch 2 of 4 (MLflow run {meta['run_id']})" in resumed.stderr
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp_path}/whole/mlflow.db"
    whole = subprocess.run([sys.executable, "-m", "nas_scaling", *argv, "--output", "whole"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)
    assert whole.returncode == 0, whole.stderr

    a, b = json.loads(resumed.stdout), json.loads(whole.stdout)
    for key in ("status", "epochs", "val_top1", "val_top5", "test_top1", "test_top5"):
        assert a[key] == b[key], key
    weights_a = torch.load(tmp_path / "cut" / "weights.pt", weights_only=True)
    weights_b = torch.load(tmp_path / "whole" / "weights.pt", weights_only=True)
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_b)

    (run,) = MlflowTracker(f"sqlite:///{tmp_path}/killed/mlflow.db", experiment="nas-scaling").find_runs({})
    assert run.run_id == meta["run_id"] == a["mlflow_run_id"] and run.status == "FINISHED"
    client = MlflowTracker(f"sqlite:///{tmp_path}/killed/mlflow.db", experiment="nas-scaling").client
    history = client.get_metric_history(run.run_id, "val_top1")
    assert sorted({m.step for m in history}) == [1, 2, 3, 4]
