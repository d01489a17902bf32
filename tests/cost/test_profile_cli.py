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
    assert "params: 1,248,424 (4.76 MiB (4.99 MB) at 32 bits, 1.19 MiB (1.25 MB) at 8 bits;" in out
    assert "budget 1GFLOPS = 1,000.00 MFLOPs (multiply-adds): fits (ratio 0.819)" in out


def test_size_at_any_precision(capsys: pytest.CaptureFixture[str]) -> None:
    """SqueezeNet's 4.8 MB at 32 bits, and dense 8 and 6 bits (the paper's 0.66 and 0.47 MB also prune)."""
    data = run_json(capsys, "squeezenet1_0", "--bits", "32,16,8,6")
    assert data["size_at_bits"] == {"32": 4_993_696, "16": 2_496_848, "8": 1_248_424, "6": 936_318}
    assert round(data["size_at_bits"]["32"] / 2**20, 1) == 4.8  # the paper's "4.8MB" is MiB
    assert run_json(capsys, "lenet5", "--bits", "3")["size_at_bits"] == {"3": -(-61_706 * 3 // 8)}
    assert main(["profile", "lenet5", "--bits", "0,8"]) == 2
    assert "argument --bits: must be a comma-list of integers from 1 to 64, got '0,8'" in capsys.readouterr().err


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
