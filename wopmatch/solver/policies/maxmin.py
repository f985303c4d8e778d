"""``max-min``: egalitarian. Among solutions of maximum coverage, the highest
lowest partnership score; then maximum quality; then minimum cost."""

from __future__ import annotations

import time

import numpy as np

from ...models.solution import StageStats
from ..donors import largest_reached, max_min
from ..graph.encoding import CandidateGraph
from ..graph.units import QUALITY_SCALE
from ..network.flow import coverage_cost, max_coverage_units, plain_structure, solve_staged_flow
from ..network.pricing import (
    Pairs,
    PairSource,
    Stage,
    first_working_set,
    flow_on,
    fold,
    resolution_note,
    solve_lexicographic,
)
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


class MaxMinPolicy(Policy):
    """Let C* be the maximum coverage. The threshold t* is the largest candidate
    score such that the candidates scoring at least t* still reach C* (a binary
    search over the distinct scores, one min-cost flow per probe: coverage can
    only fall as t rises). Then the staged optimum (quality, then cost) over
    those candidates. Pinned partnerships are kept whatever their score; the
    lowest score is taken over the policy's own partnerships. With donors the
    same definition under the budgets, on the donor engine (donors/search.py)."""

    name = "max-min"
    exact = True
    summary = "maximum coverage, then the highest lowest score (egalitarian), then quality and cost"

    priced = True

    def solve(self, graph: CandidateGraph, options: PolicyOptions, tuning: Tuning) -> Assignment:
        if graph.has_donors:
            return donor_assignment(max_min(graph, donor_run(options, tuning), options.time_limit))
        if options.method == "flow-pricing":
            return _solve_priced(graph, tuning.pricing, tuning.fold)
        target = max_coverage_units(graph)
        scores = np.unique(graph.score)  # ascending; scores[0] always reaches the target
        found = largest_reached(len(scores),
                                lambda k: max_coverage_units(graph.restrict(graph.score >= scores[k])) == target)
        lo, probes = found.index, found.probes
        keep = np.flatnonzero(graph.score >= scores[lo]) if len(scores) else np.zeros(0, np.int64)
        result = solve_staged_flow(graph.restrict(keep), fold=tuning.fold)
        chosen = keep[result.chosen]
        stages = [StageStats(name="threshold", status="optimal", seconds=0.0,
                             value=float(scores[lo]) if len(scores) and target > 0 else None)]
        stages += [StageStats(name=s.name, status="optimal", seconds=round(s.seconds, 4), value=float(s.value))
                   for s in result.stages]
        return Assignment(
            pairs=chosen, donors=np.full(len(chosen), -1, np.int64), status="optimal",
            method=f"bottleneck-search ({probes} flows)+staged-min-cost-flow",
            solver=f"ortools-min-cost-flow {ORTOOLS_VERSION}", stages=stages)


def _solve_priced(graph: CandidateGraph, params: PricingParams, folding: bool) -> Assignment:
    """The same bottleneck over a working set of candidates.

    1. C* by a priced coverage stage. 2. A binary search over the working set's
    scores, each probe answered for the whole graph: a threshold whose pairs
    reach C* on the working set does so everywhere; otherwise a priced coverage
    probe over the pairs scoring at least it either proves it out of reach or
    reaches C*, and its working set joins ours. 3. A priced probe just above the
    best threshold found proves no score the working set lacks lies between it
    and the lowest one out of reach (or brings such scores in, and 2 goes on).
    4. The staged optimum over the pairs scoring at least t*."""
    t0 = time.perf_counter()
    structure = plain_structure(graph)
    zero = np.zeros(len(structure.tail), np.int64)
    coverage, quality = Stage("coverage", coverage_cost(graph, structure)), Stage("quality", zero, quality=1)
    source = PairSource(graph, money=False, params=params)
    work = first_working_set(source)
    # full stages run with quality folded into coverage (fewer ties in reduced cost, fewer rounds);
    # the probes do not: a cut proves a threshold out of reach at once, ties or not
    both = fold(coverage, quality, source, structure) if folding else None
    scale = QUALITY_SCALE if both is None else both.scale
    first = solve_lexicographic(source, structure, [coverage if both is None else both.stage], work=work,
                                scale=scale)
    target = first.values[0] if both is None else both.first_value(first.values[0])  # -C*
    work = first.work
    lo_score = float(work.score.min(initial=0.0))  # work reaches C* with all its pairs
    hi_score = np.inf  # no graph reaches C* with pairs scoring at least this
    probes = checks = 0

    def reaches(threshold: float) -> bool:
        """C* with the pairs scoring at least ``threshold``, in the whole graph;
        when met, the pairs of the flow that meets it join the working set."""
        nonlocal work, checks
        checks += 1
        source.min_score = threshold
        found = solve_lexicographic(source, structure, [coverage], work=work, enough=target)
        if found.values[0] == target:
            work = Pairs.union([work, found.work.select(found.chosen)], graph.n_mentors)  # the flow meeting C*
            return True
        return False

    while target < 0:  # some mentee can be matched (else there is no bottleneck)
        cand = np.unique(work.score[(work.score > lo_score) & (work.score < hi_score)])
        lo, hi = -1, len(cand) - 1  # -1 stands for lo_score
        while lo < hi:
            mid = (lo + hi + 1) // 2
            probes += 1
            if flow_on(work.select(np.flatnonzero(work.score >= cand[mid])), structure, coverage, graph) \
                    == target or reaches(float(cand[mid])):
                lo = mid
            else:
                hi_score = float(cand[mid])
                hi = mid - 1
        lo_score = float(cand[lo]) if lo >= 0 else lo_score
        # a score strictly between lo_score and hi_score that the working set lacks?
        if not reaches(float(np.nextafter(lo_score, np.inf))):
            break
    t_w = lo_score
    search = time.perf_counter() - t0
    source = PairSource(graph, money=True, params=params, min_score=t_w)
    stages = [coverage, quality] if both is None else [both.stage]
    result = solve_lexicographic(source, structure, [*stages, Stage("cost", zero, money=1)], work=work,
                                 scale=scale)
    first_stages = [StageStats(name="threshold", status="optimal", seconds=round(search, 4),
                               value=t_w if target < 0 else None)]  # nobody can be matched: no bottleneck
    return priced_assignment(graph, result, source,
                             f"bottleneck-search ({probes} flows, {checks} priced checks)+staged-min-cost-flow+pricing"
                             f"{resolution_note(scale)}", first=first_stages)
