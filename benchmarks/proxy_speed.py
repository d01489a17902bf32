"""Zero-cost proxy scoring against one training epoch of the same network, in one run.

Draws ``--samples`` distinct networks of a search space under the budget (the prescreen's draws),
then for each: the time to score it with each proxy (build the model from the seed + one minibatch
of ``--proxy-batch`` digits, 64 as the prescreen uses, as ``compute_proxies`` does; median of
``--repeats``) and the time of one proxy-training epoch (build the model +
``nas_scaling.training.train`` with ``epochs=1``: the epoch, batch-norm re-estimation and
validation, data already in memory). Both use the same thread count. Prints the per-network
table and, per proxy, the median over networks of epoch time / scoring time. Target: every proxy
and the vote >= 100x cheaper than an epoch.

    python benchmarks/proxy_speed.py [--space search_spaces/mixed.yaml] [--samples 10] [--threads 1]
                                     [--proxy-batch 64]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nas_scaling.cli.proxies import load_space_reference
from nas_scaling.cost import parse_budget
from nas_scaling.data import DatasetSplits, load_dataset
from nas_scaling.data.preprocess import TensorImageDataset
from nas_scaling.experiments.prescreen import VOTE_PROXIES, Minibatches, sample_feasible
from nas_scaling.models import build_model
from nas_scaling.proxies import PROXIES, compute_proxies
from nas_scaling.training import TrainConfig, seed_everything, train

ROOT = Path(__file__).resolve().parents[1]
TARGET = 100.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", type=Path, default=ROOT / "search_spaces" / "mixed.yaml")
    parser.add_argument("--budget", default="2xFLOPS")
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads for both (a Ray trial's one)")
    parser.add_argument("--repeats", type=int, default=3, help="scorings per proxy and network (median)")
    parser.add_argument("--proxy-batch", type=int, default=64, help="images in the scoring minibatch (prescreen's 64)")
    parser.add_argument("--train-images", type=int, default=None,
                        help="train the epoch on this many images (the digits training set tiled), e.g. 50000 for "
                        "an epoch the size of CIFAR-10's; default: the digits training set (1,078)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    space, reference = load_space_reference(args.space)
    draws = sample_feasible(space, reference, parse_budget(args.budget), args.samples, seed=args.seed,
                            num_classes=10, in_channels=reference.in_channels)
    batches = Minibatches("digits", in_channels=reference.in_channels, batch_size=args.proxy_batch, seed=args.seed)
    datasets = {r: _tiled(load_dataset("digits", resolution=r, in_channels=reference.in_channels), args.train_images)
                for r in sorted({d.spec.resolution for d in draws})}
    x0, y0 = batches(draws[0].spec.resolution)
    compute_proxies(draws[0].spec, x0, y0, seed=args.seed)  # warm-up: lazy initialisation, allocator

    rows = []
    for i, d in enumerate(draws):
        x, y = batches(d.spec.resolution)
        proxy_s = {}
        for name in PROXIES:
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                compute_proxies(d.spec, x, y, names=[name], seed=args.seed)
                times.append(time.perf_counter() - start)
            proxy_s[name] = statistics.median(times)
        proxy_s["vote"] = sum(proxy_s[n] for n in VOTE_PROXIES)
        proxy_s["all five"] = sum(proxy_s[n] for n in PROXIES)
        start = time.perf_counter()
        seed_everything(args.seed)
        model = build_model(d.spec)
        result = train(model, datasets[d.spec.resolution], TrainConfig(epochs=1, threads=args.threads, seed=args.seed))
        epoch_s = time.perf_counter() - start
        assert result.status == "completed", result.reason
        rows.append((d, epoch_s, proxy_s))
        print(f"network {i}: {d.spec.resolution} px, {d.macs / 1e6:.2f} MFLOPs, epoch {epoch_s:.2f} s, "
              + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in proxy_s.items()), flush=True)

    names = [*PROXIES, "vote", "all five"]
    print(f"\n{len(rows)} networks of {space.name!r} under {args.budget}, {args.threads} thread(s), proxy batch "
          f"{batches.batch_size}, median of {args.repeats} scorings; one epoch = build + train(epochs=1) on digits"
          + (f" tiled to {args.train_images:,} images" if args.train_images else ""))
    print(f"{'proxy':<10} {'median ms':>10} {'median epoch s':>15} {'median ratio':>13} {'min ratio':>10}  target")
    epoch_median = statistics.median(e for _, e, _ in rows)
    ok = True
    for name in names:
        ratios = [e / p[name] for _, e, p in rows]
        met = statistics.median(ratios) >= TARGET
        ok = ok and (met or name == "all five")
        print(f"{name:<10} {statistics.median(p[name] for _, _, p in rows) * 1000:>10.0f} {epoch_median:>15.2f} "
              f"{statistics.median(ratios):>12.0f}x {min(ratios):>9.0f}x  {'>= 100x: yes' if met else '>= 100x: NO'}")
    return 0 if ok else 1


def _tiled(data: DatasetSplits, images: int | None) -> DatasetSplits:
    """``data`` with its training set repeated to ``images`` images (same content, a bigger epoch)."""
    if images is None:
        return data
    train = data.train
    assert isinstance(train, TensorImageDataset)
    reps = -(-images // len(train))
    x = train.images.repeat(reps, 1, 1, 1)[:images]
    y = train.labels.repeat(reps)[:images]
    return dataclasses.replace(data, train=TensorImageDataset(x, y))


if __name__ == "__main__":
    sys.exit(main())
