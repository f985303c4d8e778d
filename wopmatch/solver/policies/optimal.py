"""The ``optimal`` policy: the exact lexicographic optimum (docs/model.md).

Maximum coverage, then maximum quality, then minimum cost. Without donors a
staged min-cost flow (on every pair, or on a priced working set at scale);
with donors a Lagrangian decomposition of the budgets and an exact staged MIP.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from ...models.solution import StageStats
from ..budgets.certify import solve_certified
from ..budgets.staged import solve_lagrangian, solve_with_donors
from ..graph.encoding import CandidateGraph
from ..graph.units import QUALITY_SCALE
from ..network.flow import coverage_cost, plain_structure, solve_staged_flow
from ..network.pricing import PairSource, Stage, first_working_set, fold, resolution_note, solve_lexicographic
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

#: How the exact policy may solve: "auto" chooses by the instance's structure.
METHODS = ("auto", "flow", "flow-pricing", "colgen", "mip", "lagrangian-mip", "lagrangian")


def choose_method(method: str, has_donors: bool, pairs: int = 0, pricing_min_pairs: int = 0,
                  colgen_max_pairs: int = 10**18) -> str:
    """The method to run; ``pairs`` = free mentees x mentors (auto prices from
    ``pricing_min_pairs`` on, and with donors takes colgen up to ``colgen_max_pairs``)."""
    if method not in METHODS:
        raise UnsupportedMethodError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    if method == "auto":
        if has_donors:
            return "colgen" if pairs <= colgen_max_pairs else "lagrangian-mip"
        return "flow-pricing" if pairs >= pricing_min_pairs else "flow"
    if method in ("flow", "flow-pricing") and has_donors:
        raise UnsupportedMethodError(f"method '{method}' does not model donor budgets, and this instance has "
                                     "donors; use 'lagrangian-mip', 'mip' or 'auto'")
    if method in ("colgen", "lagrangian-mip", "lagrangian") and not has_donors:
        raise UnsupportedMethodError(f"method '{method}' relaxes donor budgets, and this instance has none; "
                                     "use 'flow', 'mip' or 'auto'")
    return method


class OptimalPolicy(Policy):
    """Lexicographic optimum: max coverage, then max quality, then min cost.

    Without donors: staged min-cost flow (exact, polynomial). With donors: a
    staged MIP (HiGHS via MathOpt) started from the greedy assignment, improved
    first by a Lagrangian relaxation of the budgets (docs/model.md)."""

    name = "optimal"
    exact = True
    summary = "maximum coverage, then quality, then minimum cost (exact, with a proven bound)"

    def solve(self, graph: CandidateGraph, options: PolicyOptions, tuning: Tuning) -> Assignment:
        pairs = int(graph.free_mentee.sum()) * graph.n_mentors
        method = choose_method(options.method, graph.has_donors, pairs, tuning.pricing_min_pairs,
                               tuning.budgets.colgen_max_pairs)
        if method == "flow":
            return _solve_flow(graph, tuning.fold)
        if method == "flow-pricing":
            return _solve_flow_pricing(graph, tuning.optimal_pricing_for(pairs), tuning.fold)
        run = highs_run(options, tuning)
        if method == "colgen":
            return budgeted_assignment(solve_certified(graph, run, options.time_limit), solver=colgen_solver())
        if method == "lagrangian":
            return budgeted_assignment(solve_lagrangian(graph, run), solver=f"ortools-min-cost-flow+mathopt-highs "
                                                                            f"{ORTOOLS_VERSION}")
        n_vars = int(graph.fundable.sum())
        if method == "mip" and n_vars > tuning.budgets.full_mip_max_variables:
            raise UnsupportedMethodError(
                f"method 'mip' would build {n_vars:,} variables (over {tuning.budgets.full_mip_max_variables:,}); "
                "use 'auto' or 'lagrangian-mip', which certify a gap without it")
        found = solve_with_donors(graph, options.time_limit, run, lagrangian=method == "lagrangian-mip")
        full = n_vars <= tuning.budgets.full_mip_max_variables
        return budgeted_assignment(found, solver=f"ortools-mathopt-highs {ORTOOLS_VERSION}" if full else
                                   f"ortools-min-cost-flow+mathopt-highs {ORTOOLS_VERSION}")


def _solve_flow(graph: CandidateGraph, folding: bool) -> Assignment:
    result = solve_staged_flow(graph, fold=folding)
    stages = [StageStats(name=s.name, status="optimal", seconds=round(s.seconds, 4), value=float(s.value))
              for s in result.stages]
    return Assignment(
        pairs=result.chosen,
        donors=np.full(len(result.chosen), -1, np.int64),
        status="optimal",
        method="staged-min-cost-flow",
        solver=f"ortools-min-cost-flow {ORTOOLS_VERSION}",
        stages=stages,
    )


def _solve_flow_pricing(graph: CandidateGraph, params: PricingParams, folding: bool) -> Assignment:
    """The staged flow over a priced working set: coverage and quality folded into
    one stage (at the finest quality resolution that fits), then cost on that
    stage's face, which the working set is completed to (pricing.close_after)."""
    if graph.n_candidates:
        raise UnsupportedMethodError("flow-pricing chooses its own candidates: encode with candidates=False")
    t0 = time.perf_counter()
    structure = plain_structure(graph)
    zero = np.zeros(len(structure.tail), np.int64)
    coverage, quality, money = (Stage("coverage", coverage_cost(graph, structure)), Stage("quality", zero, quality=1),
                                Stage("cost", zero, money=1))
    source = PairSource(graph, money=False, params=params)
    work = first_working_set(source)
    first = [StageStats(name="working-set", status="optimal", seconds=round(time.perf_counter() - t0, 4),
                        value=float(len(work.mentee)))]
    both = fold(coverage, quality, source, structure) if folding else None
    if both is None:
        result = solve_lexicographic(source, structure, [coverage, quality, money], work=work, close_after=1)
    else:
        result = solve_lexicographic(source, structure, [both.stage, money], work=work, scale=both.scale,
                                     close_after=0)
    assignment = priced_assignment(graph, result, source, "", first=first)
    return replace(assignment, default_objective=True, bound_coverage_units=None,
                   method=f"min-cost-flow+pricing ({result.rounds} rounds"
                          f"{resolution_note(QUALITY_SCALE if both is None else both.scale)})")
