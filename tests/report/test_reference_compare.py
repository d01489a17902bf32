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
    assert list(table.columns) == ["name", "family", "top1", "top5", "protocol", "macs", "params", "source"]


def test_papers_figures_beside_torchvision_with_protocol_and_source() -> None:
    """Issue 16 item 5: where the paper's figure differs from torchvision's weights, both rows show,
    torchvision's (the plotted reference) first, each with its protocol and source."""
    table = reference_table("imagenet")
    rows = {name: part for name, part in table.groupby("name", sort=False)}
    alexnet = rows["alexnet"]
    assert list(alexnet["protocol"]) == ["single-crop", "10-crop"]
    assert alexnet["source"].iloc[0].startswith("torchvision AlexNet_Weights")
    assert (alexnet["top1"].iloc[1], alexnet["top5"].iloc[1]) == (0.593, 0.818)
    assert "Krizhevsky" in alexnet["source"].iloc[1] and "40.7%/18.2%" in alexnet["source"].iloc[1]
    vgg16 = rows["vgg16"]
    assert list(vgg16["protocol"]) == ["single-crop", "multi-crop+dense"]
    assert vgg16["top5"].iloc[1] == 0.928 and "Table 5" in vgg16["source"].iloc[1]
    assert list(rows["densenet121"]["protocol"]) == ["single-crop", "single-crop", "10-crop"]
    assert list(rows["squeezenet1_0"]["top1"]) == [0.58092, 0.575]
    assert len(rows["efficientnet_b0"]) == 1  # no paper figure beside torchvision's
    assert set(table["protocol"]) <= {"single-crop", "10-crop", "multi-crop+dense", "unstated"}


def test_json(capsys: pytest.CaptureFixture[str], no_mlflow: Path) -> None:
    rows = json.loads(_out(capsys, ["compare", "--reference", "imagenet", "--format", "json"]))
    by = {r["name"]: r for r in rows}
    assert by["efficientnet_b0"]["top1"] == B0_TOP1 and by["efficientnet_b0"]["macs"] == B0_MACS
    assert by["mobilenet_v1"]["top5"] is None
    paper = [r for r in rows if r["name"] == "vgg16" and r["protocol"] == "multi-crop+dense"]
    assert len(paper) == 1 and paper[0]["top1"] == 0.756
    assert not (no_mlflow / "absent").exists()  # no store created


def test_table_csv_and_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    text = _out(capsys, ["compare", "--reference", "imagenet"])
    assert "efficientnet_b0" in text and "385,814,752" in text
    rows = list(csv.DictReader(io.StringIO(_out(capsys, ["compare", "--reference", "imagenet", "--format", "csv"]))))
    b0 = next(r for r in rows if r["name"] == "efficientnet_b0")
    assert float(b0["top1"]) == B0_TOP1 and int(b0["macs"]) == B0_MACS
    md = _out(capsys, ["compare", "--reference", "imagenet", "--format", "markdown"])
    assert md.startswith("| name | family | top1 |") and "| efficientnet_b0 | efficientnet | 0.7769 |" in md
    assert "| alexnet | alexnet | 0.593 | 0.818 | 10-crop |" in md
    assert "10-crop" in text and "multi-crop+dense" in text


def test_plot_written(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    png = tmp_path / "plots" / "reference.png"
    _out(capsys, ["compare", "--reference", "imagenet", "--plot", str(png), "--format", "json"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_unknown_reference_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--reference", "cifar10"]) == 2
    assert "invalid choice: 'cifar10'" in capsys.readouterr().err
