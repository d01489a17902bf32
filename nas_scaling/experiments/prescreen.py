"""Prescreening: draw feasible networks from a search space, score them with a zero-cost proxy, and
keep the best few for training.

Draws go through an in-memory Optuna study with a seeded ``RandomSampler``, so each one keeps the
Optuna parameters it came from and can be enqueued into a real study (``study.enqueue_trial``)
to be trained there. Scoring is deterministic for a seed: every model is built from ``seed`` and
scored on one fixed minibatch (the same images, resized, at every resolution of the space).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas_scaling.cost import Budget, ResolvedBudget, count_cost
from nas_scaling.errors import SpecError, UserError
from nas_scaling.proxies.registry import PROXIES, VOTE_PROXIES, Batch, compute_proxies, vote
from nas_scaling.spec import NetworkSpec, network_to_compact

if TYPE_CHECKING:
    import optuna

    from nas_scaling.experiments.grid_plan import GridPlan
    from nas_scaling.search.space import SearchSpace

__all__ = [
    "PROXY_CHOICES", "VOTE_PROXIES", "Draw", "Minibatches", "PrescreenOptions", "Ranked", "enqueue_top",
    "prescreen_plan", "proxy_attrs", "proxy_members", "proxy_values", "proxy_warning", "rank_by_proxy",
    "sample_feasible", "score_specs", "torch_threads",
]

PROXY_CHOICES = (*PROXIES, "vote")
"""What ``--proxy`` accepts."""


def _check_proxy(proxy: str) -> None:
    if proxy not in PROXY_CHOICES:
        raise UserError(f"unknown proxy {proxy!r}; choose from {', '.join(PROXY_CHOICES)}")


def proxy_members(proxy: str) -> tuple[str, ...]:
    """The single proxies ``proxy`` needs computed (``vote``: :data:`VOTE_PROXIES`)."""
    _check_proxy(proxy)
    return VOTE_PROXIES if proxy == "vote" else (proxy,)


@dataclass(frozen=True)
class PrescreenOptions:
    """Score ``samples`` feasible draws with ``proxy`` and train the best ``train_top``."""

    samples: int
    train_top: int
    proxy: str = "vote"
    batch_size: int = 64
    """Images in the scoring minibatch."""

    def __post_init__(self) -> None:
        _check_proxy(self.proxy)
        for name in ("samples", "train_top", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"prescreen {name.replace('_', '-')} must be a positive integer, got {value!r}")
        if self.train_top > self.samples:
            raise UserError(f"--train-top must be at most --prescreen (the candidates scored), got train-top "
                            f"{self.train_top} > prescreen {self.samples}")


SUPPORTED: dict[str, tuple[str, ...]] = {"digits": (), "natural images": ()}
"""Proxies that a measurement in benchmarks/README.md found to rank networks usefully (a positive,
significant rank correlation with trained accuracy), by kind of data. None so far: on digits (n = 30)
the gradient proxies and the vote are anti-correlated with 3-epoch accuracy; on CIFAR-10 see the
"Real images" section. The default ``--proxy`` stays ``vote`` and every prescreen says so."""


def proxy_warning(proxy: str, dataset: str) -> str | None:
    """One line when ``proxy`` is not measured to rank networks on ``dataset``'s kind of data."""
    kind = "digits" if dataset in ("digits", "mnist", "fashion-mnist") else "natural images"
    if proxy in SUPPORTED[kind]:
        return None
    return (f"prescreen: warning: {proxy} is not measured to rank networks on {kind} (benchmarks/README.md, "
            "zero-cost proxies: none is yet); check it on your data first with 'nas-scaling proxies --space S "
            "--samples 12 --train-top 12 --fidelity E --dataset D'")


# --- sampling --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Draw:
    """One feasible network of a space with the Optuna parameters that produce it."""

    params: dict[str, Any]
    spec: NetworkSpec
    arch: str
    macs: int
    n_params: int


