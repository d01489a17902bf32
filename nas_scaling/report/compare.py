"""Compare grid, found and handcrafted networks from a tracker: one row per finished run, Pareto flags.

A run is on the Pareto front when no other run on the same dataset is at least as accurate (val
top-1) and at most as costly (MACs) while strictly better in one of the two. Runs are read through
the :class:`~nas_scaling.tracking.base.Tracker` protocol, so any tracker (MLflow, in-memory) serves.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from nas_scaling.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

    from nas_scaling.tracking.base import Tracker

__all__ = ["COLUMNS", "KINDS", "OPTIONAL", "REFERENCE_COLUMNS", "REFERENCE_KINDS", "format_csv",
           "format_markdown", "format_reference_markdown", "load_runs", "pareto_flags", "plot_reference",
           "plot_runs", "reference_rows", "reference_table", "run_dataset", "run_inputs", "table_rows"]

KINDS = ("grid", "handcrafted", "found")
"""Run kinds (tag ``kind``) that are trained networks; parents and studies are left out."""

COLUMNS = ("kind", "name", "dataset", "inputs", "val_top1", "val_top5", "macs", "params", "train_seconds", "pareto")
OPTIONAL = ("test_top1", "test_top5", "latency_ms")
"""Metrics shown only when some run logged them."""


def pareto_flags(val_top1: Sequence[float | None], macs: Sequence[float | None]) -> list[bool]:
    """For each point, whether it is not dominated on (higher val_top1, lower macs); missing values: False."""
    points = [(a, m) if _finite(a) and _finite(m) else None for a, m in zip(val_top1, macs, strict=True)]
    flags = []
    for p in points:
        if p is None:
            flags.append(False)
            continue
        a, m = p
        dominated = any(
            q is not None and q[0] >= a and q[1] <= m and (q[0] > a or q[1] < m)  # type: ignore[operator]
            for q in points
        )
        flags.append(not dominated)
    return flags


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


_ARCH_INPUTS = re.compile(r"@(\d+)x(\d+) ->")
"""The input form in a network's compact line (``... @16x1 ->10 sd0``: 16 px, 1 channel)."""


def _positive_int(value: object) -> int | None:
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if number > 0 else None


def run_inputs(params: Mapping[str, str]) -> str | None:
    """``CxRxR`` from a run's params ``in_channels`` and ``resolution``, each falling back to the
    ``arch`` compact line (runs made before the runners logged their inputs); None when unknown."""
    match = _ARCH_INPUTS.search(params.get("arch", ""))
    channels = _positive_int(params.get("in_channels")) or (int(match.group(2)) if match else None)
    resolution = _positive_int(params.get("resolution")) or (int(match.group(1)) if match else None)
    if channels is None or resolution is None:
        return None
    return f"{channels}x{resolution}x{resolution}"


def run_dataset(params: Mapping[str, str]) -> str | None:
    """A run's ``dataset`` param, an image folder shortened to its own name (``imagefolder:cifar10-dev``)."""
    name = params.get("dataset") or None
    if name is not None and name.startswith("imagefolder:"):
        folder = name.removeprefix("imagefolder:").rstrip("/\\")
        name = "imagefolder:" + (PurePath(folder).name or folder)
    return name


