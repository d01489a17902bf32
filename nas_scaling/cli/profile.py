"""``nas-scaling profile ARCH``: parameters, multiply-adds, model size, and on request fvcore's count,
latency and a budget check.

FLOPs/FLOPS here are multiply-adds (MACs) of conv and linear layers, as in the EfficientNet and
MobileNet papers and torchvision's GFLOPS. A relative budget (``2xFLOPS``) is measured against
``--base`` at the base's own resolution; the base defaults to ARCH itself.
"""

from __future__ import annotations

import argparse
from typing import Any

from nas_scaling.cli.common import add_format, emit, load_arch, positive_int, print_table
from nas_scaling.errors import UserError

__all__ = ["add_parser", "run"]

COUNTERS = ("fast", "fvcore")


def _batch_sizes(text: str) -> tuple[int, ...]:
    try:
        return tuple(positive_int(part) for part in text.split(","))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"must be a comma-list of positive integers, got {text!r}") from None


def _bits_list(text: str) -> tuple[int, ...]:
    try:
        bits = tuple(int(part) for part in text.split(","))
    except ValueError:
        bits = ()
    if not bits or not all(1 <= b <= 64 for b in bits):
        raise argparse.ArgumentTypeError(f"must be a comma-list of integers from 1 to 64, got {text!r}")
    return bits


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "profile",
        help="parameters, FLOPs (multiply-adds), size, latency and budget check of a network",
        description="Cost of a network. FLOPs are multiply-adds (MACs) of conv and linear layers, the "
        "convention of the EfficientNet/MobileNet papers and torchvision's GFLOPS.",
    )
    p.add_argument("arch", metavar="ARCH", help="zoo name or spec file (YAML/JSON)")
    p.add_argument("--resolution", type=positive_int, default=None, help="input side in pixels (default: the spec's)")
    p.add_argument(
        "--counter", choices=COUNTERS, default="fast",
        help="fast: analytic count only (default); fvcore: also fvcore's count on the built model, which adds "
        "batch norm and pooling to conv and linear multiply-adds",
    )
    p.add_argument("--bits", type=_bits_list, default=(32, 8), metavar="N[,N...]",
                   help="model size with dense weights at these bits each (default: 32,8; e.g. 32,16,8,6); "
                   "no pruning: papers that quote Deep Compression sizes also prune")
    p.add_argument("--latency", action="store_true", help="also time forward passes (ms per image, median)")
    p.add_argument("--device", default="cpu", help="device for --latency (default: cpu)")
    p.add_argument("--batch-sizes", type=_batch_sizes, default=(1, 8), metavar="B[,B...]",
                   help="batch sizes for --latency (default: 1,8)")
    p.add_argument(
        "--budget", default=None, metavar="B",
        help="check against a budget: 2xFLOPS, 600MFLOPS, 1.2GFLOPS, 5Mparams, 2xparams or a comma-list "
        "(2xFLOPS,8Mparams); FLOPS = multiply-adds",
    )
    p.add_argument("--base", default=None, metavar="REF",
                   help="network a relative budget (2x...) refers to, at its own resolution (default: ARCH)")
    add_format(p)
    p.set_defaults(func=run)


