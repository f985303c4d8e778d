"""The lexicographic optimum with donors by LP bounds (docs/model.md, "With
donors"): every stage bounded by its column-generated LP, given an incumbent
from that LP, and proven where a MIP over the columns the bound leaves open
closes the gap. Every step is limited by work (column rounds, simplex
iterations, branch-and-bound nodes), never by the clock, so an instance gives
the same answer on an idle or a busy machine; a time limit only stops the work
early, and the answer says so.

For each stage in turn (coverage, then quality, then cost; each later stage
keeps the values the earlier ones reached):

1. The LP bound (colgen.relax), rounded down to the values the stage can take.
2. LP-fill and a node-limited MIP over the columns of smallest penalty (fill.py).
3. Unless that meets the bound, the MIP over the core: every column a better
   assignment could use. When the core is small enough, its optimum (within
   the node limit) proves the stage; its bound tightens the stage's otherwise.

A stage that is not proven still hands its best value to the next one, so
quality and cost are optimised, and bounded, among the assignments of at
least the coverage found.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Optional

import numpy as np

from ...models.instance import WEIGHT_RESOLUTION
from ...models.solution import StageStats
from ..graph.encoding import CandidateGraph
from ..graph.units import QUALITY_SCALE
from ..heuristics.greedy import greedy_assignment
from ..progress import report
from .colgen import ColgenSettings, relax
from .cpsat import solve_cp
from .fill import lp_fill, smallest_penalties
from .highs import HighsRun
from .mip import Keep, solve_stage, stage_objectives
from .staged import Budgeted, coverage_step, pinned_coverage

STAGES = ("coverage", "quality", "cost")
log = logging.getLogger("wopmatch.solver")


@dataclass
class Best:
    """The best assignment so far; each stage improves it in place."""

    pairs: np.ndarray
    donors: np.ndarray


@dataclass(frozen=True)
class _StageResult:
    stats: StageStats
    value: int  # stage units (cost: positive)
    proven: bool
    steps: tuple[str, ...]  # what improved or proved it


def solve_certified(graph: CandidateGraph, run: HighsRun, time_limit: Optional[float] = None,
                    order: tuple[str, ...] = STAGES,
                    start: Optional[tuple[np.ndarray, np.ndarray]] = None,
                    rows: Optional[list[Keep]] = None) -> Budgeted:
    """Each stage of ``order`` (coverage first) bounded, filled and, where the core is
    small, proven; see the module docstring. ``time_limit`` only stops the work early
    (the message says so). ``rows``: linear rows every stage keeps besides the
    model's own, met by ``start`` (the assignment to start from instead of greedy's
    when greedy's breaks a row or covers less)."""
    if order[0] != "coverage" or sorted(order) != sorted(STAGES):
        raise ValueError(f"stage order {order}: coverage first, then quality and cost in either order")
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    keep: list[Keep] = list(rows or [])  # rows every stage keeps (they must hold for ``start``)
    best = Best(*greedy_assignment(graph))
    units = graph.mentee_weight_units
    if start is not None and (not _meets(graph, keep, best.pairs) or
                              units[graph.pair_mentee[start[0]]].sum() > units[graph.pair_mentee[best.pairs]].sum()):
        best = Best(*start)  # feasible under ``rows``, and of more coverage than greedy's where both are
    results: list[_StageResult] = []
    for name in order:
        if deadline is not None and time.perf_counter() >= deadline:
            break
        result = certify_stage(graph, name, keep, best, run, deadline)
        results.append(result)
        report(f"{name}: {result.stats.status}", results[0].stats.bound, pinned_coverage(graph))
        obj, maximise = stage_objectives(graph)[name]
        keep.append((obj, result.value, 1 if maximise else -1))
    stages = [r.stats for r in results]
    proven = [r.proven for r in results]
    all_proven = len(proven) == len(order) and all(proven)
    message = None
    if deadline is not None and time.perf_counter() >= deadline and not all_proven:
        message = "the time limit stopped the work before its work limits; the best assignment found is returned"
    elif not all_proven:
        message = (f"{', '.join(s.name for s in stages if s.status != 'optimal')} not proven optimal within the "
                   "work limits: each stage's bound certifies its gap")
    steps = [step for r in results for step in r.steps]
    by_name = {r.stats.name: r.stats for r in results}
    named = ("lp-fill", "restricted-mip", "restricted-cp-sat", "core-mip", "core-cp-sat", "cp-sat")
    method = "+".join(["colgen-lp"] + [s for s in named if s in steps])
    return Budgeted(
        pairs=best.pairs, donors=best.donors, proven=all_proven,
        method=method if order == STAGES else f"{method} ({', '.join(order)})",
        stages=stages,
        bound_coverage_units=stages[0].bound if stages else None,
        bound_quality_units=by_name["quality"].bound if "quality" in by_name and order[1] == "quality"
        and proven[0] else None,
        message=message,
    )


