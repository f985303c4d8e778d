"""``max-min`` and ``regional-equity`` with donors on the certified engine
(docs/policies.md). max-min:

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

regional-equity: solve_equity_certified.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Optional

import numpy as np

from ...models.solution import StageStats
from ..graph.encoding import CandidateGraph
from ..heuristics.greedy import greedy_assignment
from ..progress import report
from .certify import Best, certify_stage, coverage_probe, solve_certified
from .highs import HighsRun
from .staged import Budgeted, pinned_coverage


def solve_max_min_certified(graph: CandidateGraph, run: HighsRun, time_limit: Optional[float] = None) -> Budgeted:
    """See the module docstring; ``time_limit`` only stops the work early (the message says so)."""
    deadline = None if time_limit is None else time.perf_counter() + time_limit

    def remaining() -> Optional[float]:
        return None if deadline is None else max(0.0, deadline - time.perf_counter())

    best = Best(*greedy_assignment(graph))
    first = certify_stage(graph, "coverage", [], best, run, deadline)
    target = first.value
    report("coverage", first.stats.bound, pinned_coverage(graph))
    scores = np.unique(graph.score)  # ascending
    witness = (best.pairs, best.donors)  # reaches the target with every candidate
    lo, hi, probes, open_probes, cut = 0, len(scores) - 1, 0, 0, False
    t1 = time.perf_counter()
    while target > 0 and lo < hi:
        if deadline is not None and time.perf_counter() >= deadline:  # each probe costs an LP round at least
            cut = True
            break
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
    decided = open_probes == 0 and not cut and first.proven
    stages = [first.stats,
              StageStats(name="threshold", status="optimal" if decided else "feasible",
                         seconds=round(time.perf_counter() - t1, 4), value=threshold)]
    stages += [s for s in rest.stages if s.name != "coverage"]
    later_proven = all(s.status == "optimal" for s in rest.stages)
    message = None
    if cut:
        message = (f"the time limit stopped the threshold search after {probes} probes: the threshold is reached "
                   "but not proven the highest")
    elif open_probes:
        message = (f"{open_probes} of {probes} threshold probes were left open by the {_stopper(deadline)}: the "
                   "threshold is reached but not proven the highest")
    elif not (first.proven and later_proven):
        message = rest.message or "coverage not proven optimal within the work limits: its bound certifies its gap"
    return Budgeted(
        pairs=keep[rest.pairs], donors=rest.donors, proven=decided and later_proven,
        method=f"colgen coverage+threshold search ({probes} probes)+{rest.method}",
        stages=stages, bound_coverage_units=first.stats.bound, message=message)


def solve_equity_certified(graph: CandidateGraph, run: HighsRun, group: np.ndarray, pinned: np.ndarray,
                           time_limit: Optional[float] = None) -> Budgeted:
    """``regional-equity`` with donors (docs/policies.md): the largest rate t that
    every group can reach at once under the budgets, then coverage, quality and
    cost with each group's matches kept at least ceil(t N_g) - pinned_g. A probe
    of t counts partnerships (every mentee weighing 1) with each group's capped at
    its need: the counts reach the sum of the needs exactly when some assignment
    meets them all (dropping partnerships keeps an assignment feasible). Probes
    the work limits leave open count as out of reach, as in max-min."""
    deadline = None if time_limit is None else time.perf_counter() + time_limit

    def remaining() -> Optional[float]:
        return None if deadline is None else max(0.0, deadline - time.perf_counter())

    g_count = len(pinned)
    size = np.bincount(group, minlength=g_count)
    in_group = [(group[graph.pair_mentee] == k).astype(np.int64) for k in range(g_count)]
    counting = replace(graph, mentee_weight_units=np.ones_like(graph.mentee_weight_units))
    greedy = greedy_assignment(graph)
    rates = sorted({k / int(n) for n in size if n for k in range(int(n) + 1)})
    lo, hi, probes, open_probes, cut = 0, len(rates) - 1, 0, 0, False
    witness = (np.zeros(0, np.int64), np.zeros(0, np.int64))  # rate 0 needs nothing
    t1 = time.perf_counter()
    while lo < hi:
        if deadline is not None and time.perf_counter() >= deadline:  # each probe costs an LP round at least
            cut = True
            break
        mid = (lo + hi + 1) // 2
        probes += 1
        need = need_for_rate(rates[mid], size, pinned)
        caps = [(in_group[k], int(need[k]), -1) for k in range(g_count)]
        reached, found = coverage_probe(counting, run, int(need.sum()), deadline, prefix=f"rate >= {rates[mid]:.3f}? ",
                                        rows=caps, start=_capped(graph, greedy, group, need))
        if reached:
            lo, witness = mid, (found.pairs, found.donors)
        else:
            open_probes += reached is None
            hi = mid - 1
    rate = rates[lo] if rates else 0.0
    need = need_for_rate(rate, size, pinned)
    rows = [(in_group[k], int(need[k]), 1) for k in range(g_count) if need[k] > 0]
    rest = solve_certified(graph, run, remaining(), start=witness, rows=rows)
    stages = [StageStats(name="lowest-rate", status="optimal" if open_probes == 0 and not cut else "feasible",
                         seconds=round(time.perf_counter() - t1, 4), value=rate)] + rest.stages
    message = rest.message
    if cut:
        message = (f"the time limit stopped the rate search after {probes} probes: the lowest rate is reached but "
                   "not proven the highest")
    elif open_probes:
        message = (f"{open_probes} of {probes} rate probes were left open by the {_stopper(deadline)}: the lowest "
                   "rate is reached but not proven the highest")
    return Budgeted(pairs=rest.pairs, donors=rest.donors, proven=open_probes == 0 and not cut and rest.proven,
                    method=f"rate search ({probes} probes, colgen)+{rest.method}", stages=stages,
                    bound_coverage_units=None, message=message)


def _stopper(deadline: Optional[float]) -> str:
    """What left work open: the solve's time limit once it has passed, else the work limits."""
    return "time limit" if deadline is not None and time.perf_counter() >= deadline else "work limits"


def need_for_rate(rate: float, size: np.ndarray, pinned: np.ndarray) -> np.ndarray:
    """Mentees each group must have matched by the policy for a rate of at least ``rate``."""
    need = np.array([math.ceil(rate * int(n) - 1e-9) for n in size], np.int64)
    return np.maximum(need - pinned, 0)


def _capped(graph: CandidateGraph, found: tuple[np.ndarray, np.ndarray], group: np.ndarray,
            need: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``found`` with each group's partnerships beyond its need dropped (still feasible)."""
    pairs, donors = found
    g = group[graph.pair_mentee[pairs]]
    order = np.argsort(g, kind="stable")
    rank = np.empty(len(g), np.int64)
    starts = np.searchsorted(g[order], g[order])
    rank[order] = np.arange(len(g)) - starts
    keep = rank < need[g]
    return pairs[keep], donors[keep]
