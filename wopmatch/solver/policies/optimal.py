"""The ``optimal`` policy: the exact lexicographic optimum (docs/model.md).

Maximum coverage, then maximum quality, then minimum cost. Without donors a
staged min-cost flow (on every pair, or on a priced working set at scale);
with donors the donor engine (solver/donors/).
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from ...models.solution import StageStats
from ..donors import solve_stages
from ..graph.encoding import CandidateGraph
from ..graph.units import QUALITY_SCALE
from ..network.flow import coverage_cost, plain_structure, solve_staged_flow
from ..network.pricing import PairSource, Stage, first_working_set, fold, resolution_note, solve_lexicographic
from ..tuning import PricingParams, Tuning
from .base import (
    DEPRECATED_METHODS,
    ORTOOLS_VERSION,
    Assignment,
    Policy,
    PolicyOptions,
    UnsupportedMethodError,
    donor_assignment,
    donor_run,
    priced_assignment,
)

#: How the exact policy may solve: "auto" chooses by the instance's structure.
METHODS = ("auto", "flow", "flow-pricing", "colgen", *DEPRECATED_METHODS)


def choose_method(method: str, has_donors: bool, pairs: int = 0, pricing_min_pairs: int = 0) -> str:
    """The method to run; ``pairs`` = free mentees x mentors (auto prices from
    ``pricing_min_pairs`` on). A deprecated method runs as auto."""
    if method not in METHODS:
        raise UnsupportedMethodError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    method = "auto" if method in DEPRECATED_METHODS else method
    if method == "auto":
        if has_donors:
            return "colgen"
        return "flow-pricing" if pairs >= pricing_min_pairs else "flow"
    if method in ("flow", "flow-pricing") and has_donors:
        raise UnsupportedMethodError(f"method '{method}' does not model donor budgets, and this instance has "
                                     "donors; use 'colgen' or 'auto'")
    if method == "colgen" and not has_donors:
        raise UnsupportedMethodError("method 'colgen' models donor budgets, and this instance has none; "
                                     "use 'flow', 'flow-pricing' or 'auto'")
    return method


class OptimalPolicy(Policy):
    """Lexicographic optimum: max coverage, then max quality, then min cost.

    Without donors: staged min-cost flow (exact, polynomial). With donors: the
    donor engine, each stage bounded and proven where its moves close the gap."""

    name = "optimal"
    exact = True
    summary = "maximum coverage, then quality, then minimum cost (exact, with a proven bound)"

    def solve(self, graph: CandidateGraph, options: PolicyOptions, tuning: Tuning) -> Assignment:
        pairs = int(graph.free_mentee.sum()) * graph.n_mentors
        method = choose_method(options.method, graph.has_donors, pairs, tuning.pricing_min_pairs)
        if method == "flow":
            return _solve_flow(graph, tuning.fold)
        if method == "flow-pricing":
            return _solve_flow_pricing(graph, tuning.optimal_pricing_for(pairs), tuning.fold)
        return donor_assignment(solve_stages(graph, donor_run(options, tuning), options.time_limit))


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
    return replace(assignment, method=f"min-cost-flow+pricing ({result.rounds} rounds"
                          f"{resolution_note(QUALITY_SCALE if both is None else both.scale)})")
