"""Cost model: parameters and multiply-adds of a spec by arithmetic (fast, torch-free), budgets,
and measured costs (fvcore's flop count, latency) on the built model for cross-checks.

MACs/FLOPS here are multiply-adds of conv and linear layers, the convention of the EfficientNet and
MobileNet papers and torchvision's GFLOPS.
"""

from __future__ import annotations

from nas_scaling.cost.analytic import (
    BLOCK_COSTS,
    BYTES_PER_PARAM,
    Cost,
    StageCost,
    aux_cost,
    block_cost,
    count_cost,
    head_cost,
    model_size_bytes,
    size_at_bits,
)
from nas_scaling.cost.budget import Budget, BudgetCheck, BudgetTerm, ResolvedBudget, parse_budget
from nas_scaling.cost.measured import (
    CONV_LINEAR_OPERATORS,
    fvcore_by_operator,
    fvcore_conv_linear_macs,
    fvcore_flops,
    measure_latency,
)

__all__ = [
    "BLOCK_COSTS",
    "BYTES_PER_PARAM",
    "CONV_LINEAR_OPERATORS",
    "Budget",
    "BudgetCheck",
    "BudgetTerm",
    "Cost",
    "ResolvedBudget",
    "StageCost",
    "aux_cost",
    "block_cost",
    "count_cost",
    "fvcore_by_operator",
    "fvcore_conv_linear_macs",
    "fvcore_flops",
    "head_cost",
    "measure_latency",
    "size_at_bits",
    "model_size_bytes",
    "parse_budget",
]