def sample_feasible(
    space: SearchSpace,
    reference: NetworkSpec,
    budget: Budget | ResolvedBudget,
    n: int,
    *,
    seed: int = 0,
    num_classes: int,
    in_channels: int,
    max_draws: int | None = None,
) -> list[Draw]:
    """Up to ``n`` distinct (by :func:`network_to_compact`) networks of ``space`` within ``budget``.

    A relative budget (``2xFLOPS``) refers to ``reference``, whose resolution also fills a space that
    leaves it open. Draws over the budget, invalid ones and repeats are skipped; after ``max_draws``
    draws (default ``50 n + 500``) what was found is returned, so fewer than ``n`` means the space
    holds few networks under this budget. The same arguments give the same list.
    """
    import optuna
    from optuna.trial import TrialState

    from nas_scaling.search.space import resolve_resolution

    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise UserError(f"samples must be a positive integer, got {n!r}")
    space = resolve_resolution(space, reference)
    limits = budget.resolve(count_cost(reference)) if isinstance(budget, Budget) else budget
    limit = max_draws if max_draws is not None else 50 * n + 500
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    found: list[Draw] = []
    seen: set[str] = set()
    for _ in range(limit):
        if len(found) == n:
            break
        trial = study.ask()
        try:
            spec = space.sample(trial, num_classes=num_classes, in_channels=in_channels,
                                name=f"{space.name}-p{len(found)}")
            cost = count_cost(spec)
        except SpecError:
            study.tell(trial, state=TrialState.FAIL)
            continue
        arch = network_to_compact(spec)
        if not limits.check(cost).fits or arch in seen:
            study.tell(trial, state=TrialState.FAIL)
            continue
        study.tell(trial, 0.0)
        seen.add(arch)
        found.append(Draw(dict(trial.params), spec, arch, cost.macs, cost.params))
    return found


# --- scoring ---------------------------------------------------------------------------------------


class Minibatches:
    """One fixed minibatch of a dataset's training split per resolution, loaded on first use.

    The images are the same ones (chosen by ``seed``) at every resolution, so candidates at
    different resolutions are scored on the same data.
    """

    def __init__(self, dataset: str = "digits", *, in_channels: int, batch_size: int = 64, seed: int = 0,
                 data_dir: str | Path | None = None) -> None:
        self.dataset = dataset
        self.in_channels = in_channels
        self.batch_size = batch_size
        self.seed = seed
        self.data_dir = None if data_dir is None else Path(data_dir)
        self._cache: dict[int, Batch] = {}

    def __call__(self, resolution: int) -> Batch:
        if resolution not in self._cache:
            self._cache[resolution] = self._load(resolution)
        return self._cache[resolution]

    def _load(self, resolution: int) -> Batch:
        import torch

        from nas_scaling.data import TensorImageDataset, load_dataset

        train = load_dataset(self.dataset, resolution=resolution, in_channels=self.in_channels,
                             data_dir=self.data_dir).train
        size = len(train)  # type: ignore[arg-type]
        generator = torch.Generator().manual_seed(self.seed)
        index = torch.randperm(size, generator=generator)[: self.batch_size]
        if isinstance(train, TensorImageDataset):
            return train.images[index].float(), train.labels[index].long()
        items = [train[int(i)] for i in index]
        return (torch.stack([x for x, _ in items]).float(),
                torch.as_tensor([int(y) for _, y in items], dtype=torch.long))


