"""AdamW's step on the CPU as PyTorch implements it three ways (per-parameter loop, foreach, fused), one run.

The training loop uses the fused implementation on CPU as on CUDA (issue 17). This times one
``optimizer.step()`` of each on the parameters of a grid candidate (``efficientnet_tiny`` scaled
under ``2xFLOPS``, the loop's two parameter groups: weight decay on weights, none on biases and norm
weights), the gradients the same random tensors for all three, in alternating rounds, one CPU
thread; and how far each one's parameters end from the loop's after the same steps.

    python benchmarks/optimizer_step.py
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import statistics
import time

import torch
from torch import nn

from nas_scaling.cost import parse_budget
from nas_scaling.experiments.grid_plan import plan_grid
from nas_scaling.models import build_model
from nas_scaling.zoo import get_spec

KINDS = {"loop": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}


def _optimizer(model: nn.Module, kind: str) -> torch.optim.Optimizer:
    params = list(model.parameters())
    groups = [{"params": [p for p in params if p.ndim > 1], "weight_decay": 0.01},
              {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=3e-3, **KINDS[kind])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidate", default="a1.65_b1_g1")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    torch.set_num_threads(1)
    plan = plan_grid(get_spec("efficientnet_tiny"), parse_budget("2xFLOPS"))
    candidate = next(c for c in plan.candidates if c.key == args.candidate)
    torch.manual_seed(0)
    base = build_model(dataclasses.replace(candidate.spec, in_channels=1, num_classes=10))
    generator = torch.Generator().manual_seed(1)
    grads = [torch.randn(p.shape, generator=generator) for p in base.parameters()]
    models = {kind: copy.deepcopy(base) for kind in KINDS}
    optimizers = {kind: _optimizer(m, kind) for kind, m in models.items()}
    for model in models.values():
        for p, g in zip(model.parameters(), grads, strict=True):
            p.grad = g.clone()
    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for _ in range(args.rounds):
        for kind, optimizer in optimizers.items():
            optimizer.step()  # warm
            start = time.perf_counter()
            for _ in range(args.steps):
                optimizer.step()
            times[kind].append((time.perf_counter() - start) / args.steps)
    reference = torch.cat([p.detach().flatten() for p in models["loop"].parameters()])
    count = sum(1 for _ in base.parameters())
    print(f"{candidate.key}: {count} parameter tensors, {sum(p.numel() for p in base.parameters()):,} parameters, "
          f"1 thread, {args.rounds} rounds of {args.steps} steps (median)")
    print("| AdamW | ms per step | vs loop | largest difference from loop after all steps |")
    print("|---|---:|---:|---:|")
    loop = statistics.median(times["loop"])
    for kind in KINDS:
        ms = statistics.median(times[kind])
        after = torch.cat([p.detach().flatten() for p in models[kind].parameters()])
        print(f"| {kind} | {ms * 1000:.2f} | {loop / ms:.2f}x | {(after - reference).abs().max().item():.1e} |")


if __name__ == "__main__":
    main()
