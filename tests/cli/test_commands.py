"""The commands end to end through ``main`` (real files, real training on the digits)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from nas_scaling.cli.main import main
from nas_scaling.models import build_model, count_parameters
from nas_scaling.spec import load_spec
from nas_scaling.training import load_weights
from nas_scaling.zoo import get_spec


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> object:
    assert main([*argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_zoo_lists_every_entry_with_its_size(capsys: pytest.CaptureFixture[str]) -> None:
    rows = _json(capsys, ["zoo"])
    assert isinstance(rows, list)
    by_name = {r["name"]: r for r in rows}
    assert by_name["efficientnet_b0"] == {"name": "efficientnet_b0", "family": "efficientnet", "params": 5_288_548,
                                          "macs": 385_814_752, "resolution": 224}
    assert by_name["lenet5"]["params"] == 61_706
    assert set(by_name) >= {"resnet50", "densenet264", "squeezenet1_1_complex", "vgg16_c", "googlenet"}


def test_show_matches_the_cost_model(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = _json(capsys, ["show", "resnet18", "--resolution", "160"])
    assert isinstance(data, dict)
    assert data["resolution"] == 160
    assert sum(s["macs"] for s in data["stages"]) == data["macs"]
    assert main(["show", "mobilenet_v2"]) == 0
    out = capsys.readouterr().out
    assert "MFLOPs (multiply-adds)" in out and "stages[0]" in out
    header = out.splitlines()[1].split()
    assert header == ["stage", "block", "repeats", "in", "out", "size", "params", "MACs"]  # one MACs column


def test_mobilenet_v1_multipliers_by_name_give_the_papers_rows(capsys: pytest.CaptureFixture[str]) -> None:
    """Howard et al. 2017, Tables 6-8: (width, resolution) -> (M multiply-adds, M params). The paper's
    parameter counts leave out batch norm's scale and shift (0.5-160: 1,331,592 with, 1,320,648 without)."""
    rows = {"mobilenet_v1_0.75": (325, 2.6), "mobilenet_v1_0.5": (149, 1.3), "mobilenet_v1_0.25": (41, 0.5),
            "mobilenet_v1_1.0_192": (418, 4.2), "mobilenet_v1_1.0_160": (290, 4.2),
            "mobilenet_v1_1.0_128": (186, 4.2), "mobilenet_v1_0.5_160": (76, 1.32)}
    for name, (macs, params) in rows.items():
        data = _json(capsys, ["profile", name])
        assert isinstance(data, dict)
        model = build_model(get_spec(name))
        norm = sum(p.numel() for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d) for p in m.parameters())
        digits = len(str(params).split(".")[1])
        assert abs(data["macs"] / 1e6 - macs) < 1, name  # the paper gives whole millions (290.68 -> 290)
        assert round((data["params"] - norm) / 1e6, digits) == params, name
        assert data["name"] == name
    assert main(["show", "mobilenet_v1_0.5_160", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["resolution"] == 160
    for bad, says in (("mobilenet_v1_9", "width must be a number in (0, 4], got 9.0"),
                      ("mobilenet_v1_0.5_16", "resolution must be at least 32"),
                      ("mobilenet_v1_x", "unknown architecture 'mobilenet_v1_x'")):
        assert main(["profile", bad]) == 2
        assert says in capsys.readouterr().err


def test_scale_published_reproduces_efficientnet(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rows = _json(capsys, ["scale", "efficientnet_b0", "--phi-max", "7", "--published", "--output", str(tmp_path)])
    assert isinstance(rows, list)
    assert [r["resolution"] for r in rows] == [224, 240, 260, 300, 380, 456, 528, 600]
    assert round(rows[4]["macs"] / 1e9, 4) == 4.3938  # B4 at 380 (issue 3)
    assert rows[7]["params"] == 66_347_960
    spec = load_spec(tmp_path / "efficientnet_b0_phi3.yaml")
    assert spec.resolution == 300
    assert count_parameters(build_model(spec, resolution=32)) == 12_233_232


def test_scale_formula_grows_the_family(capsys: pytest.CaptureFixture[str]) -> None:
    rows = _json(capsys, ["scale", "efficientnet_tiny", "--phi-max", "3"])
    assert isinstance(rows, list)
    macs = [r["macs"] for r in rows]
    assert macs == sorted(macs) and rows[0]["macs_ratio"] == 1.0
    assert rows[2]["depth"] == pytest.approx(1.44)


def test_train_saves_spec_weights_and_metrics(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")  # not the repository's mlruns/
    out = tmp_path / "lenet"
    data = _json(capsys, ["train", "lenet5", "--epochs", "1", "--output", str(out)])
    assert isinstance(data, dict)
    for key in ("val_top1", "val_top5", "test_top1", "test_top5"):
        assert 0.0 <= data[key] <= 1.0
    assert data["val_top1"] > 0.3  # one epoch on the digits is far above chance (0.1)
    assert data["params"] == 61_706 and data["macs"] == 416_520
    spec = load_spec(out / "spec.yaml")
    assert spec == get_spec("lenet5")
    model = load_weights(out / "weights.pt", build_model(spec))
    assert torch.isfinite(model(torch.randn(2, 1, 32, 32))).all()
    assert json.loads((out / "metrics.json").read_text())["test_top1"] == data["test_top1"]
