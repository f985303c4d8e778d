"""``min-cost``: the donor's view. Maximum coverage at minimum total cost, then quality."""

from __future__ import annotations

import time

import numpy as np

from ...models.solution import StageStats
from ..budgets.mip import solve_staged_mip
from ..graph.encoding import CandidateGraph
from ..heuristics.greedy import greedy_assignment
from ..network.flow import coverage_cost, max_coverage_units, plain_structure, solve_staged_flow
from ..network.pricing import PairSource, Stage, first_working_set, fold, solve_lexicographic
from ..tuning import PricingParams, Tuning
from .base import ORTOOLS_VERSION, Assignment, Policy, SolveOptions, UnsupportedMethodError, priced_assignment

ORDER = ("coverage", "cost", "quality")
#: Above this many (pair, donor) variables the staged MIP is not built (as for optimal).
MAX_VARIABLES = 2_000_000


class MinCostPolicy(Policy):
    """Lexicographic (max coverage, min cost, max quality): the same stages as
    ``optimal`` with cost before quality. Exact: a staged min-cost flow without
    donors, the staged MIP (HiGHS) from the greedy start with donors."""

    name = "min-cost"
    exact = True
    summary = "maximum coverage at the least total cost, then quality (the donor's view)"

    priced = True

    def solve(self, graph: CandidateGraph, options: SolveOptions, tuning: Tuning) -> Assignment:
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
        if int(graph.fundable.sum()) > MAX_VARIABLES:
            raise UnsupportedMethodError(f"policy 'min-cost' with donors builds one MIP variable per fundable "
                                         f"(pair, donor): {int(graph.fundable.sum()):,} is over {MAX_VARIABLES:,}")
        t0 = time.perf_counter()
        pairs, donors = greedy_assignment(graph)
        remaining = None if options.time_limit is None else max(0.0, options.time_limit - (time.perf_counter() - t0))
        mip = solve_staged_mip(graph, pairs, donors, remaining, options.workers, options.seed,
                               coverage_cap=max_coverage_units(graph), stage_names=ORDER)
        proven = len(mip.stages) == 3 and all(s.status == "optimal" for s in mip.stages)
        cov = next((s for s in mip.stages if s.name == "coverage"), None)
        return Assignment(
            pairs=mip.pair, donors=mip.donor, status="optimal" if proven else "feasible", default_objective=False,
            method="greedy+staged-mip (coverage, cost, quality)", solver=f"ortools-mathopt-highs {ORTOOLS_VERSION}",
            bound_coverage_units=None if cov is None else (cov.value if cov.status == "optimal" else cov.bound),
            stages=[StageStats(name=s.name, status=s.status, seconds=round(s.seconds, 4),
                               value=None if s.value is None else float(s.value), bound=s.bound)
                    for s in mip.stages],
            message=None if proven else f"time limit reached in the {mip.stages[-1].name} stage")


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
