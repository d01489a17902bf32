"""``nas-scaling baseline`` end to end: real training on digits, a real MLflow run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient

from nas_scaling.cli.baseline import resolve_spec
from nas_scaling.cli.main import main


def test_baseline_logs_a_handcrafted_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    assert main(["baseline", "lenet5", "--epochs", "1", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["lenet5"] and rows[0]["status"] == "completed"

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("nas-scaling")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], "tags.kind = 'handcrafted'")
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED" and run.info.run_id == rows[0]["run_id"]
    params = run.data.params
    assert params["name"] == "lenet5" and params["dataset"] == "digits" and params["seeds"] == "1"
    assert params["resolution"] == "32" and params["arch"]
    metrics = run.data.metrics
    assert set(metrics) >= {"val_top1", "val_top1_std", "val_top5", "macs", "params", "train_seconds"}
    for name in ("val_top1", "val_top1_std", "val_top5"):
        assert 0.0 <= metrics[name] <= 1.0
    assert metrics["params"] == 61_706 and metrics["macs"] > 0
    artifacts = [a.path for a in client.list_artifacts(run.info.run_id)]
    assert artifacts == ["spec.yaml"]


def test_digits_use_small_forms_of_large_entries() -> None:
    assert resolve_spec("resnet18", dataset="digits", small=False).resolution == 32
    assert resolve_spec("resnet18", dataset="cifar10", small=False).resolution == 224
    assert resolve_spec("resnet18", dataset="cifar10", small=True).resolution == 32
    assert resolve_spec("lenet5", dataset="digits", small=False).resolution == 32


def test_baseline_unknown_arch_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["baseline", "nosuchnet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nosuchnet" in err
