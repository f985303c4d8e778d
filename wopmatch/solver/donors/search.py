"""The threshold and rate searches of ``max-min`` and ``regional-equity`` (docs/policies.md).

``largest_reached`` is the one binary search both policies run, with and without
donors: the largest index whose probe is reached, probes being monotone (a higher
threshold or rate is never easier). A probe the work limits leave open counts as
out of reach, so the value found is always reached, and proven the largest only
when every probe was decided.

With donors (this module): max-min's probes ask whether the pairs scoring at least
t still reach the coverage C found first; regional-equity's whether every group can
reach the rate t at once (partnerships counted, each group's capped at its need).
Each probe is the coverage stage stopped as soon as it is decided, started from
the last reached probe's assignment (cut down to what the probe allows), so a probe
near the threshold starts where the last one ended. Then the stages over the
threshold's candidates (max-min) or with each group's need kept (regional-equity).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Callable, Optional

import numpy as np

from ...models.solution import StageStats
from ..graph.encoding import CandidateGraph
from ..heuristics.greedy import greedy_assignment
from ..progress import report
from .engine import Best, coverage_probe, solve_stages, with_cuts, work_stage
from .result import DonorResult, pinned_coverage
from .solvers import Run


@dataclass(frozen=True)
class Searched:
    index: int  # the largest index reached
    probes: int
    open: int  # probes the work limits left open
    cut: bool  # the time limit stopped the search

    @property
    def decided(self) -> bool:
        return self.open == 0 and not self.cut


def largest_reached(n: int, reached: Callable[[int], Optional[bool]], deadline: Optional[float] = None) -> Searched:
    """The largest index in [0, n) whose probe ``reached`` returns True (index 0 is
    taken as reached; None counts as not reached and as open). ``deadline``: a
    time.perf_counter() value past which no probe starts."""
    lo, hi, probes, open_, cut = 0, n - 1, 0, 0, False
    while lo < hi:
        if deadline is not None and time.perf_counter() >= deadline:
            cut = True
            break
        mid = (lo + hi + 1) // 2
        probes += 1
        answer = reached(mid)
        if answer:
            lo = mid
        else:
            open_ += answer is None
            hi = mid - 1
    return Searched(lo, probes, open_, cut)


def max_min(graph: CandidateGraph, run: Run, time_limit: Optional[float] = None) -> DonorResult:
    """max-min with donors (module docstring)."""
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    g = with_cuts(graph, run.params)
    best = Best(*greedy_assignment(g))
    first = work_stage(g, "coverage", [], best, run, deadline)
    target = first.gain
    report("coverage", first.stats.bound, pinned_coverage(g))
    scores = np.unique(g.score)  # ascending
    witness = (best.pairs, best.donors)  # reaches the target with every candidate

    def reached(k: int) -> Optional[bool]:
        nonlocal witness
        keep = np.flatnonzero(g.score >= scores[k])
        at = np.full(g.n_candidates, -1)
        at[keep] = np.arange(len(keep))
        kept = g.score[witness[0]] >= scores[k]  # the last reached assignment, cut down to these pairs
        answer, found = coverage_probe(g.restrict(keep), run, target, deadline,
                                       start=(at[witness[0][kept]], witness[1][kept]))
        if answer:
            witness = (keep[found.pairs], found.donors)
        return answer

    t1 = time.perf_counter()
    searched = largest_reached(len(scores), reached, deadline) if target > 0 and len(scores) else \
        Searched(0, 0, 0, False)
    threshold = float(scores[searched.index]) if len(scores) and target > 0 else None
    keep = np.flatnonzero(g.score >= scores[searched.index]) if len(scores) else np.zeros(0, np.int64)
    at = np.full(g.n_candidates, -1)
    at[keep] = np.arange(len(keep))
    rest = solve_stages(graph.restrict(keep), run, _left(deadline), start=(at[witness[0]], witness[1]))
    stages = [first.stats, StageStats(name="threshold", status="optimal" if searched.decided else "feasible",
                                      seconds=round(time.perf_counter() - t1, 4), value=threshold)]
    stages += [s for s in rest.stages if s.name != "coverage"]
    message = _search_message("threshold", searched, deadline) or (
        None if first.proven and rest.proven else rest.message or
        "coverage not proven optimal within the work limits: its bound certifies its gap")
    return replace(rest, pairs=keep[rest.pairs], proven=searched.decided and first.proven and rest.proven,
                   method=f"colgen coverage+threshold search ({searched.probes} probes)+{rest.method}",
                   stages=stages, message=message)


def equity(graph: CandidateGraph, run: Run, group: np.ndarray, pinned: np.ndarray,
           time_limit: Optional[float] = None) -> DonorResult:
    """regional-equity with donors: the largest rate t every group can reach at once
    under the budgets, then coverage, quality and cost with each group's matches
    kept at least ceil(t N_g) - pinned_g. A probe counts partnerships (every mentee
    weighing 1) with each group's capped at its need: the counts reach the sum of
    the needs exactly when some assignment meets them all (dropping partnerships
    keeps an assignment feasible)."""
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    g = with_cuts(graph, run.params)
    g_count = len(pinned)
    size = np.bincount(group, minlength=g_count)
    in_group = [(group[g.pair_mentee] == k).astype(np.int64) for k in range(g_count)]
    counting = replace(g, mentee_weight_units=np.ones_like(g.mentee_weight_units))
    rates = sorted({k / int(n) for n in size if n for k in range(int(n) + 1)})
    witness = greedy_assignment(g)

    def reached(k: int) -> Optional[bool]:
        nonlocal witness
        need = need_for_rate(rates[k], size, pinned)
        caps = [(in_group[x], int(need[x]), -1) for x in range(g_count)]
        answer, found = coverage_probe(counting, run, int(need.sum()), deadline, rows=caps,
                                       start=capped(g, witness, group, need))
        if answer:
            witness = (found.pairs, found.donors)
        return answer

    t1 = time.perf_counter()
    searched = largest_reached(len(rates), reached, deadline)
    rate = rates[searched.index] if rates else 0.0
    need = need_for_rate(rate, size, pinned)
    rows = [(in_group[x], int(need[x]), 1) for x in range(g_count) if need[x] > 0]
    start = capped(g, witness, group, need) if searched.index else (np.zeros(0, np.int64), np.zeros(0, np.int64))
    rest = solve_stages(graph, run, _left(deadline), start=start, rows=rows)
    stages = [StageStats(name="lowest-rate", status="optimal" if searched.decided else "feasible",
                         seconds=round(time.perf_counter() - t1, 4), value=rate)] + rest.stages
    return replace(rest, proven=searched.decided and rest.proven, stages=stages,
                   method=f"rate search ({searched.probes} probes, colgen)+{rest.method}",
                   message=_search_message("rate", searched, deadline) or rest.message)


def need_for_rate(rate: float, size: np.ndarray, pinned: np.ndarray) -> np.ndarray:
    """Mentees each group must have matched by the policy for a rate of at least ``rate``."""
    need = np.array([math.ceil(rate * int(n) - 1e-9) for n in size], np.int64)
    return np.maximum(need - pinned, 0)


def capped(g: CandidateGraph, found: tuple[np.ndarray, np.ndarray], group: np.ndarray,
           need: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``found`` with each group's partnerships beyond its need dropped (still feasible)."""
    pairs, donors = found
    of = group[g.pair_mentee[pairs]]
    order = np.argsort(of, kind="stable")
    rank = np.empty(len(of), np.int64)
    rank[order] = np.arange(len(of)) - np.searchsorted(of[order], of[order])
    keep = rank < need[of]
    return pairs[keep], donors[keep]


def _search_message(what: str, searched: Searched, deadline: Optional[float]) -> Optional[str]:
    lowest = "threshold" if what == "threshold" else "lowest rate"
    if searched.cut:
        return (f"the time limit stopped the {what} search after {searched.probes} probes: the {lowest} is reached "
                "but not proven the highest")
    if searched.open:
        stopper = "time limit" if deadline is not None and time.perf_counter() >= deadline else "work limits"
        return (f"{searched.open} of {searched.probes} {what} probes were left open by the {stopper}: the "
                f"{lowest} is reached but not proven the highest")
    return None


def _left(deadline: Optional[float]) -> Optional[float]:
    return None if deadline is None else max(0.0, deadline - time.perf_counter())
