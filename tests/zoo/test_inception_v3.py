"""Inception v3 (Szegedy et al. 2016) against torchvision's ``inception_v3(aux_logits=False)``:
parameters, multiply-adds and, with its weights copied in, the same outputs."""

from __future__ import annotations

import torch
import torchvision

from nas_scaling import zoo
from nas_scaling.cost import count_cost
from nas_scaling.models import build_model, count_parameters
from nas_scaling.spec import InceptionA, InceptionB, InceptionC, InceptionD, InceptionE, network_to_compact
from tests.zoo.test_classic_parity import copy_weights, macs

PARAMS = 23_834_568  # torchvision inception_v3(aux_logits=False, init_weights=False)
MACS = 5_713_216_096  # at 299x299; torchvision quotes 5.71 GFLOPS


def _twin() -> torch.nn.Module:
    return torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False)


def test_registered_as_torchvision_twin_at_299() -> None:
    entry = zoo.get_entry("inception_v3")
    assert entry.torchvision == "inception_v3" and entry.family == "inception"
    assert dict(entry.torchvision_kwargs) == {"aux_logits": False, "init_weights": False}
    spec = entry.spec()
    assert spec.resolution == 299
    cost = count_cost(spec)
    assert (cost.params, cost.macs) == (PARAMS, MACS)


def test_same_parameters_macs_and_outputs_as_torchvision() -> None:
    torch.manual_seed(0)
    ours, twin = build_model(zoo.get_spec("inception_v3")), _twin()
    assert count_parameters(ours) == count_parameters(twin) == PARAMS
    copy_weights(twin, ours)  # layer for layer, in torchvision's order
    x = torch.randn(2, 3, 75, 75)  # the smallest input torchvision's Inception v3 accepts
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), twin.eval()(x), rtol=1e-4, atol=1e-5)
    assert macs(ours, 299) == macs(_twin(), 299) == MACS


def test_modules_read_as_the_paper_lays_them_out() -> None:
    """3 x 35x35, a reduction, 4 x 17x17 with 1x7/7x1 factorization, a reduction, 2 x 8x8."""
    spec = zoo.get_spec("inception_v3")
    kinds = [type(s.block) for s in spec.stages for _ in range(s.repeats)]
    assert kinds == [InceptionA] * 3 + [InceptionB] + [InceptionC] * 4 + [InceptionD] + [InceptionE] * 2
    line = network_to_compact(spec)
    assert "inceptionc_r2_s1_a192_br160_b192_cr160_c192_pp192_k7_avg" in line
    assert "inceptionb_r1_s2_b384_cr64_c96_max" in line
    sizes = [(s.label, s.out_channels, s.out_size) for s in count_cost(spec).stages if s.label.startswith("stages")]
    assert [(c, z) for _, c, z in sizes] == [
        (256, 35), (288, 35), (768, 17), (768, 17), (768, 17), (768, 17), (1280, 8), (2048, 8),
    ]
