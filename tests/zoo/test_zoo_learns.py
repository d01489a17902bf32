"""Every zoo entry learns: its small form (32x32, here one channel and 10 classes) trained with the
grid's proxy schedule (``TrainConfig`` defaults, 3 epochs, as ``nas-scaling grid`` trains candidates)
on the embedded digits reaches well above chance (0.1). A network that stays at chance here makes
every comparison against it void (SqueezeNet did, before its small form got batch norm)."""

from __future__ import annotations

import time

import pytest

from nas_scaling import zoo
from nas_scaling.data import DatasetSplits, load_dataset
from nas_scaling.models import build_model
from nas_scaling.training import TrainConfig, seed_everything, train

pytestmark = pytest.mark.slow

MIN_TOP1 = 0.5
"""Five times chance; a network that learns at all reaches it on digits in 3 epochs (SqueezeNet 1.1
small with batch norm: 0.98, without it: 0.097)."""

PROXY = TrainConfig(epochs=3, seed=0)

NOT_YET = {
    "alexnet": "no batch norm: 0.236 val top-1 under the proxy schedule (measured; issue 14 item 5 open)",
}
"""Entries measured below ``MIN_TOP1``: expected failures until their small forms or the proxy
recipe are fixed (a pass turns the mark into an XPASS to remove)."""


@pytest.fixture(scope="module")
def digits() -> DatasetSplits:
    return load_dataset("digits", resolution=32, in_channels=1)


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.xfail(reason=NOT_YET[n])) if n in NOT_YET else n for n in zoo.names()],
)
def test_small_form_learns_digits_under_the_proxy_schedule(name: str, digits: DatasetSplits) -> None:
    spec = zoo.get_spec(name, small=True, num_classes=10, in_channels=1)
    seed_everything(0)
    start = time.perf_counter()
    result = train(build_model(spec), digits, PROXY)
    print(f"{name}: val top-1 {result.val_top1} in {time.perf_counter() - start:.1f} s")
    assert result.status == "completed", result.reason
    assert result.val_top1 is not None and result.val_top1 >= MIN_TOP1
