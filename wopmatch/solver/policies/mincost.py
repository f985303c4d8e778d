"""``min-cost``: the donor's view. Maximum coverage at minimum total cost, then quality."""

from __future__ import annotations

import time

import numpy as np

from ...models.solution import StageStats
from ..budgets.certify import solve_certified
from ..budgets.staged import solve_with_donors
from ..graph.encoding import CandidateGraph
from ..network.flow import coverage_cost, plain_structure, solve_staged_flow
from ..network.pricing import PairSource, Stage, first_working_set, fold, solve_lexicographic
from ..tuning import PricingParams, Tuning
from .base import (
    ORTOOLS_VERSION,
    Assignment,
    Policy,
    PolicyOptions,
    UnsupportedMethodError,
    budgeted_assignment,
    colgen_solver,
    highs_run,
    priced_assignment,
)

ORDER = ("coverage", "cost", "quality")


class MinCostPolicy(Policy):
    """Lexicographic (max coverage, min cost, max quality): the same stages as
    ``optimal`` with cost before quality. Exact: a staged min-cost flow without
    donors; with donors the certified column-generation engine (method colgen, what
    auto runs; budgets/certify.py) or the staged MIP from the greedy start (mip)."""

    name = "min-cost"
    exact = True
    summary = "maximum coverage at the least total cost, then quality (the donor's view)"

    priced = True

    def solve(self, graph: CandidateGraph, options: PolicyOptions, tuning: Tuning) -> Assignment:
        if options.method == "flow-pricing":
            return _solve_priced(graph, tuning.pricing, tuning.fold)
        if not graph.has_donors:
            result = solve_staged_flow(graph, order=ORDER)
            coverage = int(graph.mentee_weight_units[graph.pair_mentee[result.chosen]].sum())
            return Assignment(
                pairs=result.chosen, donors=np.full(len(result.chosen), -1, np.int64), status="optimal",
                bound_coverage_units=coverage, default_objective=False,
                method="staged-min-cost-flow (coverage, cost, quality)",
                solver=f"ortools-min-cost-flow {ORTOOLS_VERSION}",
                stages=[StageStats(name=s.name, status="optimal", seconds=round(s.seconds, 4), value=float(s.value))
                        for s in result.stages])
        run = highs_run(options, tuning)
        if options.method == "colgen":
            found = solve_certified(graph, run, options.time_limit, order=ORDER)
            return budgeted_assignment(found, solver=colgen_solver(), default_objective=False)
        n_vars = int(graph.fundable.sum())
        if n_vars > tuning.budgets.full_mip_max_variables:
            raise UnsupportedMethodError(f"method 'mip' builds one variable per fundable (pair, donor): {n_vars:,} is "
                                         f"over {tuning.budgets.full_mip_max_variables:,}; use 'auto' (colgen)")
        found = solve_with_donors(graph, options.time_limit, run, lagrangian=False, order=ORDER)
        return budgeted_assignment(found, solver=f"ortools-mathopt-highs {ORTOOLS_VERSION}", default_objective=False)


def _solve_priced(graph: CandidateGraph, params: PricingParams, folding: bool) -> Assignment:
    """The same stages over a working set of candidates, each proven by pricing;
    coverage and cost folded into one stage where the costs fit."""
    t0 = time.perf_counter()
    structure = plain_structure(graph)
    zero = np.zeros(len(structure.tail), np.int64)
    coverage, cost, quality = (Stage("coverage", coverage_cost(graph, structure)), Stage("cost", zero, money=1),
                               Stage("quality", zero, quality=1))
    source = PairSource(graph, money=True, params=params)
    work = first_working_set(source, rank="cost")
    first = [StageStats(name="working-set", status="optimal", seconds=round(time.perf_counter() - t0, 4),
                        value=float(len(work.mentee)))]
    both = fold(coverage, cost, source, structure) if folding else None
    stages = [coverage, cost, quality] if both is None else [both.stage, quality]
    result = solve_lexicographic(source, structure, stages, work=work)
    units = -(result.values[0] if both is None else both.first_value(result.values[0]))
    return priced_assignment(graph, result, source, "staged-min-cost-flow+pricing (coverage, cost, quality)",
                             first=first, coverage_units=units)
