"""Training step of a depthwise-heavy network with DepthwiseConv2d against the plain nn.Conv2d, one run.

The default grid's largest candidate (``efficientnet_tiny`` scaled by alpha 1.65 under ``2xFLOPS``,
16x16 digits-shaped inputs, batch 32, one CPU thread, channels_last as the training loop uses) is
built once; its depthwise convolutions are then run as :class:`DepthwiseConv2d` (which, on maps
smaller than the kernel, uses only the taps that meet the map) and as plain ``nn.Conv2d``, in
alternating rounds of forward + backward steps. It prints the seconds per step of each, their
ratio, and whether the outputs are equal to the bit and the gradients to rounding.

    python benchmarks/depthwise_step.py
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch
from torch import nn

from nas_scaling.cost import parse_budget
from nas_scaling.experiments.grid_plan import plan_grid
from nas_scaling.models import build_model
from nas_scaling.models.layers import DepthwiseConv2d
from nas_scaling.zoo import get_spec


def _set(model: nn.Module, cls: type[nn.Conv2d]) -> int:
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.groups > 1
             and m.groups == m.in_channels == m.out_channels]
    for m in convs:
        m.__class__ = cls
    return len(convs)


def _step(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    torch.manual_seed(1)  # the same dropout and stochastic-depth draws for both
    out = model(x)
    out.logsumexp(1).mean().backward()
    return out.detach(), torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidate", default="a1.65_b1_g1")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    torch.set_num_threads(1)
    plan = plan_grid(get_spec("efficientnet_tiny"), parse_budget("2xFLOPS"))
    candidate = next(c for c in plan.candidates if c.key == args.candidate)
    spec = dataclasses.replace(candidate.spec, in_channels=1, num_classes=10)
    model = build_model(spec).train().to(memory_format=torch.channels_last)
    x = torch.randn(32, 1, spec.resolution, spec.resolution).contiguous(memory_format=torch.channels_last)

    count = _set(model, nn.Conv2d)
    plain = _step(model, x)
    _set(model, DepthwiseConv2d)
    fast = _step(model, x)
    times: dict[str, list[float]] = {"nn.Conv2d": [], "DepthwiseConv2d": []}
    for _ in range(args.rounds):
        for name, cls in (("nn.Conv2d", nn.Conv2d), ("DepthwiseConv2d", DepthwiseConv2d)):
            _set(model, cls)
            _step(model, x)  # warm
            start = time.perf_counter()
            for _ in range(args.steps):
                _step(model, x)
            times[name].append((time.perf_counter() - start) / args.steps)
    slow, quick = statistics.median(times["nn.Conv2d"]), statistics.median(times["DepthwiseConv2d"])
    print(f"{candidate.key} at {spec.resolution} px, batch 32, 1 thread, {count} depthwise convolutions, "
          f"{args.rounds} rounds of {args.steps} steps (median)")
    print(f"nn.Conv2d:       {slow:.4f} s per step")
    print(f"DepthwiseConv2d: {quick:.4f} s per step")
    print(f"speed-up: {slow / quick:.2f}x; outputs equal: {torch.equal(plain[0], fast[0])}; "
          f"largest gradient difference: {(plain[1] - fast[1]).abs().max().item():.2e}")


if __name__ == "__main__":
    main()
