"""``min-cost``: the donor's view. Maximum coverage at minimum total cost, then quality."""

from __future__ import annotations

import time

import numpy as np

from ...models.solution import StageStats
from ..donors import solve_stages
from ..graph.encoding import CandidateGraph
from ..network.flow import coverage_cost, plain_structure, solve_staged_flow
from ..network.pricing import PairSource, Stage, first_working_set, fold, solve_lexicographic
from ..tuning import PricingParams, Tuning
from .base import (
    ORTOOLS_VERSION,
    Assignment,
    Policy,
    PolicyOptions,
    donor_assignment,
    donor_run,
    priced_assignment,
)

ORDER = ("coverage", "cost", "quality")


class MinCostPolicy(Policy):
    """Lexicographic (max coverage, min cost, max quality): the same stages as
    ``optimal`` with cost before quality. Exact: a staged min-cost flow without
    donors; with donors the donor engine (solver/donors/) in that order."""

    name = "min-cost"
    exact = True
    summary = "maximum coverage at the least total cost, then quality (the donor's view)"

    priced = True

    def solve(self, graph: CandidateGraph, options: PolicyOptions, tuning: Tuning) -> Assignment:
        if options.method == "flow-pricing":
            return _solve_priced(graph, tuning.pricing, tuning.fold)
        if not graph.has_donors:
            result = solve_staged_flow(graph, order=ORDER)
            return Assignment(
                pairs=result.chosen, donors=np.full(len(result.chosen), -1, np.int64), status="optimal",
                method="staged-min-cost-flow (coverage, cost, quality)",
                solver=f"ortools-min-cost-flow {ORTOOLS_VERSION}",
                stages=[StageStats(name=s.name, status="optimal", seconds=round(s.seconds, 4), value=float(s.value))
                        for s in result.stages])
        return donor_assignment(solve_stages(graph, donor_run(options, tuning), options.time_limit, order=ORDER))


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
    return priced_assignment(graph, result, source, "staged-min-cost-flow+pricing (coverage, cost, quality)",
                             first=first)
