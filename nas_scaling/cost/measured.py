"""Costs measured on the built model: fvcore's flop count (a cross-check of the analytic path, and
its baseline in ``benchmarks/cost_speed.py``) and wall-clock latency. torch is imported lazily."""

from __future__ import annotations

import logging
import statistics
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from nas_scaling.errors import UserError

if TYPE_CHECKING:
    from nas_scaling.spec import NetworkSpec

__all__ = ["CONV_LINEAR_OPERATORS", "fvcore_by_operator", "fvcore_conv_linear_macs", "fvcore_flops",
           "measure_latency"]

CONV_LINEAR_OPERATORS = ("conv", "addmm", "linear", "matmul", "mm")
"""fvcore ``by_operator()`` keys of conv and linear layers (its unit: one multiply-add = one flop)."""


def _errors_only(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.ERROR


@contextmanager
def _quiet_fvcore() -> Iterator[Any]:
    """``fvcore.nn`` with its import-time FutureWarning and its operator logs silenced for this call
    only (a filter added and removed, so the loggers' levels stay the application's)."""
    loggers = [logging.getLogger(n) for n in ("fvcore", "fvcore.nn.jit_analysis", "fvcore.nn.precise_bn", "iopath")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lg in loggers:
            lg.addFilter(_errors_only)
        try:
            import fvcore.nn

            yield fvcore.nn
        finally:
            for lg in loggers:
                lg.removeFilter(_errors_only)


def fvcore_by_operator(spec: NetworkSpec, *, resolution: int | None = None) -> dict[str, int]:
    """fvcore's ``FlopCountAnalysis(...).by_operator()`` on the built model in eval mode (batch 1)."""
    import torch

    from nas_scaling.models import build_model, example_input

    model = build_model(spec, resolution=resolution).eval()
    x = example_input(spec, resolution=resolution)
    with _quiet_fvcore() as fnn, torch.no_grad():
        analysis = fnn.FlopCountAnalysis(model, x)
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        analysis.tracer_warnings("none")
        return {k: int(v) for k, v in analysis.by_operator().items()}


def fvcore_flops(spec: NetworkSpec, *, resolution: int | None = None) -> int:
    """fvcore's total: conv and linear multiply-adds plus batch norm, pooling and the like."""
    return sum(fvcore_by_operator(spec, resolution=resolution).values())


def fvcore_conv_linear_macs(spec: NetworkSpec, *, resolution: int | None = None) -> int:
    """fvcore's count restricted to conv and linear layers: what :func:`count_cost` computes."""
    ops = fvcore_by_operator(spec, resolution=resolution)
    return sum(v for k, v in ops.items() if k in CONV_LINEAR_OPERATORS)


def measure_latency(
    spec: NetworkSpec,
    *,
    resolution: int | None = None,
    device: str = "cpu",
    batch_sizes: Sequence[int] = (1, 8),
    warmup: int = 3,
    repeats: int = 10,
) -> dict[int, float]:
    """Milliseconds per image for each batch size: median of ``repeats`` timed forward passes in
    eval mode under ``torch.inference_mode`` after ``warmup`` untimed ones."""
    import torch

    from nas_scaling.models import build_model, example_input

    if not batch_sizes or any(not isinstance(b, int) or b < 1 for b in batch_sizes):
        raise UserError(f"batch sizes must be positive integers, got {tuple(batch_sizes)!r}")
    if warmup < 0 or repeats < 1:
        raise UserError(f"warmup must be >= 0 and repeats >= 1, got warmup={warmup}, repeats={repeats}")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise UserError(f"device must be a torch device such as cpu, cuda, cuda:0 or mps, got {device!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {device!r} asked for but CUDA is not available; use --device cpu")
    model = build_model(spec, resolution=resolution).eval().to(dev)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    out: dict[int, float] = {}
    with torch.inference_mode():
        for batch in batch_sizes:
            x = example_input(spec, resolution=resolution, batch=batch).to(dev)
            for _ in range(warmup):
                model(x)
            sync()
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                model(x)
                sync()
                times.append(time.perf_counter() - start)
            out[batch] = statistics.median(times) * 1000.0 / batch
    return out
