"""Compare grid, found and handcrafted networks from MLflow: one row per finished run, Pareto flags.

A run is on the Pareto front when no other run is at least as accurate (val top-1) and at most as
costly (MACs) while strictly better in one of the two.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas_scaling.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["COLUMNS", "KINDS", "OPTIONAL", "REFERENCE_COLUMNS", "REFERENCE_KINDS", "format_csv",
           "format_markdown", "format_reference_markdown", "load_runs", "pareto_flags", "plot_reference",
           "plot_runs", "reference_rows", "reference_table", "table_rows"]

KINDS = ("grid", "handcrafted", "found")
"""Run kinds (tag ``kind``) that are trained networks; parents and studies are left out."""

COLUMNS = ("kind", "name", "val_top1", "val_top5", "macs", "params", "train_seconds", "pareto")
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


def _sqlite_path(uri: str) -> Path | None:
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None


def load_runs(tracking_uri: str, experiment: str) -> pd.DataFrame:
    """The finished grid/found/handcrafted runs of ``experiment``, sorted by val_top1 descending."""
    import logging
    import os

    import mlflow
    import pandas as pd
    from mlflow import MlflowClient

    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    db = _sqlite_path(tracking_uri)
    if db is not None and not db.exists():
        raise UserError(f"no MLflow database at {tracking_uri!r}; run 'nas-scaling grid' or "
                        "'nas-scaling baseline' first, or set MLFLOW_TRACKING_URI")
    if MlflowClient(tracking_uri).get_experiment_by_name(experiment) is None:
        raise UserError(f"unknown experiment {experiment!r} at {tracking_uri}; the commands log to 'nas-scaling'")
    previous = mlflow.get_tracking_uri()
    env_before = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(tracking_uri)
    try:
        raw = mlflow.search_runs(experiment_names=[experiment], output_format="pandas", max_results=100_000)
    finally:
        # set_tracking_uri also exports MLFLOW_TRACKING_URI; leave the environment as it was, or
        # every later command in this process would log to the store of this comparison
        mlflow.set_tracking_uri(previous)
        if env_before is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = env_before
    assert isinstance(raw, pd.DataFrame)
    kind = raw.get("tags.kind", pd.Series([None] * len(raw), index=raw.index, dtype=object))
    raw = raw[(raw["status"] == "FINISHED") & kind.isin(KINDS)]
    if raw.empty:
        raise UserError(f"no finished runs in experiment {experiment!r} at {tracking_uri}; "
                        "run 'nas-scaling grid' or 'nas-scaling baseline' first")

    def column(name: str) -> pd.Series:
        if name in raw.columns:
            return raw[name]
        return pd.Series([None] * len(raw), index=raw.index, dtype=object)

    run_name = column("tags.mlflow.runName")
    param_name = column("params.name")
    table = pd.DataFrame({
        "kind": raw["tags.kind"],
        "name": param_name.where(param_name.notna() & (param_name != ""), run_name),
    })
    for metric in ("val_top1", "val_top5", *OPTIONAL, "macs", "params", "train_seconds"):
        values = pd.to_numeric(column(f"metrics.{metric}"), errors="coerce")
        if metric in OPTIONAL and values.isna().all():
            continue
        table[metric] = values
    table["run_id"] = raw["run_id"]
    table["pareto"] = pareto_flags(list(table["val_top1"]), list(table["macs"]))
    table = table.sort_values(["val_top1", "macs"], ascending=[False, True], na_position="last")
    return table.reset_index(drop=True)


def _order(table: pd.DataFrame) -> list[str]:
    head = ["kind", "name", "val_top1", "val_top5", *(c for c in OPTIONAL if c in table.columns)]
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
    numeric = {c for c in cols if c not in ("kind", "name", "pareto")}

    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "yes" if value else ""
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(cols) + " |",
             "|" + "|".join("---:" if c in numeric else ":---" for c in cols) + "|"]
    lines += ["| " + " | ".join(cell(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def plot_runs(table: pd.DataFrame, path: Path, *, title: str = "Accuracy vs cost") -> Path:
    """Val top-1 (%) against MACs (log axis): handcrafted and searched networks, the Pareto front as steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = table[table["val_top1"].notna() & table["macs"].notna() & (table["macs"] > 0)]
    fig, ax = plt.subplots(figsize=(8, 5.5))
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
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


REFERENCE_COLUMNS = ("name", "family", "top1", "top5", "macs", "params", "source")
REFERENCE_KINDS = ("imagenet",)
"""Published-accuracy tables ``compare --reference`` knows."""


def reference_table(reference: str = "imagenet") -> pd.DataFrame:
    """Zoo entries with a published accuracy: top-1/top-5 as published, MACs and params counted by
    nas-scaling at the entry's native resolution (ImageNet classes), sorted by family then MACs."""
    import pandas as pd

    from nas_scaling.cost import count_cost
    from nas_scaling.zoo import entries
    from nas_scaling.zoo.reference import imagenet_reference

    if reference not in REFERENCE_KINDS:
        raise UserError(f"--reference must be one of {', '.join(REFERENCE_KINDS)}, got {reference!r}")
    rows = []
    for entry in entries():
        ref = imagenet_reference(entry.name)
        if ref is None:
            continue
        cost = count_cost(entry.spec())
        rows.append({"name": entry.name, "family": entry.family, "top1": ref.top1, "top5": ref.top5,
                     "macs": int(cost.macs), "params": int(cost.params), "source": ref.source})
    table = pd.DataFrame(rows, columns=list(REFERENCE_COLUMNS))
    return table.sort_values(["family", "macs"]).reset_index(drop=True)


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
    joined in MACs order: the accuracy-vs-FLOPs picture of the EfficientNet and DenseNet papers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    markers = "osD^v<>pPhX*"
    cmap = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(10, 6.5))
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
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
