"""``max-min``: egalitarian. Among solutions of maximum coverage, the highest
lowest partnership score; then maximum quality; then minimum cost."""

from __future__ import annotations

import numpy as np

from ...models.solution import StageStats
from ..decode import Assignment
from ..encoding import CandidateGraph
from ..flow import max_coverage_units, solve_staged_flow
from .base import ORTOOLS_VERSION, Policy, SolveOptions


class MaxMinPolicy(Policy):
    """Let C* be the maximum coverage. The threshold t* is the largest candidate
    score such that the candidates scoring at least t* still reach C* (a binary
    search over the distinct scores, one min-cost flow per probe: coverage can
    only fall as t rises). Then the staged optimum (quality, then cost) over
    those candidates. Pinned partnerships are kept whatever their score; the
    lowest score is taken over the policy's own partnerships."""

    name = "max-min"
    exact = True
    supports_donors = False
    summary = "maximum coverage, then the highest lowest score (egalitarian), then quality and cost"

    def solve(self, graph: CandidateGraph, options: SolveOptions) -> Assignment:
        target = max_coverage_units(graph)
        scores = np.unique(graph.score)  # ascending
        lo, hi, probes = 0, len(scores) - 1, 0  # scores[lo] always reaches the target
        while lo < hi:
            mid = (lo + hi + 1) // 2
            probes += 1
            if max_coverage_units(graph.restrict(graph.score >= scores[mid])) == target:
                lo = mid
            else:
                hi = mid - 1
        keep = np.flatnonzero(graph.score >= scores[lo]) if len(scores) else np.zeros(0, np.int64)
        result = solve_staged_flow(graph.restrict(keep))
        chosen = keep[result.chosen]
        stages = [StageStats(name="threshold", status="optimal", seconds=0.0,
                             value=float(scores[lo]) if len(scores) else None)]
        stages += [StageStats(name=s.name, status="optimal", seconds=round(s.seconds, 4), value=float(s.value))
                   for s in result.stages]
        return Assignment(
            pairs=chosen, donors=np.full(len(chosen), -1, np.int64), status="optimal", default_objective=False,
            bound_coverage_units=target, method=f"bottleneck-search ({probes} flows)+staged-min-cost-flow",
            solver=f"ortools-min-cost-flow {ORTOOLS_VERSION}", stages=stages)
