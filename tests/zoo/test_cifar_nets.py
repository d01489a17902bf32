"""The CIFAR networks of the classic papers against their published sizes: He et al. 2016's ResNets
(Table 6) with option A shortcuts and Huang et al. 2017's DenseNets (Table 2). The papers give
millions to one or two decimals; our exact counts are asserted too, and each equals the built torch
module's."""

from __future__ import annotations

import pytest
import torch

from nas_scaling import zoo
from nas_scaling.cost import count_cost
from nas_scaling.errors import UserError
from nas_scaling.models import build_model, count_parameters
from nas_scaling.models.blocks import PadShortcut
from nas_scaling.spec import DenseBlock, Residual, Stage, Transition, spec_to_dict, stage_from_compact, stage_to_compact
from nas_scaling.zoo.densenet_cifar import densenet_cifar
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
DENSENETS = {
    "densenet40_k12": (1.0, 1, 1_019_722),
    "densenet_bc100_k12": (0.8, 1, 769_162),
}


@pytest.mark.parametrize("name", [*RESNETS, *DENSENETS])
def test_params_match_the_papers_and_the_built_module(name: str) -> None:
    paper, digits, ours = {**RESNETS, **DENSENETS}[name]
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
    with pytest.raises(UserError, match="6n\\+2"):
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


def test_cifar_densenet_layouts() -> None:
    plain = zoo.get_spec("densenet40_k12")
    blocks = [s.block for s in plain.stages if isinstance(s.block, DenseBlock)]
    assert [(b.layers, b.growth, b.bn_size) for b in blocks] == [(12, 12, 0)] * 3
    assert [s.block.compression for s in plain.stages if isinstance(s.block, Transition)] == [1.0, 1.0]
    assert plain.stem[0].block.channels == 16
    bc = zoo.get_spec("densenet_bc100_k12")
    blocks = [s.block for s in bc.stages if isinstance(s.block, DenseBlock)]
    assert [(b.layers, b.growth, b.bn_size) for b in blocks] == [(16, 12, 4)] * 3
    assert [s.block.compression for s in bc.stages if isinstance(s.block, Transition)] == [0.5, 0.5]
    assert bc.stem[0].block.channels == 24
    # depth: the first conv, 1 (plain) or 2 (BC) convs a layer, two transitions, the classifier
    assert 1 + 3 * 12 + 2 + 1 == 40 and 1 + 3 * 16 * 2 + 2 + 1 == 100
    with pytest.raises(UserError, match="6n\\+4"):
        densenet_cifar(101, bc=True)


def test_plain_dense_layer_has_no_bottleneck() -> None:
    model = build_model(zoo.get_spec("densenet40_k12"))
    layer = model.stages[0][0].layers[0]
    assert layer.conv1 is None and layer.norm2 is None
    assert layer.conv2.weight.shape == (12, 16, 3, 3)
    with torch.no_grad():
        assert model.eval()(torch.randn(2, 3, 32, 32)).shape == (2, 10)
