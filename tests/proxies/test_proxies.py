from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import torch
from torch import nn
from torchvision.ops import StochasticDepth

from nas_scaling.data import load_dataset
from nas_scaling.errors import UserError
from nas_scaling.models import build_model
from nas_scaling.proxies import PROXIES, compute_proxies, grad_norm, jacob_cov, naswot, snip, synflow, vote
from nas_scaling.spec import ConvBlock, Head, MBConv, NetworkSpec, Stage
from nas_scaling.zoo import get_spec


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    """These models are tiny: one intra-op thread is fastest, and avoids spinning on a busy CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits() -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """64 digits images (1 channel) at the resolutions of the zoo entries used below."""
    out = {}
    for res in (16, 32):
        train = load_dataset("digits", resolution=res, in_channels=1).train
        out[res] = (train.images[:64], train.labels[:64])
    return out


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("name", ["efficientnet_tiny", "lenet5"])
def test_all_proxies_finite_and_deterministic(name: str, digits: dict) -> None:
    spec = get_spec(name)
    x, y = digits[spec.resolution]
    first = compute_proxies(spec, x, y, seed=3)
    assert list(first) == list(PROXIES)
    assert all(math.isfinite(v) for v in first.values()), first
    assert compute_proxies(spec, x, y, seed=3) == first
    assert compute_proxies(spec, x, y, seed=4) != first


def test_compute_proxies_leaves_global_rng_alone(digits: dict) -> None:
    x, y = digits[32]
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    compute_proxies(get_spec("lenet5"), x, y, names=["naswot"])
    assert torch.equal(torch.rand(3), expected)


def test_proxies_restore_the_model(digits: dict) -> None:
    x, y = digits[16]
    torch.manual_seed(0)
    model = build_model(get_spec("efficientnet_tiny"))
    before = _snapshot(model)
    for proxy in PROXIES.values():
        proxy(model, (x, y))
        assert _same(_snapshot(model), before)
        assert model.training and all(p.grad is None for p in model.parameters())


def test_synflow_is_data_independent(digits: dict) -> None:
    x, y = digits[16]
    torch.manual_seed(0)
    model = build_model(get_spec("efficientnet_tiny"))
    a = PROXIES["synflow"](model, (x[:8], y[:8]))
    b = PROXIES["synflow"](model, (torch.randn(8, 1, 16, 16), y[8:16]))
    assert a == b > 0


def test_synflow_conservation_on_a_linear_chain() -> None:
    """Tanaka et al.'s conservation law: in a bias-free linear chain, each layer's sum of
    |theta * dR/dtheta| equals R = 1^T |W2| |W1| 1, so two layers score 2R."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4, bias=False), nn.Linear(4, 2, bias=False))
    w1, w2 = model[0].weight.detach().double().abs(), model[1].weight.detach().double().abs()
    r = float((w2 @ w1 @ torch.ones(3, dtype=torch.float64)).sum())
    assert synflow(model, (1, 3)) == pytest.approx(2 * r, rel=1e-12)


def test_naswot_matches_a_hand_computed_kernel() -> None:
    """Two 1x1 channels (+x, -x) over two pixels: codes a=1100, b=1001, c=0011, so
    K = [[4,2,0],[2,4,2],[0,2,4]] and det K = 32."""
    conv = nn.Conv2d(1, 2, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, -1.0]).view(2, 1, 1, 1))
    model = nn.Sequential(conv, nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(4, 2))
    x = torch.tensor([[1.0, 2.0], [1.0, -1.0], [-1.0, -2.0]]).view(3, 1, 1, 2)
    assert naswot(model, x) == pytest.approx(math.log(32))


def test_naswot_counts_each_code_layer() -> None:
    """A second (idempotent) ReLU repeats the codes, doubling K: log|2K| = log|K| + n log 2."""
    torch.manual_seed(0)
    conv, head = nn.Conv2d(1, 4, 3), nn.Linear(4 * 6 * 6, 10)
    once = nn.Sequential(conv, nn.ReLU(), nn.Flatten(), head)
    twice = nn.Sequential(conv, nn.ReLU(), nn.ReLU(), nn.Flatten(), head)
    x = torch.randn(5, 1, 8, 8)
    assert naswot(twice, x) == pytest.approx(naswot(once, x) + 5 * math.log(2))


