"""The lexicographic optimum with donors (docs/model.md, "With donors"): a
start, a Lagrangian bound and its core, then the staged MIP.

1. Start: the greedy assignment and the budget-free maximum coverage as a cap
   (on a large graph, no start and the sum of the weights as the cap).
2. Lagrangian relaxation of the budgets (lagrange.py): a proven coverage bound
   and repaired assignments; its core, when small, is an exact stage-1 MIP.
3. The staged MIP (mip.py) over every (pair, donor) variable, each stage from
   the incumbent, until proven or the time limit.

The answer is a ``Budgeted``: what the policies turn into their Assignment.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ...models.solution import StageStats
from ..errors import UnsupportedMethodError
from ..graph.encoding import CandidateGraph
from ..heuristics.greedy import greedy_assignment
from ..network.flow import max_coverage_units
from ..progress import report
from .highs import HighsRun
from .lagrange import cheapest_working_set, coverage_lagrangian
from .mip import MipResult, solve_stage, solve_staged_mip

DEFAULT_ORDER = ("coverage", "quality", "cost")


@dataclass(frozen=True)
class Budgeted:
    """The best assignment found with donors, and what is proven of it."""

    pairs: np.ndarray  # candidate indices
    donors: np.ndarray  # donor index per pair
    proven: bool  # every stage proven optimal
    method: str
    stages: list[StageStats]
    bound_coverage_units: Optional[float]
    bound_quality_units: Optional[float] = None
    message: Optional[str] = None


@dataclass
class _Start:
    """The incumbent handed to the staged MIP, and what is known about stage 1."""

    pairs: np.ndarray
    donors: np.ndarray
    value: int  # coverage units
    cap: int  # proven upper bound on coverage units
    stages: list[StageStats]


def solve_with_donors(graph: CandidateGraph, time_limit: Optional[float], run: HighsRun, lagrangian: bool,
                      order: tuple[str, ...] = DEFAULT_ORDER) -> Budgeted:
    """The stages of ``order`` over every (pair, donor) variable, from the best
    start the Lagrangian step finds (``lagrangian``) or the greedy one; raises
    UnsupportedMethodError where the full MIP would be too large and no
    Lagrangian bound can stand in for it."""
    params = run.params
    t0 = time.perf_counter()
    deadline = None if time_limit is None else t0 + time_limit
    n_vars = int(graph.fundable.sum())
    if n_vars > params.full_mip_max_variables and not lagrangian:
        raise UnsupportedMethodError(
            f"the staged MIP would build {n_vars:,} variables (over {params.full_mip_max_variables:,})")
    start = _start(graph, run, large=lagrangian and _large(graph, run))
    first_hint = (start.pairs, start.donors)
    if lagrangian and start.value < start.cap:
        start = _lagrangian_start(graph, start, time_limit, run, t0)
        report("lagrangian bound", start.cap, pinned_coverage(graph))
    if n_vars > params.full_mip_max_variables:
        return _without_full_mip(graph, start, n_vars, params.full_mip_max_variables)
    remaining = None if deadline is None else max(0.0, deadline - time.perf_counter())
    report("staged MIP", start.cap, pinned_coverage(graph))
    mip = solve_staged_mip(graph, start.pairs, start.donors, remaining, run, coverage_cap=start.cap,
                           coverage_step=coverage_step(graph), first_hint=first_hint, stage_names=order)
    return _from_mip(start, mip, order)


def _from_mip(start: _Start, mip: MipResult, order: tuple[str, ...]) -> Budgeted:
    stages = start.stages + [StageStats(name=s.name, status=s.status, seconds=round(s.seconds, 4),
                                        value=None if s.value is None else float(s.value), bound=s.bound)
                             for s in mip.stages]
    proven = len(mip.stages) == len(order) and all(s.status == "optimal" for s in mip.stages)
    by_name = {s.name: s for s in mip.stages}
    cov, qual = by_name.get("coverage"), by_name.get("quality")
    return Budgeted(
        pairs=mip.pair, donors=mip.donor, proven=proven,
        method=_method_name(start.stages) + "+staged-mip" + ("" if order == DEFAULT_ORDER else
                                                             f" ({', '.join(order)})"),
        stages=stages,
        bound_coverage_units=None if cov is None else (cov.value if cov.status == "optimal" else cov.bound),
        bound_quality_units=None if qual is None or cov is None or cov.status != "optimal"
        else (qual.value if qual.status == "optimal" else qual.bound),
        message=None if proven else
        f"time limit reached in the {mip.stages[-1].name} stage; best solution found is returned")


def solve_lagrangian(graph: CandidateGraph, run: HighsRun) -> Budgeted:
    """The Lagrangian bound and its best repaired assignment, without any MIP: a
    fixed amount of work, so the same answer on any machine and in seconds at
    2,000 x 500 (what scenario sweeps run by default). Coverage has a proven
    bound; quality and cost are those of the repaired assignment."""
    t0 = time.perf_counter()
    start = _start(graph, run, large=_large(graph, run))
    if start.value < start.cap:
        start = _lagrangian_start(graph, start, None, run, t0, core_mip=False)
    proven = start.value >= start.cap
    return Budgeted(
        pairs=start.pairs, donors=start.donors, proven=False, method=_method_name(start.stages),
        stages=start.stages, bound_coverage_units=start.cap,
        message=("method lagrangian: coverage is proven optimal" if proven else
                 "method lagrangian: coverage has the Lagrangian bound") +
        "; quality and cost are those of the best repaired assignment, not optimised")


def _start(graph: CandidateGraph, run: HighsRun, large: bool) -> _Start:
    """The greedy assignment and the budget-free maximum as the cap. On a large
    graph neither: the relaxation's repaired assignments beat the greedy start
    (20,000 x 5,000 x 5: 9,110 mentees against 6,666) in less time than greedy
    takes (11 s), and bound coverage better than the budget-free flow would (35 s
    for that one flow)."""
    if large:
        pairs, donors = np.zeros(0, np.int64), np.zeros(0, np.int64)
        cap = int(graph.mentee_weight_units[graph.free_mentee].sum())
    else:
        pairs, donors = greedy_assignment(graph)
        cap = max_coverage_units(graph)
    return _Start(pairs, donors, int(graph.mentee_weight_units[graph.pair_mentee[pairs]].sum()), cap, [])


def pinned_coverage(graph: CandidateGraph) -> float:
    return float(graph.mentee_weight[graph.pinned.mentee].sum()) if len(graph.pinned.mentee) else 0.0


def _method_name(stages: list[StageStats]) -> str:
    names = {s.name for s in stages}
    parts = [] if "coverage-lagrangian-working-set" in names else ["greedy"]
    if "coverage-lagrangian" in names:
        parts.append("lagrangian")
    if "coverage-lagrangian-working-set" in names:
        parts.append("lagrangian-on-working-set")
    if names & {"coverage-core-mip", "coverage-heuristic-core-mip"}:
        parts.append("core-mip")
    return "+".join(parts)


def _without_full_mip(graph: CandidateGraph, start: _Start, n_vars: int, limit: int) -> Budgeted:
    return Budgeted(
        pairs=start.pairs, donors=start.donors, proven=False, method=_method_name(start.stages), stages=start.stages,
        bound_coverage_units=start.cap,
        message=f"the exact MIP would have {n_vars:,} variables (over {limit:,}); the best assignment found is "
                "returned with the Lagrangian coverage bound; quality and cost were not optimised")


def _lagrangian_start(graph: CandidateGraph, start: _Start, time_limit: Optional[float], run: HighsRun, t0: float,
                      core_mip: bool = True) -> _Start:
    """A Lagrangian bound and a repaired assignment (a third of a time limit, 60%
    on a large graph; a fixed number of iterations otherwise), then the core MIP
    (up to half of the limit, 90% on a large graph) unless ``core_mip`` is False."""
    step = coverage_step(graph)
    large = _large(graph, run)
    share = (0.6, 0.9) if large else (1 / 3, 1 / 2)  # of the time limit: relaxation, then core MIP
    deadline = None if time_limit is None else t0 + time_limit * share[0]
    lag = coverage_lagrangian(graph, start.pairs, start.donors, deadline=deadline,
                              working=cheapest_working_set(graph) if large else None)
    lag_seconds = time.perf_counter() - t0
    cap = min(start.cap, _coverage_floor(graph, lag.bound))
    if lag.value > start.value:
        start = _Start(lag.pairs, lag.donors, lag.value, cap, start.stages)
    stages = [StageStats(name="coverage-lagrangian-working-set" if large else "coverage-lagrangian",
                         status="feasible", seconds=round(lag_seconds, 4), value=float(start.value), bound=float(cap))]
    if start.value >= cap or int(graph.fundable.sum()) <= run.params.core_min_variables or not core_mip:
        return _Start(start.pairs, start.donors, start.value, cap, stages)
    core_limit = None if time_limit is None else max(0.0, t0 + time_limit * share[1] - time.perf_counter())
    best, cap, stage = _core_mip(graph, lag, start, cap, step, core_limit, run)
    stages.append(stage)
    return _Start(best.pairs, best.donors, best.value, cap, stages)


def _core_mip(graph: CandidateGraph, lag, start: _Start, cap: int, step: int, time_limit: Optional[float],
              run: HighsRun) -> tuple[_Start, int, StageStats]:
    """The core (docs/model.md): every assignment better than the incumbent uses
    only variables whose Lagrangian penalty is within the gap. When the core is
    small, its MIP is exact for stage 1; otherwise the variables of smallest
    penalty make a heuristic core whose optimum is a new incumbent."""
    most = run.params.core_max_variables
    penalty = lag.relaxation.penalty(graph)
    core = lag.relaxation.core(graph, start.value + step, penalty)
    exact = int(core.sum()) <= most
    if not exact:
        finite = penalty[np.isfinite(penalty)]
        core = penalty <= np.partition(finite, most - 1)[most - 1]
    out = solve_stage(graph, "coverage", [], start.pairs, start.donors, time_limit, run, step, allowed=core,
                      bound_cap=float(cap))
    if out is not None:
        if out.value > start.value:
            start = _Start(out.pair, out.donor, out.value, cap, start.stages)
        if exact and out.status == "optimal":  # the core's optimum (or the incumbent) is the stage's optimum
            cap = start.value
    stage = StageStats(name="coverage-core-mip" if exact else "coverage-heuristic-core-mip",
                       status="optimal" if start.value >= cap else "feasible",
                       seconds=0.0 if out is None else round(out.seconds, 4), value=float(start.value),
                       bound=float(cap))
    return start, cap, stage


def _large(graph: CandidateGraph, run: HighsRun) -> bool:
    """Whether the relaxation runs on a working set of cheap pairs (lagrange.relax_stage)."""
    return graph.n_candidates > run.params.working_set_min_candidates


def coverage_step(graph: CandidateGraph) -> int:
    """Every coverage is a sum of mentee weight units, hence a multiple of their
    greatest common divisor."""
    units = graph.mentee_weight_units[graph.free_mentee]
    return max(1, int(np.gcd.reduce(units))) if len(units) else 1


def _coverage_floor(graph: CandidateGraph, bound: float) -> int:
    """Round a coverage bound down to the largest value coverage can take."""
    step = coverage_step(graph)
    return int(np.floor(bound / step + 1e-12)) * step
