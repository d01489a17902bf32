"""The CIFAR networks of the classic papers against their published sizes: He et al. 2016's ResNets
(Table 6) with option A shortcuts. The papers give millions to two or three significant figures;
our exact counts are asserted too, and each equals the built torch module's."""

from __future__ import annotations

import pytest
import torch

from nas_scaling import zoo
from nas_scaling.cost import count_cost
from nas_scaling.models import build_model, count_parameters
from nas_scaling.models.blocks import PadShortcut
from nas_scaling.spec import Residual, Stage, spec_to_dict, stage_from_compact, stage_to_compact
from nas_scaling.zoo.resnet_cifar import resnet_cifar

# name -> (the paper's figure in millions as printed, the digits it prints after the point, our count)
RESNETS = {
    "resnet20": (0.27, 2, 269_722),
    "resnet32": (0.46, 2, 464_154),
    "resnet44": (0.66, 2, 658_586),
    "resnet56": (0.85, 2, 853_018),
    "resnet110": (1.7, 1, 1_727_962),
    "resnet1202": (19.4, 1, 19_421_274),
}


@pytest.mark.parametrize("name", RESNETS)
def test_cifar_resnet_params_match_table_6_and_the_built_module(name: str) -> None:
    paper, digits, ours = RESNETS[name]
    spec = zoo.get_spec(name)
    assert (spec.resolution, spec.in_channels, spec.num_classes) == (32, 3, 10)
    params = count_cost(spec).params
    assert params == ours
    assert round(params / 1e6, digits) == paper
    with torch.device("meta"):
        assert count_parameters(build_model(spec)) == params


def test_cifar_resnet_layout_is_6n_plus_2() -> None:
    spec = zoo.get_spec("resnet56")
    assert [(s.block.channels, s.repeats, s.stride) for s in spec.stages] == [(16, 9, 1), (32, 9, 2), (64, 9, 2)]
    assert all(isinstance(s.block, Residual) and s.block.shortcut == "pad" for s in spec.stages)
    weighted = 1 + 2 * sum(s.repeats for s in spec.stages) + 1  # stem conv, two per block, the FC
    assert weighted == 56
    assert zoo.get_spec("resnet20", small=True) == zoo.get_spec("resnet20")
    with pytest.raises(Exception, match="6n\\+2"):
        resnet_cifar(21)


def test_cifar_resnet_runs_on_32x32() -> None:
    model = build_model(zoo.get_spec("resnet20")).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_pad_shortcut_subsamples_and_zero_pads() -> None:
    x = torch.randn(2, 16, 9, 9)
    y = PadShortcut(32, 2)(x)
    assert y.shape == (2, 32, 5, 5)
    assert torch.equal(y[:, :16], x[:, :, ::2, ::2])
    assert not y[:, 16:].any()
    assert torch.equal(PadShortcut(8, 1)(x), x[:, :8])
    assert sum(p.numel() for p in PadShortcut(32, 2).parameters()) == 0


def test_the_projection_default_is_quiet_in_files_and_compact_forms() -> None:
    """Residual stages written before ``shortcut`` existed read and write exactly as they did."""
    old = Stage(Residual(64), stride=2)
    assert stage_to_compact(old) == "residual_r1_s2_c64_basic_x4"
    assert stage_from_compact("residual_r1_s2_c64_basic_x4") == old
    padded = Stage(Residual(64, shortcut="pad"), stride=2)
    assert stage_to_compact(padded) == "residual_r1_s2_c64_basic_x4_pad"
    assert stage_from_compact(stage_to_compact(padded)) == padded
    stage = spec_to_dict(zoo.get_spec("resnet18"))["stages"][0]
    assert "shortcut" not in stage
    assert spec_to_dict(zoo.get_spec("resnet20"))["stages"][0]["shortcut"] == "pad"
