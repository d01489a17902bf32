"""One depthwise convolution's forward + backward at the grid's shapes: padding inside the convolution
against the map zero-padded first (``F.pad``, then ``padding=0``), one run.

The shapes are those of the default grid's candidates at 16 px (batch 32, channels_last, one CPU
thread). Where the map is smaller than the kernel, ``DepthwiseConv2d`` pads first; this shows why
there and why not on larger maps. Median of rounds, alternating the two forms; the outputs are
checked equal to the bit.

    python benchmarks/depthwise_shapes.py
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

# (channels, map side, kernel, stride), as in efficientnet_tiny's 2xFLOPS candidates at 16 px
SHAPES = [(240, 2, 3, 1), (336, 2, 3, 1), (144, 4, 5, 1), (96, 8, 5, 2), (48, 16, 3, 2), (240, 4, 3, 1),
          (96, 8, 3, 1)]


def _inside(x: torch.Tensor, w: torch.Tensor, stride: int, pad: int) -> torch.Tensor:
    return F.conv2d(x, w, None, stride, pad, 1, x.shape[1])


def _first(x: torch.Tensor, w: torch.Tensor, stride: int, pad: int) -> torch.Tensor:
    return F.conv2d(F.pad(x, (pad, pad, pad, pad)), w, None, stride, 0, 1, x.shape[1])


def _time(f, x: torch.Tensor, w: torch.Tensor, stride: int, pad: int, steps: int) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for _ in range(steps):
        out = f(x, w, stride, pad)
        out.backward(torch.ones_like(out))
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("| channels x map, kernel, stride | padding inside (ms) | padded first (ms) | inside / first | equal |")
    print("|---|---:|---:|---:|---|")
    for channels, side, kernel, stride in SHAPES:
        pad = kernel // 2
        x = torch.randn(32, channels, side, side).contiguous(memory_format=torch.channels_last).requires_grad_()
        w = torch.randn(channels, 1, kernel, kernel).contiguous(memory_format=torch.channels_last).requires_grad_()
        times: dict[str, list[float]] = {"inside": [], "first": []}
        for f in (_inside, _first):
            _time(f, x, w, stride, pad, 3)  # warm
        for _ in range(args.rounds):
            times["inside"].append(_time(_inside, x, w, stride, pad, args.steps))
            times["first"].append(_time(_first, x, w, stride, pad, args.steps))
        inside, first = statistics.median(times["inside"]), statistics.median(times["first"])
        with torch.no_grad():
            equal = torch.equal(_inside(x, w, stride, pad), _first(x, w, stride, pad))
        print(f"| {channels} x {side}x{side}, {kernel}x{kernel}, {stride} | {inside * 1000:.2f} | {first * 1000:.2f} "
              f"| {inside / first:.2f} | {equal} |")


if __name__ == "__main__":
    main()
