"""Reports over tracked runs: the comparison table and the accuracy-vs-cost plot."""

from __future__ import annotations

from nas_scaling.report.compare import (
    KINDS,
    format_csv,
    format_markdown,
    load_runs,
    pareto_flags,
    plot_runs,
    run_dataset,
    run_inputs,
    table_rows,
)

__all__ = ["KINDS", "format_csv", "format_markdown", "load_runs", "pareto_flags", "plot_runs", "run_dataset",
           "run_inputs", "table_rows"]
