"""``nas-scaling zoo``: every zoo entry with its size."""

from __future__ import annotations

import argparse
import csv
import sys

from nas_scaling.cli.common import add_format, emit, print_table

__all__ = ["add_parser", "zoo_rows"]


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("zoo", help="list the zoo: params and MACs of every classic network")
    add_format(p, ("table", "json", "csv"))
    p.set_defaults(func=run)


def zoo_rows() -> list[dict[str, object]]:
    from nas_scaling import zoo
    from nas_scaling.cost import count_cost

    rows: list[dict[str, object]] = []
    for entry in zoo.entries():
        spec = entry.spec()
        cost = count_cost(spec)
        row: dict[str, object] = {"name": entry.name, "family": entry.family, "params": cost.params,
                                  "macs": cost.macs, "resolution": spec.resolution}
        if cost.aux_params:  # training-only heads: in params, not in the (eval) MACs
            row["aux_params"] = cost.aux_params
        rows.append(row)
    return rows


def run(args: argparse.Namespace) -> int:
    rows = zoo_rows()
    if args.format == "json":
        emit(rows)
    elif args.format == "csv":
        fields = list(dict.fromkeys(k for r in rows for k in r))
        writer = csv.DictWriter(sys.stdout, fieldnames=fields, restval=0)
        writer.writeheader()
        writer.writerows(rows)
    else:
        print_table(
            [
                {"name": r["name"], "family": r["family"], "params (M)": round(int(r["params"]) / 1e6, 3),  # type: ignore[call-overload]
                 "MFLOPs (multiply-adds)": round(int(r["macs"]) / 1e6, 2), "resolution": r["resolution"]}  # type: ignore[call-overload]
                for r in rows
            ]
        )
        from nas_scaling import zoo

        with_aux = [str(r["name"]) for r in rows if r.get("aux_params")]
        if with_aux:
            print(f"{', '.join(with_aux)}: params include the auxiliary classifiers (training only); MFLOPs "
                  f"are eval-time, without them")
        for form, base in zoo.variants():
            print(f"also by name: {form} ({base} with any width and resolution multiplier)")
    return 0
