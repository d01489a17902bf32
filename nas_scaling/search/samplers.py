"""Optuna samplers and pruners by name, seeded.

``tpe`` (default) is multivariate and grouped, which suits conditional spaces (a stage's settings
exist only for the block kind it drew), with the constant liar so that trials running side by side
under Ray do not all draw the same point. ``nsga2`` is multi-objective (accuracy up, MACs down).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from nas_scaling.errors import UserError

if TYPE_CHECKING:
    import optuna

    from nas_scaling.search.space import SearchSpace

__all__ = ["SAMPLERS", "make_pruner", "make_sampler", "objectives"]

SAMPLERS = ("tpe", "nsga2", "random", "grid")


def objectives(sampler: str) -> tuple[str, ...]:
    """Optuna directions of a study searched with ``sampler``."""
    return ("maximize", "minimize") if sampler == "nsga2" else ("maximize",)


def make_sampler(name: str, *, seed: int, space: SearchSpace, trials: int) -> optuna.samplers.BaseSampler:
    import optuna

    if name not in SAMPLERS:
        raise UserError(f"sampler must be one of {', '.join(SAMPLERS)}, got {name!r}")
    if name == "grid":
        return _grid_sampler(space.grid(), seed)

    def build(draw_seed: int) -> optuna.samplers.BaseSampler:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            if name == "tpe":
                return optuna.samplers.TPESampler(
                    seed=draw_seed, multivariate=True, group=True, constant_liar=True,
                    n_startup_trials=min(10, max(2, trials // 3)),
                )
            if name == "nsga2":
                return optuna.samplers.NSGAIISampler(seed=draw_seed, population_size=min(50, max(4, trials // 3)))
            return optuna.samplers.RandomSampler(seed=draw_seed)

    return _per_draw_seeded(build, seed)


def make_pruner(*, multi_objective: bool, enabled: bool) -> optuna.pruners.BasePruner:
    """Successive halving (ASHA's rule, in Optuna) for the local executor; none for several objectives."""
    import optuna

    if multi_objective or not enabled:
        return optuna.pruners.NopPruner()
    return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)


def _grid_sampler(grid: dict[str, list[object]], seed: int) -> optuna.samplers.BaseSampler:
    """Optuna's GridSampler without its ``study.stop()`` at the end of the grid: that call only works
    inside ``study.optimize``, and we ask and tell (the proposer checks ``is_exhausted`` instead)."""
    import optuna

    class GridSampler(optuna.samplers.GridSampler):
        def after_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial,
                        state: optuna.trial.TrialState, values: object) -> None:
            return None

    return GridSampler(grid, seed=seed)  # type: ignore[arg-type]


def _per_draw_seeded(build: Callable[[int], optuna.samplers.BaseSampler], seed: int) -> optuna.samplers.BaseSampler:
    """A sampler whose k-th draw of a study is seeded by (seed, k), whichever process makes it.

    Optuna's samplers keep one random stream per process, so a search resumed after a crash or
    Ctrl-C would draw other networks than an uninterrupted one. Here each new trial gets a sampler
    seeded from its draw index (trials re-queued after an interruption replay their parameters and
    are not draws), and all else the sampler knows comes from the study: a resumed local search
    trains the same networks as an uninterrupted one.
    """
    import optuna

    from nas_scaling.search.optuna_compat import all_trials

    class PerDrawSeeded(optuna.samplers.BaseSampler):
        def __init__(self) -> None:
            self.inner = build(seed)

        def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            draws = sum(1 for t in all_trials(study)
                        if t.number < trial.number and "retry_history" not in t.system_attrs)
            self.inner = build(_mix(seed, draws))
            self.inner.before_trial(study, trial)

        def infer_relative_search_space(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> Any:
            return self.inner.infer_relative_search_space(study, trial)

        def sample_relative(self, study: optuna.Study, trial: optuna.trial.FrozenTrial, search_space: Any) -> Any:
            return self.inner.sample_relative(study, trial, search_space)

        def sample_independent(self, study: optuna.Study, trial: optuna.trial.FrozenTrial, param_name: str,
                               param_distribution: Any) -> Any:
            return self.inner.sample_independent(study, trial, param_name, param_distribution)

        def after_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial, state: optuna.trial.TrialState,
                        values: Sequence[float] | None) -> None:
            self.inner.after_trial(study, trial, state, values)

        def reseed_rng(self) -> None:
            self.inner.reseed_rng()

    return PerDrawSeeded()


def _mix(seed: int, draw: int) -> int:
    """A 32-bit seed for draw ``draw`` of a search seeded ``seed`` (stable across processes)."""
    import hashlib

    return int.from_bytes(hashlib.sha256(f"{seed}:{draw}".encode()).digest()[:4], "little")
