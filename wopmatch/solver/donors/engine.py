"""The lexicographic optimum with donors (docs/model.md, "With donors"): every stage
bounded by its LP, improved by moves, and proven where the moves close the gap.

The round first gets its count cuts (cuts.py). Then each stage of ``order``
(coverage first; each later stage keeps the values the earlier ones reached):

1. Its LP bound by column generation (bound.py), rounded down to the values the
   stage can take, and its pool (the columns of smallest penalty, the LP's
   support and the incumbent's).
2. Moves (moves.py) until ``decide`` returns none: LP-fill, rounds of
   large-neighbourhood search, and a MIP (HiGHS) or CP-SAT over the core once it
   is small enough to prove. ``decide`` is a pure function of the stage's figures
   and the tuning (tests/test_donors.py runs it without solving).

The incumbent is carried from stage to stage (each stage starts from the last
one's answer, which meets every kept row), and so are the cuts. Every move is
limited by work (column rounds, simplex iterations, nodes, deterministic time, LNS
rounds), never by the clock, so a round gives the same answer on an idle or a busy
machine; a time limit only stops the work early, and the answer says so. A stage
left open hands its value on: later stages are optimised, and bounded, among the
assignments of at least the values reached.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable, Optional

import numpy as np

from ...models.solution import StageStats
from ..graph.encoding import CandidateGraph
from ..heuristics.greedy import greedy_assignment
from ..progress import report
from ..tuning import DonorParams
from .bound import ColgenSettings, Relaxed, pool_of, relax
from .cuts import donor_counts
from .moves import core_cp_sat, core_mip, direct_cp_sat, lns, lp_fill
from .result import DonorResult, coverage_step, pinned_coverage, stage_gap, stage_message
from .rows import STAGES, Keep, Objective, maximised, stage_objective
from .solvers import Run
from .state import UNITS, Best, Stage, View, lattice_floor, log, meets_rows, progress_line, settled

MOVES: dict[str, Callable] = {"lp-fill": lp_fill, "lns": lns, "core-mip": core_mip, "core-cp-sat": core_cp_sat,
                              "direct-cp-sat": direct_cp_sat}


def decide(v: View, p: DonorParams) -> Optional[str]:
    """The next move of a stage, or None when it is done (tests/test_donors.py has the
    table). LP-fill first. A stage that keeps the quality row goes to CP-SAT over its
    core as soon as the core is small enough: CP-SAT counts in exact integers, while
    that row's coefficients (about 1e11) cost HiGHS most of its nodes, in LNS and in
    proofs alike (cost cores of 200-1,900 columns on the ten 200 x 60 x 5 rounds:
    CP-SAT 0.03-1.4 s, HiGHS 0.2-12 s; in CP-SAT's place, HiGHS as moves._highs runs
    it now, scaled and without presolve, made the first three rounds' whole solves
    slower: 7.2 -> 11.4, 2.4 -> 3.7 and 1.7 -> 2.5 s); a core holds every better
    assignment, so CP-SAT finds one if there is one. The other stages run LNS rounds
    until their number, or a run of rounds without gain, ends them; then one proof
    over the core where it is small enough: coverage by CP-SAT (cores of 7,000-13,000
    columns one weight step short: 2.7 and 4.8 s against HiGHS's 21 and 2.9 s),
    quality by HiGHS's core MIP, whose root closes most quality gaps where CP-SAT
    stalls (200 x 60 x 5 s2, 666 columns: 0.96 s against 4.7 s without a proof). A round
    of at most direct_max_mentees free mentees first tries CP-SAT over the core right after
    LP-fill (not in a probe): on such rounds it proves most stages at once (tuning.py)."""
    if v.closed or v.out_of_time:
        return None
    if "lp-fill" not in v.tried:
        return "lp-fill"
    if v.enough is None and "direct-cp-sat" not in v.tried and v.core is not None \
            and v.free_mentees is not None and v.free_mentees <= p.direct_max_mentees:
        return "direct-cp-sat"  # a small round: CP-SAT over the core at once; left open, the rest as below
    proved = bool(v.tried & {"core-mip", "core-cp-sat"})
    if v.keeps_quality and not proved and v.core is not None and v.core <= p.later_core_max_columns:
        return "core-cp-sat"
    if v.lns_rounds < p.lns_rounds[v.position] and v.lns_stall < p.lns_stall:
        return "lns"
    if v.core is None or proved or v.keeps_quality:
        return None
    if not v.later:
        return "core-cp-sat" if v.core <= p.cp_sat_max_columns else None
    return "core-mip" if v.core <= p.later_core_max_columns else None


@dataclass(frozen=True)
class Worked:
    """A stage's outcome."""

    stats: StageStats  # in natural units, as the solution reports them
    gain: int  # the value reached and the proven bound, in the stage's integer units (maximised form)
    top: int
    steps: tuple[str, ...]  # the moves that improved or proved it
    relaxed: Relaxed
    cp_sat_workers: int  # CP-SAT's workers where it ran (0: it did not)
    objective: Objective

    @property
    def proven(self) -> bool:
        return self.gain >= self.top


def work_stage(g: CandidateGraph, name: str, keep: list[Keep], best: Best, run: Run, deadline: Optional[float],
               enough: Optional[int] = None, carried: Optional[Relaxed] = None, order: tuple[str, ...] = STAGES
               ) -> Worked:
    """One stage of ``order`` from ``best`` (which meets ``keep``; improved in place): its
    bound, then moves until decide() ends it. ``enough`` (coverage probes): stop once
    the value reaches it or the bound falls below it. ``carried``: the previous stage's
    LP, whose support joins this stage's first columns."""
    t0 = time.perf_counter()
    s = _start(g, name, keep, best, run, deadline, enough, carried)
    s.position = order.index(name)
    s.keeps_quality = "quality" in order[:s.position]
    log.info("%s", progress_line(name, s.gain, s.top, f"LP bound, {s.relaxed.rounds} column rounds"))
    while (move := decide(s.view(), run.params)) is not None:
        s.apply(move, MOVES[move](s))
    value, bound = UNITS[name] * s.gain, UNITS[name] * s.top
    stats = StageStats(name=name, status="optimal" if s.gain >= s.top else "feasible", seconds=round(time.perf_counter() - t0, 4),
                       value=round(value, 9), bound=round(bound, 9), gap=stage_gap(name, value, bound))
    return Worked(stats, s.gain, s.top, tuple(s.steps), s.relaxed, s.cp_sat_workers, s.objective)


def _start(g: CandidateGraph, name: str, keep: list[Keep], best: Best, run: Run, deadline: Optional[float],
           enough: Optional[int], carried: Optional[Relaxed]) -> Stage:
    """A stage's state before its moves: the LP bound, the pool, the LNS order."""
    params = run.params
    objective = stage_objective(g, name)
    first = (best.pairs, best.donors)
    if carried is not None:
        on = carried.col_x > 1e-9
        first = (np.concatenate([best.pairs, carried.col_pair[on]]),
                 np.concatenate([best.donors, carried.col_donor[on]]))
    relaxed = relax(g, maximised(objective).astype(np.float64), keep, first, ColgenSettings(
        rounds=params.colgen_rounds, per_mentee=params.colgen_per_mentee, iterations=params.lp_iterations,
        work=params.later_lp_work if name != "coverage" else None), deadline=deadline)
    step = coverage_step(g) if name == "coverage" else 1
    pool = pool_of(g, relaxed, params.pool_ladder[0])
    rng = np.random.default_rng([run.seed, STAGES.index(name)])
    pairs = _donor_pairs(g.n_donors)
    s = Stage(g, name, keep, best, run, deadline, objective, step, relaxed, lattice_floor(relaxed.bound, step), pool, rng,
              [np.array(pairs[i]) for i in rng.permutation(len(pairs))], enough=enough)
    s.gain = s.gain_of(best.pairs)
    s.top = settled(max(s.top, s.gain), s.gain)  # never below the incumbent (float rounding of a cut-short LP)
    s.count_core()
    return s


def solve_stages(graph: CandidateGraph, run: Run, time_limit: Optional[float] = None, order: tuple[str, ...] = STAGES,
                 start: Optional[tuple[np.ndarray, np.ndarray]] = None, rows: Optional[list[Keep]] = None
                 ) -> DonorResult:
    """The stages of ``order`` (coverage first, then quality and cost in either order),
    from greedy's assignment or ``start`` (which must meet ``rows``, linear rows every
    stage keeps besides the model's own: regional-equity's group counts). ``time_limit``
    only stops the work early (the message says so)."""
    if order[0] != "coverage" or sorted(order) != sorted(STAGES):
        raise ValueError(f"stage order {order}: coverage first, then quality and cost in either order")
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    g = with_cuts(graph, run.params)
    keep: list[Keep] = list(rows or [])
    best = Best(*greedy_assignment(g))
    units = g.mentee_weight_units
    if start is not None and (not meets_rows(keep, best.pairs) or
                              units[g.pair_mentee[start[0]]].sum() > units[g.pair_mentee[best.pairs]].sum()):
        best = Best(*start)  # meets ``rows``, and covers more than greedy's where both do
    worked: list[Worked] = []
    carried = None
    for name in order:
        if worked and deadline is not None and time.perf_counter() >= deadline:
            break  # the coverage stage always gets its bound (its LP's first round): a bound to report
        w = work_stage(g, name, keep, best, run, deadline, carried=carried, order=order)
        worked.append(w)
        carried = w.relaxed
        report(f"{name}: {w.stats.status}", worked[0].stats.bound, pinned_coverage(g))
        obj, maximise = w.objective
        keep.append((obj, int(obj[best.pairs].sum()), 1 if maximise else -1))
    cut = deadline is not None and time.perf_counter() >= deadline
    return DonorResult.of(best.pairs, best.donors, [w.stats for w in worked], order,
                          steps=[m for w in worked for m in w.steps],
                          workers=max((w.cp_sat_workers for w in worked), default=0),
                          message=stage_message([w.stats for w in worked], order, cut, run))


def coverage_probe(g: CandidateGraph, run: Run, target: int, deadline: Optional[float] = None,
                   rows: Optional[list[Keep]] = None, start: Optional[tuple[np.ndarray, np.ndarray]] = None
                   ) -> tuple[Optional[bool], Best]:
    """Whether some assignment of ``g`` (cut already) under ``rows`` covers at least
    ``target`` units: True (and one such assignment), False (the stage's bound proves
    none does) or None (its work limits, or the deadline, left it open). The coverage
    stage from ``start`` (greedy's when None; it must meet ``rows``), stopped as soon as
    either is known."""
    best = Best(*(greedy_assignment(g) if start is None else start))
    w = work_stage(g, "coverage", list(rows or []), best, run, deadline, enough=target)
    if w.gain >= target:
        return True, best
    return (False if w.top < target else None), best


def with_cuts(g: CandidateGraph, params: DonorParams) -> CandidateGraph:
    """The round with each donor's count cut (cuts.py) as its count."""
    return replace(g, max_count=donor_counts(g, params.count_cut_max_pairs))


def _donor_pairs(k: int) -> list[tuple[int, int]]:
    return [(a, b) for a in range(k) for b in range(a + 1, k)] if k > 1 else [(0,)] if k else []


