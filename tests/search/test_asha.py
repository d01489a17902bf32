"""The Ray search's ASHA: trials it stops before their last epoch are remembered (PRUNED, not COMPLETE);
a trial's last epoch is never stopped, since it has trained every epoch and its result is on the way
(stopping it there once recorded a complete training as pruned). Real ASHA, fed results by hand."""

from __future__ import annotations

from types import SimpleNamespace

from ray.tune.schedulers import TrialScheduler

from nas_scaling.search.ray_executor import _Asha


def _decisions(last_epoch: int) -> tuple[list[str], set[str]]:
    asha = _Asha(last_epoch=last_epoch, time_attr="training_iteration", metric="val_top1", mode="max", max_t=4,
                 grace_period=1, reduction_factor=3)  # rungs at epochs 1 and 3
    good, worse, poor = (SimpleNamespace(trial_id=name) for name in ("good", "worse", "poor"))
    for trial in (good, worse, poor):
        asha.on_trial_add(None, trial)

    def report(trial: SimpleNamespace, epoch: int, value: float) -> str:
        return asha.on_trial_result(None, trial, {"training_iteration": epoch, "epoch": epoch, "val_top1": value})

    decisions = [report(good, 1, 0.90), report(worse, 1, 0.95), report(poor, 1, 0.10),
                 report(good, 3, 0.90), report(worse, 3, 0.10)]
    return decisions, asha.stopped_early


def test_a_trial_below_the_cut_at_its_last_epoch_finishes() -> None:
    decisions, stopped = _decisions(last_epoch=3)
    assert decisions[2] == TrialScheduler.STOP and "poor" in stopped  # stopped early at epoch 1 of 3
    assert decisions[4] == TrialScheduler.CONTINUE  # "worse" at epoch 3 of 3: trained, its result follows
    assert stopped == {"poor"}


def test_the_same_report_before_the_last_epoch_stops_the_trial() -> None:
    decisions, stopped = _decisions(last_epoch=5)
    assert decisions[4] == TrialScheduler.STOP
    assert stopped == {"poor", "worse"}
