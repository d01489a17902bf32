"""Prescreening: feasible distinct draws, deterministic ranking, and the top K trained by search and grid."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pytest

from nas_scaling.cli.main import main
from nas_scaling.cost import count_cost, parse_budget
from nas_scaling.errors import UserError
from nas_scaling.experiments.grid import GridOptions, run_grid
from nas_scaling.experiments.grid_plan import plan_grid
from nas_scaling.experiments.prescreen import (
    VOTE_PROXIES,
    Minibatches,
    PrescreenOptions,
    rank_by_proxy,
    sample_feasible,
)
from nas_scaling.experiments.search import SearchOptions, run_search
from nas_scaling.proxies import compute_proxies, vote
from nas_scaling.search.proposer import trained_count
from nas_scaling.search.space import load_space, space_from_dict
from nas_scaling.spec import NetworkSpec, network_to_compact
from nas_scaling.tracking import MemoryTracker
from nas_scaling.zoo import get_spec

MIXED = Path(__file__).resolve().parents[2] / "search_spaces" / "mixed.yaml"


def test_draws_are_within_the_budget_distinct_and_reproducible() -> None:
    space = load_space(MIXED)
    reference = get_spec("efficientnet_tiny")
    limit = parse_budget("2xFLOPS").resolve(count_cost(reference))
    draws = sample_feasible(space, reference, parse_budget("2xFLOPS"), 25, seed=1, num_classes=10, in_channels=1)
    assert len(draws) == 25
    assert len({d.arch for d in draws}) == 25
    for d in draws:
        assert limit.check(count_cost(d.spec)).fits
        assert d.macs == count_cost(d.spec).macs <= limit.max_macs  # type: ignore[operator]
        assert d.arch == network_to_compact(d.spec)
        assert d.spec.resolution in (16, 20) and d.spec.num_classes == 10 and d.spec.in_channels == 1
    again = sample_feasible(space, reference, parse_budget("2xFLOPS"), 25, seed=1, num_classes=10, in_channels=1)
    assert [d.arch for d in again] == [d.arch for d in draws]
    other = sample_feasible(space, reference, parse_budget("2xFLOPS"), 25, seed=2, num_classes=10, in_channels=1)
    assert [d.arch for d in other] != [d.arch for d in draws]


def test_a_draws_params_enqueued_into_a_study_give_the_same_network() -> None:
    space = load_space(MIXED)
    reference = get_spec("efficientnet_tiny")
    draws = sample_feasible(space, reference, parse_budget("2xFLOPS"), 5, seed=0, num_classes=10, in_channels=1)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=99))
    for d in draws:
        study.enqueue_trial(d.params, user_attrs={"proxy_x": 1.0})
    for d in draws:
        trial = study.ask()
        spec = space.sample(trial, num_classes=10, in_channels=1)
        assert network_to_compact(spec) == d.arch
        assert trial.user_attrs == {"proxy_x": 1.0}
        study.tell(trial, 0.0)


def test_a_small_space_gives_fewer_draws_than_asked() -> None:
    raw = {"name": "two", "reference": "efficientnet_tiny", "stem": {"channels": 8},
           "stages": [{"kinds": "conv", "stride": 2, "conv": {"channels": [8, 16]}}]}
    draws = sample_feasible(space_from_dict(raw), get_spec("efficientnet_tiny"), parse_budget("2xFLOPS"), 5,
                            seed=0, num_classes=10, in_channels=1, max_draws=200)
    assert sorted(d.spec.stages[0].block.channels for d in draws) == [8, 16]  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def candidates() -> list[NetworkSpec]:
    space = load_space(MIXED)
    draws = sample_feasible(space, get_spec("efficientnet_tiny"), parse_budget("2xFLOPS"), 6, seed=0,
                            num_classes=10, in_channels=1)
    return [d.spec for d in draws]


def test_ranking_is_deterministic_and_sorted(candidates: list[NetworkSpec]) -> None:
    batches = Minibatches("digits", in_channels=1, batch_size=32, seed=0)
    first = rank_by_proxy(candidates, "synflow", batches=batches, seed=0)
    again = rank_by_proxy(candidates, "synflow", batches=Minibatches("digits", in_channels=1, batch_size=32, seed=0),
                          seed=0)
    assert [(r.index, r.score) for r in first] == [(r.index, r.score) for r in again]
    assert sorted(r.index for r in first) == list(range(len(candidates)))
    scores = [r.score for r in first]
    assert scores == sorted(scores, reverse=True)
    # the score is the registry's proxy on the same minibatch at the candidate's resolution
    best = candidates[first[0].index]
    x, y = batches(best.resolution)
    assert x.shape == (32, 1, best.resolution, best.resolution)
    assert first[0].score == compute_proxies(best, x, y, names=["synflow"], seed=0)["synflow"]


def test_vote_ranks_by_the_average_rank_of_its_proxies(candidates: list[NetworkSpec]) -> None:
    batches = Minibatches("digits", in_channels=1, batch_size=32, seed=0)
    ranked = rank_by_proxy(candidates, "vote", batches=batches, seed=0)
    assert all(set(r.scores) == set(VOTE_PROXIES) for r in ranked)
    by_index = sorted(ranked, key=lambda r: r.index)
    assert [r.score for r in by_index] == vote([r.scores for r in by_index])
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)


def test_nan_scores_rank_last(candidates: list[NetworkSpec]) -> None:
    """A constant batch makes every sample's Jacobian the same: jacob_cov is nan, ranked last."""
    import torch

    x = torch.zeros(8, 1, 16, 16)
    specs = [s for s in candidates if s.resolution == 16][:2]
    ranked = rank_by_proxy(specs, "jacob_cov", batches=(x, torch.zeros(8, dtype=torch.long)), seed=0)
    assert all(math.isnan(r.score) for r in ranked)
    assert [r.index for r in ranked] == [0, 1]  # ties keep the input order


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"samples": 4, "train_top": 2, "proxy": "flops"}, "unknown proxy 'flops'; choose from synflow"),
    ({"samples": 2, "train_top": 3}, "--train-top must be at most --prescreen"),
    ({"samples": 0, "train_top": 0}, "prescreen samples must be a positive integer, got 0"),
])
def test_prescreen_options_refuse_bad_values(kwargs: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        PrescreenOptions(**kwargs)


def _study(tmp_path: Path) -> optuna.Study:
    return optuna.load_study(study_name="p", storage=f"sqlite:///{tmp_path}/studies/studies.db")


def _search(tmp_path: Path, space: Path, reference: NetworkSpec, tracker: MemoryTracker, trials: int) -> None:
    options = SearchOptions(
        budget=parse_budget("1xFLOPS"), trials=trials, train={"epochs": 1, "threads": 1}, executor="local",
        early_stopping=False, study="p", storage=f"sqlite:///{tmp_path}/studies/studies.db", progress=False,
        prescreen=PrescreenOptions(samples=6, train_top=trials, proxy="synflow"),
    )
    run_search(load_space(space), reference, options, tracker=tracker, num_classes=10, in_channels=1,
               log=lambda m: None)


def test_search_prescreen_enqueues_the_top_k_trains_only_them_and_never_twice(
    tmp_path: Path, micro_space: Path, micro_base: NetworkSpec,
) -> None:
    tracker = MemoryTracker()
    _search(tmp_path, micro_space, micro_base, tracker, trials=2)
    study = _study(tmp_path)
    assert trained_count(study) == 2
    screened = sorted((t for t in study.trials if "prescreen_rank" in t.user_attrs),
                      key=lambda t: t.user_attrs["prescreen_rank"])
    assert [t.user_attrs["prescreen_rank"] for t in screened] == [1, 2]
    assert all(t.user_attrs["outcome"] == "complete" for t in screened)
    assert {t.number for t in screened} == {t.number for t in study.trials if t.user_attrs["outcome"] == "complete"}

    # the same top 2, computed independently
    draws = sample_feasible(load_space(micro_space), micro_base, parse_budget("1xFLOPS"), 6, seed=0, num_classes=10,
                            in_channels=1)
    ranked = rank_by_proxy([d.spec for d in draws], "synflow", batches=Minibatches("digits", in_channels=1), seed=0)
    assert [t.user_attrs["arch"] for t in screened] == [draws[r.index].arch for r in ranked[:2]]
    assert [t.user_attrs["proxy_synflow"] for t in screened] == [r.score for r in ranked[:2]]
    runs = {r.tags["trial"]: r for r in tracker.find_runs({"kind": "found"})}
    assert [runs[str(t.number)].metrics["proxy_synflow"] for t in screened] == [r.score for r in ranked[:2]]
    assert [runs[str(t.number)].metrics["prescreen_rank"] for t in screened] == [1, 2]

    # a rerun of a finished study enqueues and trains nothing
    count = len(study.trials)
    _search(tmp_path, micro_space, micro_base, tracker, trials=2)
    assert len(_study(tmp_path).trials) == count

    # one more trial: only the third-best is enqueued (the top two are already in the study)
    _search(tmp_path, micro_space, micro_base, tracker, trials=3)
    study = _study(tmp_path)
    assert trained_count(study) == 3
    ranks = sorted(t.user_attrs["prescreen_rank"] for t in study.trials if "prescreen_rank" in t.user_attrs)
    assert ranks == [1, 2, 3]
    third = next(t for t in study.trials if t.user_attrs.get("prescreen_rank") == 3)
    assert third.user_attrs["arch"] == draws[ranked[2].index].arch and third.user_attrs["outcome"] == "complete"


@pytest.mark.slow
def test_search_cli_prescreen_trains_the_top_k(
    tmp_path: Path, micro_space: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["search", "--space", str(micro_space), "--budget", "1xFLOPS", "--executor", "local", "--epochs", "1",
                 "--no-progress", "--study", "p", "--trials", "3", "--prescreen", "5", "--train-top", "2"]) == 0
    assert "enqueued 2 of the top 2" in capsys.readouterr().err
    study = _study(tmp_path)
    assert trained_count(study) == 3  # the proxy's (vote's) top 2, then one from the sampler
    first = sorted(study.trials, key=lambda t: t.number)
    assert [t.user_attrs.get("prescreen_rank") for t in first[:2]] == [1, 2]
    assert {"proxy_vote", "proxy_synflow", "proxy_snip", "proxy_jacob_cov"} <= set(first[0].user_attrs)
    assert sum(1 for t in study.trials if "prescreen_rank" in t.user_attrs) == 2


def test_grid_prescreen_trains_the_top_k_and_resumes_the_same(tmp_path: Path, micro_base: NetworkSpec) -> None:
    options = GridOptions(
        budget=parse_budget("2xFLOPS"), train={"epochs": 1, "threads": 1}, executor="local", study="g", phi_max=2,
        progress=False, storage=f"sqlite:///{tmp_path}/studies/studies.db",
        prescreen=PrescreenOptions(samples=4, train_top=2, proxy="grad_norm"),
    )
    tracker = MemoryTracker()
    result = run_grid(micro_base, options, tracker=tracker, output=tmp_path / "grid.json", log=lambda m: None)
    assert result.trained == 3 and len(result.ranked) == 2  # the top 2 and the base, the control
    assert result.base.val_top1_mean is not None and result.base.candidate.spec == micro_base

    plan = plan_grid(micro_base, parse_budget("2xFLOPS"), max_candidates=4)
    assert len(plan.candidates) == 4
    ranked = rank_by_proxy([c.spec for c in plan.candidates], "grad_norm",
                           batches=Minibatches("digits", in_channels=1), seed=0)
    top = {plan.candidates[r.index].key for r in ranked[:2]}
    assert {r.candidate.key for r in result.ranked} == top
    # each trained candidate carries its scores and rank into its trial and its MLflow run
    runs = {r.tags["candidate"]: r for r in tracker.find_runs({"kind": "grid"})}
    study = optuna.load_study(study_name="g", storage=f"sqlite:///{tmp_path}/studies/studies.db")
    by_key = {t.user_attrs["key"]: t for t in study.trials}
    for rank, r in enumerate(ranked[:2], start=1):
        key = plan.candidates[r.index].key
        assert runs[key].metrics["proxy_grad_norm"] == pytest.approx(r.score)
        assert runs[key].metrics["prescreen_rank"] == rank
        assert by_key[key].user_attrs["proxy_grad_norm"] == pytest.approx(r.score)

    again = run_grid(micro_base, options, tracker=tracker, output=tmp_path / "grid.json", log=lambda m: None)
    assert again.trained == 0
    assert {r.candidate.key for r in again.ranked} == top


@pytest.mark.parametrize(("argv", "message"), [
    (["search", "--proxy", "flops", "--prescreen", "4"], "unknown proxy 'flops'; choose from synflow"),
    (["search", "--prescreen", "3", "--train-top", "4", "--trials", "4"], "--train-top must be at most --prescreen"),
    (["search", "--prescreen", "8", "--train-top", "5", "--trials", "4"], "--train-top must be at most --trials"),
    (["search", "--proxy", "snip"], "--proxy and --train-top need --prescreen N"),
    (["search", "--prescreen", "0"], "argument --prescreen: must be a positive integer, got '0'"),
    (["grid", "--prescreen", "4", "--proxy", "flops"], "unknown proxy 'flops'"),
    (["grid", "--prescreen", "2", "--train-top", "3"], "--train-top must be at most --prescreen"),
    (["grid", "--train-top", "3"], "--proxy and --train-top need --prescreen N"),
])
def test_bad_prescreen_flags_give_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    common = ["--space", str(MIXED)] if argv[0] == "search" else []
    assert main([argv[0], *common, "--budget", "2xFLOPS", *argv[1:]]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("nas-scaling: error:")
    assert message in err
    assert not (tmp_path / "studies").exists()


def test_prescreening_says_when_its_proxy_is_not_measured_to_rank_that_kind_of_data() -> None:
    from nas_scaling.experiments.prescreen import SUPPORTED, proxy_warning

    for dataset in ("digits", "imagefolder:/data/photos", "cifar10"):
        warning = proxy_warning("vote", dataset)
        assert warning is not None and "\n" not in warning and "nas-scaling proxies" in warning
    assert "natural images" in (proxy_warning("synflow", "cifar10") or "")
    for kind, supported in SUPPORTED.items():
        for proxy in supported:
            assert proxy_warning(proxy, "digits" if kind == "digits" else "cifar10") is None
