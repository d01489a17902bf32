"""Optuna samplers and pruners by name, seeded.

``tpe`` (default) is multivariate and grouped, which suits conditional spaces (a stage's settings
exist only for the block kind it drew), with the constant liar so that trials running side by side
under Ray do not all draw the same point. ``nsga2`` is multi-objective (accuracy up, MACs down).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if name == "tpe":
            return optuna.samplers.TPESampler(
                seed=seed, multivariate=True, group=True, constant_liar=True,
                n_startup_trials=min(10, max(2, trials // 3)),
            )
        if name == "nsga2":
            return optuna.samplers.NSGAIISampler(seed=seed, population_size=min(50, max(4, trials // 3)))
        if name == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        return _grid_sampler(space.grid(), seed)


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