def test_naswot_prefers_distinct_activation_patterns(digits: dict) -> None:
    x, _ = digits[16]
    torch.manual_seed(0)
    model = build_model(get_spec("efficientnet_tiny"))
    distinct = naswot(model, x[:16])
    assert math.isfinite(distinct)
    assert naswot(model, x[:1].expand(16, -1, -1, -1)) < distinct  # all codes equal: K has rank 1


def test_grad_proxies_with_a_zeroed_last_layer(digits: dict) -> None:
    """Zero last-layer weights block every upstream gradient: SNIP (|W * grad|) is exactly 0, and
    grad_norm is the last layer's own gradient, features^T (softmax - onehot) / N."""
    x, y = digits[16]
    torch.manual_seed(0)
    model = build_model(get_spec("efficientnet_tiny"))
    last = model.head[-1]
    assert isinstance(last, nn.Linear)
    with torch.no_grad():
        last.weight.zero_()
    assert snip(model, x, y) == 0.0
    features = nn.Sequential(model.stem, model.stages, model.head[:-1]).train()
    for m in features.modules():
        if isinstance(m, (nn.Dropout, StochasticDepth)):
            m.eval()
    with torch.no_grad():
        feats = features(x)
    probs = torch.softmax(last.bias.detach().expand(len(y), -1), dim=1)
    expected = ((probs - nn.functional.one_hot(y, 10)).T @ feats / len(y)).norm()
    assert grad_norm(model, x, y) == pytest.approx(float(expected), rel=1e-4)


def test_jacob_cov_of_a_linear_model_is_the_rank_one_value() -> None:
    """A linear model has the same input gradient for every sample: the correlation matrix is all
    ones, eigenvalues n and 0 (n - 1 times)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    n, k = 6, 1e-5
    expected = -((n - 1) * (math.log(k) + 1 / k) + math.log(n + k) + 1 / (n + k))
    assert jacob_cov(model, torch.randn(n, 1, 4, 4)) == pytest.approx(expected, rel=1e-6)
    relu_net = nn.Sequential(nn.Flatten(), nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 3))
    assert jacob_cov(relu_net, torch.randn(n, 1, 4, 4)) > expected


def test_vote_averages_ranks() -> None:
    scores = [
        {"a": 1.0, "b": 30.0},
        {"a": 3.0, "b": 10.0},
        {"a": 2.0, "b": 20.0},
        {"a": float("nan"), "b": 20.0},
    ]
    # a: ranks 2, 4, 3, 1 (nan last); b: 4, 1, 2.5, 2.5 (tie shared)
    assert vote(scores) == [3.0, 2.5, 2.75, 1.75]
    assert vote([]) == []


def test_vote_rejects_mismatched_proxies() -> None:
    with pytest.raises(UserError, match="same proxies"):
        vote([{"a": 1.0}, {"b": 1.0}])


def test_unknown_proxy_names_the_choices(micro: NetworkSpec) -> None:
    x = torch.zeros(2, 1, 16, 16)
    with pytest.raises(UserError, match=r"'zen'; choose from synflow, naswot, grad_norm, snip, jacob_cov$"):
        compute_proxies(micro, x, torch.zeros(2, dtype=torch.long), names=["snip", "zen"])


def test_batch_must_match_the_spec(micro: NetworkSpec) -> None:
    with pytest.raises(UserError, match=r"\(N, 1, R, R\).*got \(2, 3, 16, 16\)"):
        compute_proxies(micro, torch.zeros(2, 3, 16, 16), torch.zeros(2, dtype=torch.long))


def test_spec_scores_through_the_uniform_signature(micro: NetworkSpec) -> None:
    x, y = torch.randn(8, 1, 16, 16), torch.arange(8) % 10
    for name, proxy in PROXIES.items():
        torch.manual_seed(1)
        via_spec = proxy(micro, (x, y))
        assert via_spec == compute_proxies(micro, x, y, names=[name], seed=1)[name]


@pytest.fixture
def micro() -> NetworkSpec:
    return NetworkSpec(
        name="micro",
        stem=(Stage(ConvBlock(8, act="silu")),),
        stages=(Stage(MBConv(16, expand=2.0, se=0.25), repeats=2, stride=2),),
        head=Head(conv=32, act="silu"),
        in_channels=1,
        resolution=16,
        num_classes=10,
    )