def profile(
    arch: str,
    *,
    resolution: int | None = None,
    counter: str = "fast",
    latency: bool = False,
    device: str = "cpu",
    batch_sizes: tuple[int, ...] = (1, 8),
    budget: str | None = None,
    base: str | None = None,
    bits: tuple[int, ...] = (32, 8),
) -> dict[str, Any]:
    """Everything ``profile`` reports, as a JSON-ready dict."""
    from nas_scaling.cost import count_cost, model_size_bytes, parse_budget, size_at_bits

    if counter not in COUNTERS:
        raise UserError(f"counter must be one of {', '.join(COUNTERS)}, got {counter!r}")
    if base is not None and budget is None:
        raise UserError(f"--base only applies with --budget, got --base {base!r} alone")
    parsed = None if budget is None else parse_budget(budget)  # fail on a bad budget before any work
    if parsed is not None and base is not None and not parsed.relative:
        raise UserError(f"--base only applies to relative budgets (2xFLOPS, 2xparams), got {str(parsed)!r}")
    spec = load_arch(arch)
    cost = count_cost(spec, resolution=resolution)
    out: dict[str, Any] = {
        "name": spec.name,
        "params": cost.params,
        "macs": cost.macs,
        "resolution": cost.resolution,
        "size_bytes": {"fp32": model_size_bytes(cost.params, "fp32"), "int8": model_size_bytes(cost.params, "int8")},
        "size_at_bits": {str(b): size_at_bits(cost.params, b) for b in bits},
        "stages": [vars(s).copy() for s in cost.stages],
    }
    if cost.aux_params:
        out.update(aux_params=cost.aux_params, aux_macs=cost.aux_macs)
    if counter == "fvcore":
        from nas_scaling.cost import fvcore_flops

        out["fvcore_flops"] = fvcore_flops(spec, resolution=resolution)
    if latency:
        from nas_scaling.cost import measure_latency

        ms = measure_latency(spec, resolution=resolution, device=device, batch_sizes=batch_sizes)
        out["latency_ms"] = {str(b): v for b, v in ms.items()}
        out["device"] = device
    if parsed is not None:
        base_cost = None
        if parsed.relative:
            base_spec = spec if base is None else load_arch(base)
            base_cost = count_cost(base_spec)
            out["base"] = {"name": base_spec.name, "params": base_cost.params, "macs": base_cost.macs,
                           "resolution": base_cost.resolution}
        resolved = parsed.resolve(base_cost)
        check = resolved.check(cost)
        out.update(budget=str(parsed), max_macs=resolved.max_macs, max_params=resolved.max_params,
                   fits=check.fits, ratio=check.ratio)
    return out


def run(args: argparse.Namespace) -> int:
    data = profile(
        args.arch, resolution=args.resolution, counter=args.counter, latency=args.latency, device=args.device,
        batch_sizes=args.batch_sizes, budget=args.budget, base=args.base, bits=args.bits,
    )
    if args.format == "json":
        emit(data)
        return 0
    res = data["resolution"]
    print(f"{data['name']} at {res}x{res}")
    print_table([
        {"stage": s["label"], "block": s["compact"], "repeats": s["repeats"], "in": s["in_channels"],
         "out": s["out_channels"], "size": s["out_size"], "params": s["params"],
         "MFLOPs (multiply-adds)": round(s["macs"] / 1e6, 2)}
        for s in data["stages"]
    ])
    sizes = ", ".join(f"{n / 2**20:.2f} MiB ({n / 1e6:.2f} MB) at {b} bits" for b, n in data["size_at_bits"].items())
    print(f"params: {data['params']:,} ({sizes}; dense weights, no pruning)")
    print(f"MFLOPs (multiply-adds): {data['macs'] / 1e6:,.2f}")
    if data.get("aux_params"):
        print(f"auxiliary classifiers (training only): {data['aux_params']:,} of the params "
              f"({data['params'] - data['aux_params']:,} without them, at inference); their "
              f"{data['aux_macs'] / 1e6:,.2f} MFLOPs per training image are not in the MFLOPs above")
    if "fvcore_flops" in data:
        print(f"fvcore MFLOPs: {data['fvcore_flops'] / 1e6:,.2f} (its flop is a multiply-add; it also counts "
              f"batch norm and pooling)")
    if "latency_ms" in data:
        times = ", ".join(f"batch {b}: {ms:.3f}" for b, ms in data["latency_ms"].items())
        print(f"latency on {data['device']} (ms per image, median): {times}")
    if "budget" in data:
        limits = []
        if data["max_macs"] is not None:
            limits.append(f"{data['max_macs'] / 1e6:,.2f} MFLOPs (multiply-adds)")
        if data["max_params"] is not None:
            limits.append(f"{data['max_params']:,.0f} params")
        against = f" of {data['base']['name']} at {data['base']['resolution']}" if "base" in data else ""
        verdict = "fits" if data["fits"] else "does not fit"
        print(f"budget {data['budget']}{against} = {', '.join(limits)}: {verdict} (ratio {data['ratio']:.3f})")
    return 0