def load_runs(tracker: Tracker, *, source: str = "the tracker") -> pd.DataFrame:
    """The finished grid/found/handcrafted runs ``tracker`` holds, sorted by val_top1 descending.

    Each row shows the run's dataset and inputs (``3x32x32``). ``pareto`` is computed among the runs
    of one dataset (runs without one form a group of their own): accuracies on different data do
    not compare. ``source`` names the store in the error raised when there is nothing to show.
    """
    import pandas as pd

    runs = [r for r in tracker.find_runs({}) if r.status == "FINISHED" and r.tags.get("kind") in KINDS]
    if not runs:
        raise UserError(f"no finished runs in {source}; run 'nas-scaling grid' or 'nas-scaling baseline' first")
    table = pd.DataFrame({
        "kind": [r.tags["kind"] for r in runs],
        "name": [r.params.get("name") or r.name for r in runs],
        "dataset": pd.Series([run_dataset(r.params) for r in runs], dtype=object),
        "inputs": pd.Series([run_inputs(r.params) for r in runs], dtype=object),
    })
    for metric in ("val_top1", "val_top5", *OPTIONAL, "macs", "params", "train_seconds"):
        values = pd.to_numeric(pd.Series([r.metrics.get(metric) for r in runs], dtype=object), errors="coerce")
        if metric in OPTIONAL and values.isna().all():
            continue
        table[metric] = values.astype(float)
    table["run_id"] = [r.run_id for r in runs]
    table["pareto"] = False
    for _, group in table.groupby(table["dataset"].fillna(""), sort=False):
        table.loc[group.index, "pareto"] = pareto_flags(list(group["val_top1"]), list(group["macs"]))
    table["pareto"] = table["pareto"].astype(bool)
    table = table.sort_values(["val_top1", "macs", "name"], ascending=[False, True, True], na_position="last")
    return table.reset_index(drop=True)


def _order(table: pd.DataFrame) -> list[str]:
    head = ["kind", "name", "dataset", "inputs", "val_top1", "val_top5", *(c for c in OPTIONAL if c in table.columns)]
    return [*head, "macs", "params", "train_seconds", "pareto"]


