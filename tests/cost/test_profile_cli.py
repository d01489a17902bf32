"""``nas-scaling profile``: JSON and table output, budgets, and one-line errors."""

from __future__ import annotations

import json

import pytest

from nas_scaling.cli.main import main
from nas_scaling.cost import count_cost
from nas_scaling.zoo import get_spec


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(["profile", *argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "efficientnet_b0")
    assert (data["params"], data["macs"], data["resolution"]) == (5_288_548, 385_814_752, 224)
    assert data["size_bytes"] == {"fp32": 4 * 5_288_548, "int8": 5_288_548}
    assert [s["label"] for s in data["stages"]][:2] == ["stem[0]", "stages[0]"]
    assert sum(s["macs"] for s in data["stages"]) == data["macs"]
    assert not {"fvcore_flops", "latency_ms", "fits", "ratio"} & set(data)


def test_json_with_everything(capsys: pytest.CaptureFixture[str]) -> None:
    lenet = count_cost(get_spec("lenet5"))
    data = run_json(capsys, "lenet5", "--counter", "fvcore", "--latency", "--batch-sizes", "1,2",
                    "--budget", "2xFLOPS,50Kparams")
    assert data["fvcore_flops"] == data["macs"] == lenet.macs  # LeNet: convs and linears only
    assert set(data["latency_ms"]) == {"1", "2"} and all(v > 0 for v in data["latency_ms"].values())
    assert data["budget"] == "2xFLOPS,50Kparams" and data["base"]["name"] == "lenet5"
    assert data["max_macs"] == 2 * lenet.macs and data["max_params"] == 50_000
    assert data["fits"] is False and data["ratio"] == pytest.approx(lenet.params / 50_000)


def test_relative_budget_against_another_base(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "efficientnet_b0", "--resolution", "160", "--budget", "1xFLOPS", "--base", "mobilenet_v2")
    assert data["resolution"] == 160
    assert data["base"] == {"name": "mobilenet_v2", "params": 3_504_872, "macs": 300_774_272, "resolution": 224}
    assert data["ratio"] == pytest.approx(data["macs"] / 300_774_272)


def test_table_names_units(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "squeezenet1_0", "--budget", "1GFLOPS"]) == 0
    out = capsys.readouterr().out
    assert "MFLOPs (multiply-adds)" in out
    assert "params: 1,248,424 (4.76 MiB at fp32, 1.19 MiB at int8" in out
    assert "budget 1GFLOPS = 1,000.00 MFLOPs (multiply-adds): fits (ratio 0.819)" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--budget", "2x"], "budget must look like '2xFLOPS', '600MFLOPS', '1.2GFLOPS', '5Mparams', '2xparams' "
                             "or a comma-list of them, got '2x'"),
        (["--budget=-1MFLOPS"], "got '-1MFLOPS'"),
        (["--budget", "0xparams"], "budget terms must be positive and finite"),
        (["--base", "resnet18"], "--base only applies with --budget"),
        (["--budget", "5Mparams", "--base", "resnet18"], "--base only applies to relative budgets"),
        (["--budget", "2xFLOPS", "--base", "nosuchnet"], "unknown architecture 'nosuchnet'"),
        (["--resolution", "8"], "feature map collapses"),
        (["--resolution", "0"], "must be a positive integer, got '0'"),
        (["--counter", "slow"], "invalid choice: 'slow'"),
        (["--latency", "--batch-sizes", "1,x"], "must be a comma-list of positive integers, got '1,x'"),
    ],
)
def test_bad_values_exit_2_with_one_line(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert main(["profile", "lenet5", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("nas-scaling: error: ")
    assert message in lines[0]
    assert "Traceback" not in captured.err