BatchSource = Batch | Callable[[int], Batch]
"""One batch for every network, or a function from a resolution to the batch at it."""


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` intra-op threads (``None``: as is), restoring the count after."""
    import torch

    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def score_specs(
    specs: Sequence[NetworkSpec], names: Sequence[str], *, batches: BatchSource, seed: int = 0,
    threads: int | None = 1, progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, float]]:
    """Each proxy of ``names`` for each spec, the model built from ``seed`` at the batch's resolution.

    ``threads=1`` (default): these are small single-batch passes, which one intra-op thread runs
    fastest; on a busy 2-core CPU two threads were 10x slower (spinning), and one is reproducible.
    """
    out = []
    with torch_threads(threads):
        for i, spec in enumerate(specs):
            x, y = batches(spec.resolution) if callable(batches) else batches
            out.append(compute_proxies(spec, x, y, names=list(names), seed=seed))
            if progress is not None:
                progress(i + 1, len(specs))
    return out


def proxy_values(scores: Sequence[dict[str, float]], proxy: str) -> list[float]:
    """The ``proxy`` value of each candidate: its score, or for ``vote`` its rank average."""
    _check_proxy(proxy)
    if proxy == "vote":
        return vote([{k: s[k] for k in VOTE_PROXIES} for s in scores])
    return [s[proxy] for s in scores]


@dataclass(frozen=True)
class Ranked:
    index: int
    """Position of the candidate in the list given to :func:`rank_by_proxy`."""
    score: float
    """The proxy's value (for ``vote``, the average rank: higher = better)."""
    scores: dict[str, float]
    """Every single proxy computed for it."""


def _order_key(value: float) -> float:
    return -math.inf if math.isnan(value) else value


def rank_by_proxy(
    specs: Sequence[NetworkSpec], proxy: str, *, batches: BatchSource, seed: int = 0, threads: int | None = 1,
    progress: Callable[[int, int], None] | None = None,
) -> list[Ranked]:
    """Every spec scored by ``proxy``, best first (``nan`` last, ties in input order); deterministic."""
    scores = score_specs(specs, proxy_members(proxy), batches=batches, seed=seed, threads=threads,
                         progress=progress)
    values = proxy_values(scores, proxy)
    ranked = [Ranked(i, v, s) for i, (v, s) in enumerate(zip(values, scores, strict=True))]
    return sorted(ranked, key=lambda r: (-_order_key(r.score), r.index))


# --- the search's hook -----------------------------------------------------------------------------


def enqueue_top(
    study: optuna.Study,
    space: SearchSpace,
    reference: NetworkSpec,
    budget: Budget | ResolvedBudget,
    options: PrescreenOptions,
    *,
    dataset: str,
    data_dir: str | None,
    seed: int,
    num_classes: int,
    in_channels: int,
    log: Callable[[str], None],
) -> int:
    """Prescreen ``options.samples`` draws and enqueue the best ``options.train_top`` into ``study``.

    Candidates are enqueued best first with user attributes ``proxy_<name>`` (every proxy computed)
    and ``prescreen_rank``. One whose parameters the study already holds (enqueued by an earlier
    run, trained, or re-queued after a crash) is not enqueued again, so a rerun never doubles them.
    Returns how many were enqueued.
    """
    warning = proxy_warning(options.proxy, dataset)
    if warning:
        log(warning)
    draws = sample_feasible(space, reference, budget, options.samples, seed=seed, num_classes=num_classes,
                            in_channels=in_channels)
    if len(draws) < options.samples:
        log(f"prescreen: only {len(draws)} distinct networks under the budget were found "
            f"(asked for {options.samples})")
    batches = Minibatches(dataset, in_channels=in_channels, batch_size=options.batch_size, seed=seed,
                          data_dir=data_dir)
    ranked = rank_by_proxy([d.spec for d in draws], options.proxy, batches=batches, seed=seed)
    before = len(study.get_trials(deepcopy=False))
    for rank, r in enumerate(ranked[: options.train_top], start=1):
        study.enqueue_trial(draws[r.index].params, user_attrs=proxy_attrs(r, options.proxy, rank),
                            skip_if_exists=True)
    added = len(study.get_trials(deepcopy=False)) - before
    top = ranked[: options.train_top]
    log(f"prescreen: scored {len(draws)} candidates with {options.proxy}; enqueued {added} of the top "
        f"{len(top)} ({len(top) - added} already in the study); scores {_span([r.score for r in top])}")
    return added


def _json_number(value: float) -> float | None:
    """``nan`` / ``inf`` do not survive JSON storage; they become ``None``."""
    return value if math.isfinite(value) else None


def _span(values: list[float]) -> str:
    finite = [v for v in values if math.isfinite(v)]
    return f"{max(finite):.4g} .. {min(finite):.4g}" if finite else "not finite"


# --- the grid's hook -------------------------------------------------------------------------------


def prescreen_plan(
    plan: GridPlan, options: PrescreenOptions, *, dataset: str, data_dir: str | None, seed: int,
    log: Callable[[str], None],
) -> tuple[GridPlan, dict[str, dict[str, float]]]:
    """``plan`` keeping only the proxy's best ``options.train_top`` candidates (in grid order), and
    each kept candidate's scores by key (``proxy_<name>`` for every proxy computed, ``prescreen_rank``).

    Deterministic for a seed, so a resumed grid selects the same candidates again.
    """
    from dataclasses import replace

    warning = proxy_warning(options.proxy, dataset)
    if warning:
        log(warning)
    specs = [c.spec for c in plan.candidates]
    batches = Minibatches(dataset, in_channels=plan.base.in_channels, batch_size=options.batch_size, seed=seed,
                          data_dir=data_dir)
    ranked = rank_by_proxy(specs, options.proxy, batches=batches, seed=seed)
    keep = {r.index for r in ranked[: options.train_top]}
    chosen = tuple(c for i, c in enumerate(plan.candidates) if i in keep)
    log(f"prescreen: scored {len(specs)} grid candidates with {options.proxy}; training the top {len(chosen)}: "
        + ", ".join(f"{plan.candidates[r.index].key} ({r.score:.4g})" for r in ranked[: options.train_top]))
    return replace(plan, candidates=chosen), {
        plan.candidates[r.index].key: proxy_attrs(r, options.proxy, rank)
        for rank, r in enumerate(ranked[: options.train_top], start=1)
    }


def proxy_attrs(ranked: Ranked, proxy: str, rank: int) -> dict[str, Any]:
    """What a prescreened candidate carries into its trial and run: ``proxy_<name>`` for every proxy
    computed (None where not finite), ``proxy_vote`` when ranked by the vote, ``prescreen_rank``."""
    attrs: dict[str, Any] = {f"proxy_{k}": _json_number(v) for k, v in ranked.scores.items()}
    if proxy == "vote":
        attrs["proxy_vote"] = ranked.score
    attrs["prescreen_rank"] = rank
    return attrs
