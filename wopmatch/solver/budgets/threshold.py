"""``max-min`` with donors on the certified engine (docs/policies.md, max-min).

1. The coverage stage of certify.py over every candidate: C (C* when proven).
2. A binary search over the distinct candidate scores for the largest threshold t
   whose candidates (score >= t) still reach C under the budgets; each probe is
   the coverage stage over those candidates, stopped as soon as it reaches C or
   its bound proves C out of reach (certify.coverage_probe). A probe its work
   limits leave open counts as out of reach, so the threshold found is always
   reached, and is proven the largest only when every probe was decided.
3. Quality, then cost, over the candidates scoring at least t, keeping coverage
   at least C: certify.solve_certified on that restricted graph, started from the
   probe's assignment that reached C.
"""

from __future__ import annotations

import time
from typing import Optional

import numpy as np

from ...models.solution import StageStats
from ..graph.encoding import CandidateGraph
from ..heuristics.greedy import greedy_assignment
from ..progress import report
from .certify import _Best, _stage, coverage_probe, solve_certified
from .highs import HighsRun
from .staged import Budgeted, pinned_coverage


def solve_max_min_certified(graph: CandidateGraph, run: HighsRun, time_limit: Optional[float] = None) -> Budgeted:
    """See the module docstring; ``time_limit`` only stops the work early (the message says so)."""
    deadline = None if time_limit is None else time.perf_counter() + time_limit

    def remaining() -> Optional[float]:
        return None if deadline is None else max(0.0, deadline - time.perf_counter())

    best = _Best(*greedy_assignment(graph))
    first = _stage(graph, "coverage", [], best, run, deadline)
    target = first.value
    report("coverage", first.stats.bound, pinned_coverage(graph))
    scores = np.unique(graph.score)  # ascending
    witness = (best.pairs, best.donors)  # reaches the target with every candidate
    lo, hi, probes, open_probes = 0, len(scores) - 1, 0, 0
    t1 = time.perf_counter()
    while target > 0 and lo < hi:
        mid = (lo + hi + 1) // 2
        probes += 1
        keep = np.flatnonzero(graph.score >= scores[mid])
        reached, found = coverage_probe(graph.restrict(keep), run, target, deadline,
                                        prefix=f"score >= {scores[mid]:.3f}? ")
        if reached:
            lo, witness = mid, (keep[found.pairs], found.donors)
        else:
            open_probes += reached is None
            hi = mid - 1
    threshold = float(scores[lo]) if len(scores) and target > 0 else None
    keep = np.flatnonzero(graph.score >= scores[lo]) if len(scores) else np.zeros(0, np.int64)
    at = {int(e): k for k, e in enumerate(keep.tolist())}
    start = (np.array([at[int(e)] for e in witness[0]], np.int64), witness[1])
    rest = solve_certified(graph.restrict(keep), run, remaining(), start=start)
    decided = open_probes == 0 and first.proven
    stages = [first.stats,
              StageStats(name="threshold", status="optimal" if decided else "feasible",
                         seconds=round(time.perf_counter() - t1, 4), value=threshold)]
    stages += [s for s in rest.stages if s.name != "coverage"]
    later_proven = all(s.status == "optimal" for s in rest.stages)
    message = None
    if open_probes:
        message = (f"{open_probes} of {probes} threshold probes were left open by the work limits: the threshold "
                   "is reached but not proven the highest")
    elif not (first.proven and later_proven):
        message = rest.message or "coverage not proven optimal within the work limits: its bound certifies its gap"
    return Budgeted(
        pairs=keep[rest.pairs], donors=rest.donors, proven=decided and later_proven,
        method=f"colgen coverage+threshold search ({probes} probes)+{rest.method}",
        stages=stages, bound_coverage_units=first.stats.bound, message=message)