def coverage_probe(g: CandidateGraph, run: HighsRun, target: int, deadline: Optional[float] = None,
                   prefix: str = "", rows: Optional[list[Keep]] = None,
                   start: Optional[tuple[np.ndarray, np.ndarray]] = None) -> tuple[Optional[bool], Best]:
    """Whether some assignment of ``g`` under ``rows`` covers at least ``target``
    units: True (and one such assignment), False (the stage's bound proves none
    does) or None (its work limits, or the deadline, left it open). The coverage
    stage below, from ``start`` (greedy's when None; it must meet ``rows``), stopped
    as soon as either is known."""
    best = Best(*(greedy_assignment(g) if start is None else start))
    result = certify_stage(g, "coverage", list(rows or []), best, run, deadline, enough=target, prefix=prefix)
    if result.value >= target:
        return True, best
    return (False if result.stats.bound < target else None), best


def certify_stage(g: CandidateGraph, name: str, keep: list[Keep], best: Best, run: HighsRun,
                  deadline: Optional[float], enough: Optional[int] = None, prefix: str = "") -> _StageResult:
    """One stage (module docstring); with ``enough`` (coverage only), it stops once
    its value reaches that or its bound falls below it."""
    t0 = time.perf_counter()
    params = run.params
    obj, maximise = stage_objectives(g)[name]
    sign = 1 if maximise else -1
    f = sign * obj.astype(np.float64)
    step = coverage_step(g) if name == "coverage" else 1
    value = int(obj[best.pairs].sum())

    later = name != "coverage"
    relaxed = relax(g, f, keep, (best.pairs, best.donors), ColgenSettings(
        rounds=params.colgen_rounds, per_mentee=params.colgen_per_mentee, iterations=params.lp_iterations,
        work=params.later_lp_work if later else None), deadline=deadline)
    top = _floor(relaxed.bound, step)  # in the maximised form
    n_free = int(g.free_mentee.sum())
    steps: list[str] = []

    def say(after: str) -> None:
        log.info("%s%s", prefix, _progress_line(g, name, value, sign * top, after))

    say(f"LP bound, {relaxed.rounds} column rounds")

    def closed() -> bool:
        return sign * value >= top or (enough is not None and (value >= enough or top < enough))

    def tight() -> bool:  # a gap HiGHS's core MIP closes at its root, where CP-SAT can take seconds
        return later and top - sign * value <= params.tight_gap * abs(top) + 1

    def remaining() -> Optional[float]:
        return None if deadline is None else max(0.0, deadline - time.perf_counter())

    if not closed() and (deadline is None or remaining() > 0):
        most = params.restricted_ladder[-1] * max(n_free, 1)
        fill_p, fill_d = lp_fill(g, relaxed, *smallest_penalties(g, relaxed, most))
        if _meets(g, keep, fill_p) and sign * int(obj[fill_p].sum()) > sign * value:
            best.pairs, best.donors, value = fill_p, fill_d, int(obj[fill_p].sum())
            steps.append("lp-fill")
            say("LP-fill")
    support = relaxed.col_x > 1e-9  # the LP optimum's columns join every rung
    # A small core (tuning.small_core_columns) and more than tight_gap open: CP-SAT over the core at
    # once (below) proves the stage sooner than the ladder of restricted MIPs improves it.
    early = relaxed.core(g, sign * value + step) if g.fundable.size <= params.early_core_max_cells \
        and not closed() and not tight() else None
    direct = early is not None and int(early.sum()) <= params.small_core_columns
    for per in params.restricted_ladder:
        if direct or closed() or (deadline is not None and remaining() <= 0):
            break
        # Each rung is hinted with the best so far: from a good hint HiGHS solves a rung
        # that it cannot improve from a poor one (measured at 2,000 x 500 x 5, quality).
        # Selected anew, not as a prefix of the fill's ranking: ties in penalty are common (the LP
        # is degenerate), and which tied columns a rung gets changes its answer.
        most = per * max(n_free, 1)
        if most > (params.later_restricted_max_columns if later else params.restricted_max_columns):
            break
        cols = smallest_penalties(g, relaxed, most)
        mask = np.zeros(g.fundable.shape if g.has_donors else (g.n_candidates, 1), bool)
        mask[cols[0], np.maximum(cols[1], 0)] = True
        mask[relaxed.col_pair[support], np.maximum(relaxed.col_donor[support], 0)] = True
        # and the incumbent's, so that its hint is a solution of the rung: under kept rows (a later
        # stage's coverage, equity's group counts) a rung without them may hold no solution at all
        mask[best.pairs, np.maximum(best.donors, 0)] = True
        out = solve_stage(g, name, keep, best.pairs, best.donors, remaining(),
                          replace(run, node_limit=_nodes(run, params.restricted_nodes)), step, allowed=mask)
        if out is None:
            break
        if sign * out.value > sign * value:
            best.pairs, best.donors, value = out.pair, out.donor, out.value
            steps.append("restricted-mip")
        say(f"MIP on {int(mask.sum()):,} columns")
        if out.status != "optimal":  # cut by its node limit: a larger rung would be too ...
            if not (later and sign * out.value <= sign * value and int(mask.sum()) <= params.small_core_columns
                    and top - sign * value > params.rung_cp_sat_gap * abs(top)):
                break
            # ... unless, in quality or cost with more than rung_cp_sat_gap open, HiGHS found nothing better
            # on a small rung: CP-SAT on the same columns (regional-equity 200 x 60 x 5 s1, quality: HiGHS
            # 76.40 after 100 nodes, CP-SAT 94.86 in 2.5 s), and on up the ladder from what it found. (With
            # less open the core MIP closes more for the time: 300 x 70 x 3 s5 took 38 s instead of 27.)
            found = solve_cp(g, name, keep, mask, sign * value, step, None, params.small_core_deterministic_time,
                             1, run.seed, remaining(), 2)
            if found.pairs is None or sign * found.value <= sign * value:
                break
            best.pairs, best.donors, value = found.pairs, found.donors, found.value
            steps.append("restricted-cp-sat")
            say(f"CP-SAT on {int(mask.sum()):,} columns")

    def cp_sat(allowed: np.ndarray) -> None:
        nonlocal value, top
        small = int(allowed.sum()) <= params.small_core_columns  # one worker, its LP relaxation in full
        found = solve_cp(g, name, keep, allowed, sign * value, step, top,
                         params.small_core_deterministic_time if small else params.cp_sat_deterministic_time,
                         1 if small else run.workers, run.seed, remaining(), 2 if small else None)
        steps.append("core-cp-sat" if small else "cp-sat")
        if found.pairs is not None and sign * found.value > sign * value:
            best.pairs, best.donors, value = found.pairs, found.donors, found.value
        if found.bound is not None:  # the core holds every better assignment; CP-SAT's bound is exact
            top = min(top, int(round(max(found.bound, sign * value))) // step * step)
        say(f"CP-SAT on {int(allowed.sum()):,} columns")

    if not closed() and (deadline is None or remaining() > 0):
        core = early if direct else relaxed.core(g, sign * value + step)  # direct: the incumbent is unchanged
        size = int(core.sum())
        # A small core (tuning.small_core_columns) with more than tight_gap open: CP-SAT on one worker
        # first, as it proves such stages in a fraction of HiGHS's time (the demo's sensitivity: 47
        # re-solves in 6 s against 51 s). A larger coverage core: HiGHS's core MIP, then CP-SAT with
        # the tighter cap it left, except one weight step short, where the MIP's root is dear and
        # cannot tighten one step (tuning.cp_sat_first_min_columns). Larger quality and cost cores:
        # HiGHS's core MIP alone.
        cp_first = size <= params.small_core_columns and not tight()
        to_cp = cp_first or (not later and size <= params.cp_sat_max_columns)
        if cp_first:
            cp_sat(core)
        one_step = not later and to_cp and top - sign * value <= step and size >= params.cp_sat_first_min_columns
        if not closed() and not one_step and (deadline is None or remaining() > 0) \
                and size <= (params.later_core_max_columns if later else params.core_max_variables):
            out = solve_stage(g, name, keep, best.pairs, best.donors, remaining(),
                              replace(run, node_limit=_nodes(run, max(params.core_nodes, params.core_work // size))),
                              step, allowed=core, bound_cap=float(sign * top))
            steps.append("core-mip")
            if out is not None:
                if sign * out.value > sign * value:
                    best.pairs, best.donors, value = out.pair, out.donor, out.value
                if out.status == "optimal":
                    top = sign * value  # the core holds every better assignment: none exists
                elif out.bound is not None:  # the bound over the core, which holds every better assignment
                    top = min(top, _floor(sign * out.bound, step))
            say(f"core MIP on {size:,} columns")
        # Coverage: CP-SAT after HiGHS, as the tighter cap HiGHS leaves helps it prove (200 x 60 x 5
        # s2: 13 s with HiGHS's 98.0, no answer in 30 units of deterministic time with the LP's 99.0).
        if to_cp and not cp_first and not closed() and (deadline is None or remaining() > 0):
            cp_sat(relaxed.core(g, sign * value + step))  # the incumbent may have improved
    proven = sign * value >= top
    stats = StageStats(name=name, status="optimal" if proven else "feasible",
                       seconds=round(time.perf_counter() - t0, 4), value=float(value), bound=float(sign * top))
    return _StageResult(stats, value, proven, tuple(steps))


def _nodes(run: HighsRun, default: int) -> int:
    """The user's node limit where one is given, else the stage's own."""
    return default if run.node_limit is None else run.node_limit


def _meets(g: CandidateGraph, keep: list[Keep], pairs: np.ndarray) -> bool:
    for coef, value, sense in keep:
        total = int(coef[pairs].sum())
        if (sense > 0 and total < value) or (sense < 0 and total > value):
            return False
    return True


def _floor(bound: float, step: int) -> int:
    """The largest multiple of ``step`` at or below ``bound``, after widening
    by float rounding (only ever up: the result stays a bound)."""
    widened = bound + 1e-9 * abs(bound) + 1e-6
    return int(np.floor(widened / step)) * step


def _progress_line(g: CandidateGraph, name: str, value: int, bound: float, after: str) -> str:
    """"coverage 1,149 (<= 1,151, gap 0.17%) MIP on 2,890 columns", in the solution's
    units (the free mentees' part: pinned partnerships are added later); under 70
    characters for the sizes measured, so that a progress line fits 80 columns."""
    scale = {"coverage": WEIGHT_RESOLUTION, "quality": 1 / QUALITY_SCALE, "cost": 1.0}[name]
    v, b = value * scale, bound * scale
    base = v if name == "cost" else b
    gap = abs(b - v) / abs(base) if base else 0.0
    shown = f"{gap:.2%}" if gap == 0 or gap >= 5e-5 else "<0.01%"  # never "0.00%" for an open gap
    return f"{name} {_number(v)} ({'>=' if name == 'cost' else '<='} {_number(b)}, gap {shown}) {after}"


def _number(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1e5 else f"{x:,.6g}"
