"""``nas-scaling show ARCH``: a per-stage table of a network."""

from __future__ import annotations

import argparse

from nas_scaling.cli.common import add_format, emit, load_arch, positive_int, print_table

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("show", help="per-stage table of a zoo entry or spec file")
    p.add_argument("arch", metavar="ARCH", help="zoo name or spec file (YAML/JSON)")
    p.add_argument("--resolution", type=positive_int, default=None, help="input side in pixels")
    add_format(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nas_scaling.cost import count_cost

    spec = load_arch(args.arch)
    cost = count_cost(spec, resolution=args.resolution)
    rows = [
        {"stage": s.label, "block": s.compact, "repeats": s.repeats, "in": s.in_channels, "out": s.out_channels,
         "size": s.out_size, "params": s.params, "macs": s.macs}
        for s in cost.stages
    ]
    if args.format == "json":
        emit({"name": spec.name, "resolution": cost.resolution, "params": cost.params, "macs": cost.macs,
              "stages": rows})
        return 0
    print(f"{spec.name} at {cost.resolution}x{cost.resolution}x{spec.in_channels}, {spec.num_classes} classes")
    print_table([{("MACs" if k == "macs" else k): v for k, v in r.items()} for r in rows])
    print(f"total: {cost.params:,} params, {cost.macs / 1e6:,.2f} MFLOPs (multiply-adds)")
    return 0
