"""``nas-scaling compare --reference imagenet``: published accuracies against our cost, no MLflow needed."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from nas_scaling.cli.main import main
from nas_scaling.report.compare import reference_table

B0_MACS = 385_814_752
B0_TOP1 = 0.77692  # torchvision EfficientNet_B0_Weights.IMAGENET1K_V1: acc@1 77.692


@pytest.fixture(autouse=True)
def no_mlflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point MLflow at a store that does not exist: the reference table must not need one."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/absent/mlflow.db")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _out(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 0
    return capsys.readouterr().out


def test_table_has_b0_with_published_top1_and_our_macs() -> None:
    table = reference_table("imagenet")
    b0 = table[table["name"] == "efficientnet_b0"].iloc[0]
    assert b0["top1"] == B0_TOP1 and b0["macs"] == B0_MACS and b0["family"] == "efficientnet"
    assert "lenet5" not in set(table["name"])
    assert list(table.columns) == ["name", "family", "top1", "top5", "macs", "params", "source"]


def test_json(capsys: pytest.CaptureFixture[str], no_mlflow: Path) -> None:
    rows = json.loads(_out(capsys, ["compare", "--reference", "imagenet", "--format", "json"]))
    by = {r["name"]: r for r in rows}
    assert by["efficientnet_b0"]["top1"] == B0_TOP1 and by["efficientnet_b0"]["macs"] == B0_MACS
    assert by["mobilenet_v1"]["top5"] is None
    assert not (no_mlflow / "absent").exists()  # no store created


def test_table_csv_and_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    text = _out(capsys, ["compare", "--reference", "imagenet"])
    assert "efficientnet_b0" in text and "385,814,752" in text
    rows = list(csv.DictReader(io.StringIO(_out(capsys, ["compare", "--reference", "imagenet", "--format", "csv"]))))
    b0 = next(r for r in rows if r["name"] == "efficientnet_b0")
    assert float(b0["top1"]) == B0_TOP1 and int(b0["macs"]) == B0_MACS
    md = _out(capsys, ["compare", "--reference", "imagenet", "--format", "markdown"])
    assert md.startswith("| name | family | top1 |") and "| efficientnet_b0 | efficientnet | 0.7769 |" in md


def test_plot_written(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    png = tmp_path / "plots" / "reference.png"
    _out(capsys, ["compare", "--reference", "imagenet", "--plot", str(png), "--format", "json"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_unknown_reference_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--reference", "cifar10"]) == 2
    assert "invalid choice: 'cifar10'" in capsys.readouterr().err