def table_rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain dicts (missing values None; macs and params as ints), columns in report order."""
    rows = []
    for record in table[_order(table)].to_dict(orient="records"):
        row: dict[str, Any] = {}
        for key, value in record.items():
            if isinstance(value, float) and math.isnan(value):
                value = None
            elif key in ("macs", "params") and value is not None:
                value = int(value)
            elif key == "pareto":
                value = bool(value)
            row[str(key)] = value
        rows.append(row)
    return rows


def format_csv(table: pd.DataFrame) -> str:
    return str(table[_order(table)].to_csv(index=False))


def format_markdown(table: pd.DataFrame) -> str:
    """A GitHub table (written here: pandas' to_markdown needs tabulate)."""
    rows = table_rows(table)
    cols = _order(table)
    numeric = {c for c in cols if c not in ("kind", "name", "dataset", "inputs", "pareto")}

    def cell(value: Any, column: str) -> str:
        if value is None:
            return "-" if column in ("dataset", "inputs") else ""
        if isinstance(value, bool):
            return "yes" if value else ""
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(cols) + " |",
             "|" + "|".join("---:" if c in numeric else ":---" for c in cols) + "|"]
    lines += ["| " + " | ".join(cell(r[c], c) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def plot_runs(table: pd.DataFrame, path: Path, *, title: str = "Accuracy vs cost") -> Path:
    """Val top-1 (%) against MACs (log axis): handcrafted and searched networks, the Pareto front as steps."""
    from matplotlib.figure import Figure

    data = table[table["val_top1"].notna() & table["macs"].notna() & (table["macs"] > 0)]
    fig = Figure(figsize=(8, 5.5))
    ax = fig.subplots()
    styles = {"handcrafted": ("s", "tab:blue", "handcrafted"), "grid": ("o", "tab:orange", "grid (compound scaling)"),
              "found": ("^", "tab:green", "found (search)")}
    for kind, (marker, color, label) in styles.items():
        part = data[data["kind"] == kind]
        if part.empty:
            continue
        ax.scatter(part["macs"] / 1e6, 100 * part["val_top1"], marker=marker, color=color, s=45, label=label,
                   zorder=3)
        if kind != "grid":
            for _, r in part.iterrows():
                ax.annotate(str(r["name"]), (r["macs"] / 1e6, 100 * r["val_top1"]), fontsize=7,
                            textcoords="offset points", xytext=(4, 4))
    front = data[data["pareto"]].sort_values("macs")
    if not front.empty:
        ax.step(front["macs"] / 1e6, 100 * front["val_top1"], where="post", color="gray", ls="--",
                label="Pareto front", zorder=2)
    ax.set_xscale("log")
    ax.set_xlabel("MFLOPs (multiply-adds)")
    ax.set_ylabel("validation top-1 (%)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)  # a Figure without pyplot: no backend to set, nothing left open
    return path


REFERENCE_COLUMNS = ("name", "family", "top1", "top5", "protocol", "macs", "params", "source")
REFERENCE_KINDS = ("imagenet",)
"""Published-accuracy tables ``compare --reference`` knows."""


def reference_table(reference: str = "imagenet") -> pd.DataFrame:
    """Zoo entries with a published accuracy, one row per figure: top-1/top-5 as published with the
    protocol and source, MACs and params counted by nas-scaling at the entry's native resolution
    (ImageNet classes). Sorted by family then MACs; an entry's reference figure (torchvision's
    weights where it has them) comes first, then the paper's own where it differs."""
    import pandas as pd

    from nas_scaling.cost import count_cost
    from nas_scaling.zoo import entries
    from nas_scaling.zoo.reference import imagenet_references

    if reference not in REFERENCE_KINDS:
        raise UserError(f"--reference must be one of {', '.join(REFERENCE_KINDS)}, got {reference!r}")
    rows = []
    for entry in entries():
        refs = imagenet_references(entry.name)
        if not refs:
            continue
        cost = count_cost(entry.spec())
        for rank, ref in enumerate(refs):
            rows.append({"name": entry.name, "family": entry.family, "top1": ref.top1, "top5": ref.top5,
                         "protocol": ref.protocol, "macs": int(cost.macs), "params": int(cost.params),
                         "source": ref.source, "_rank": rank})
    table = pd.DataFrame(rows, columns=[*REFERENCE_COLUMNS, "_rank"])
    table = table.sort_values(["family", "macs", "name", "_rank"]).reset_index(drop=True)
    return table.drop(columns="_rank")


def reference_rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Reference rows as plain dicts (missing top-5 None; macs and params as ints)."""
    rows = []
    for record in table[list(REFERENCE_COLUMNS)].to_dict(orient="records"):
        row: dict[str, Any] = {}
        for key, value in record.items():
            if isinstance(value, float) and math.isnan(value):
                value = None
            elif key in ("macs", "params") and value is not None:
                value = int(value)
            row[str(key)] = value
        rows.append(row)
    return rows


def format_reference_markdown(table: pd.DataFrame) -> str:
    """The reference table as a GitHub table."""
    cols = list(REFERENCE_COLUMNS)
    numeric = {"top1", "top5", "macs", "params"}

    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(cols) + " |",
             "|" + "|".join("---:" if c in numeric else ":---" for c in cols) + "|"]
    lines += ["| " + " | ".join(cell(r[c]) for c in cols) + " |" for r in reference_rows(table)]
    return "\n".join(lines) + "\n"


def plot_reference(table: pd.DataFrame, path: Path, *,
                   title: str = "Published ImageNet top-1 vs multiply-adds") -> Path:
    """Published top-1 (%) against our MACs (log axis), one marker and colour per family, each family
    joined in MACs order: the accuracy-vs-FLOPs picture of the EfficientNet and DenseNet papers. One
    point per network, its reference figure (the first of its rows)."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    markers = "osD^v<>pPhX*"
    cmap = colormaps["tab10"]
    fig = Figure(figsize=(10, 6.5))
    ax = fig.subplots()
    table = table.drop_duplicates("name", keep="first")
    for i, (family, part) in enumerate(table.groupby("family", sort=True)):
        part = part.sort_values("macs")
        x, y = part["macs"] / 1e6, 100 * part["top1"]
        ax.plot(x, y, marker=markers[i % len(markers)], color=cmap(i % 10), ms=6, lw=1.2,
                label=str(family), zorder=3)
        for _, r in part.iterrows():
            ax.annotate(str(r["name"]), (r["macs"] / 1e6, 100 * r["top1"]), fontsize=7,
                        textcoords="offset points", xytext=(4, 3))
    ax.set_xscale("log")
    ax.set_xlabel("MFLOPs (multiply-adds), counted by nas-scaling")
    ax.set_ylabel("published ImageNet top-1 (%)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)  # a Figure without pyplot: no backend to set, nothing left open
    return path
