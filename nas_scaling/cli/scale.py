"""``nas-scaling scale ARCH --phi-max N``: the compound-scaled family of a network."""

from __future__ import annotations

import argparse
from pathlib import Path

from nas_scaling.cli.common import add_format, emit, int_range, load_arch, positive_float, print_table

__all__ = ["add_parser"]


def _at_least_one(text: str) -> float:
    value = positive_float(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a number >= 1, got {text!r}")
    return value


_phi_max = int_range(1, 20)


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "scale",
        help="compound-scale a network: the family phi = 0..N",
        description="depth = alpha^phi, width = beta^phi, resolution = gamma^phi (channels rounded to "
        "multiples of 8, never below 90%%; repeats rounded up). Defaults are EfficientNet's "
        "alpha=1.2, beta=1.1, gamma=1.15. With --published and an EfficientNet base, uses the released "
        "B0-B7 multipliers instead of the formula.",
    )
    p.add_argument("arch", metavar="ARCH", help="zoo name or spec file")
    p.add_argument("--phi-max", type=_phi_max, required=True)
    p.add_argument("--alpha", type=_at_least_one, default=1.2)
    p.add_argument("--beta", type=_at_least_one, default=1.1)
    p.add_argument("--gamma", type=_at_least_one, default=1.15)
    p.add_argument("--published", action="store_true",
                   help="use the released EfficientNet B0-B7 (width, depth, resolution) table (phi <= 7)")
    p.add_argument("--output", type=Path, default=None, help="write each member's spec (YAML) here")
    add_format(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from nas_scaling.cost import count_cost
    from nas_scaling.errors import UserError
    from nas_scaling.scaling import EFFICIENTNET_MULTIPLIERS, compound_multipliers, compound_scale, scale_spec
    from nas_scaling.spec import save_spec

    base = load_arch(args.arch)
    base_cost = count_cost(base)
    rows = []
    for phi in range(args.phi_max + 1):
        if args.published:
            if phi not in EFFICIENTNET_MULTIPLIERS:
                raise UserError(f"--published has phi 0..7 only, got --phi-max {args.phi_max}")
            m = EFFICIENTNET_MULTIPLIERS[phi]
            depth, width = m.depth, m.width
            spec = scale_spec(base, width=width, depth=depth, resolution=m.resolution, name=f"{base.name}_phi{phi}")
            spec = replace(spec, head=replace(spec.head, dropout=m.dropout))
        else:
            depth, width, _ = compound_multipliers(phi, args.alpha, args.beta, args.gamma)
            spec = compound_scale(base, phi=phi, alpha=args.alpha, beta=args.beta, gamma=args.gamma,
                                  name=f"{base.name}_phi{phi}")
        cost = count_cost(spec)
        rows.append({"phi": phi, "depth": round(depth, 4), "width": round(width, 4), "resolution": spec.resolution,
                     "params": cost.params, "macs": cost.macs, "macs_ratio": round(cost.macs / base_cost.macs, 3)})
        if args.output is not None:
            save_spec(spec, args.output / f"{spec.name}.yaml")
    if args.format == "json":
        emit(rows)
        return 0
    print_table([{**{k: v for k, v in r.items() if k not in ("macs", "macs_ratio")},
                  "MFLOPs (multiply-adds)": round(int(r["macs"]) / 1e6, 2), "x base": r["macs_ratio"]} for r in rows])
    if args.output is not None:
        print(f"wrote {len(rows)} specs to {args.output}")
    return 0
