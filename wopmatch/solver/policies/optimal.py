"""The ``optimal`` policy: the exact lexicographic optimum (docs/model.md).

Maximum coverage, then maximum quality, then minimum cost. Without donors a
staged min-cost flow (on every pair, or on a priced working set at scale);
with donors a Lagrangian decomposition of the budgets and an exact staged MIP.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from ...models.solution import StageStats
from ..budgets.lagrange import cheapest_working_set, coverage_lagrangian
from ..budgets.mip import solve_stage, solve_staged_mip
from ..graph.encoding import CandidateGraph
from ..graph.units import QUALITY_SCALE
from ..heuristics.greedy import greedy_assignment
from ..network.flow import coverage_cost, max_coverage_units, plain_structure, solve_staged_flow
from ..network.pricing import PairSource, Stage, first_working_set, fold, resolution_note, solve_lexicographic
from ..progress import report
from ..tuning import PricingParams, Tuning
from .base import ORTOOLS_VERSION, Assignment, Policy, SolveOptions, UnsupportedMethodError, priced_assignment

#: How the exact policy may solve: "auto" chooses by the instance's structure.
METHODS = ("auto", "flow", "flow-pricing", "mip", "lagrangian-mip", "lagrangian")


def choose_method(method: str, has_donors: bool, pairs: int = 0, pricing_min_pairs: int = 0) -> str:
    """The method to run; ``pairs`` = free mentees x mentors (auto prices from ``pricing_min_pairs`` on)."""
    if method not in METHODS:
        raise UnsupportedMethodError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    if method == "auto":
        if has_donors:
            return "lagrangian-mip"
        return "flow-pricing" if pairs >= pricing_min_pairs else "flow"
    if method in ("flow", "flow-pricing") and has_donors:
        raise UnsupportedMethodError(f"method '{method}' does not model donor budgets, and this instance has "
                                     "donors; use 'lagrangian-mip', 'mip' or 'auto'")
    if method in ("lagrangian-mip", "lagrangian") and not has_donors:
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

    def solve(self, graph: CandidateGraph, options: SolveOptions, tuning: Tuning) -> Assignment:
        pairs = int(graph.free_mentee.sum()) * graph.n_mentors
        method = choose_method(options.method, graph.has_donors, pairs, tuning.pricing_min_pairs)
        if method == "flow":
            return _solve_flow(graph, tuning.fold)
        if method == "flow-pricing":
            return _solve_flow_pricing(graph, tuning.optimal_pricing_for(pairs), tuning.fold)
        if method == "lagrangian":
            return _solve_lagrangian(graph, options)
        return _solve_budgeted(graph, options, lagrangian=method == "lagrangian-mip")


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


@dataclass
class _Start:
    """The incumbent handed to the staged MIP, and what is known about stage 1."""

    pairs: np.ndarray
    donors: np.ndarray
    value: int  # coverage units
    cap: int  # proven upper bound on coverage units
    stages: list[StageStats]


def _solve_budgeted(graph: CandidateGraph, options: SolveOptions, lagrangian: bool) -> Assignment:
    t0 = time.perf_counter()
    deadline = None if options.time_limit is None else t0 + options.time_limit
    # On a large graph the relaxation's repaired assignments beat the greedy
    # start (20,000 x 5,000 x 5: 9,110 mentees against 6,666) in less time than
    # greedy takes (11 s), and bound coverage better than the budget-free flow
    # would (35 s for that one flow).
    large = _large(graph) and lagrangian
    pairs, donors = (np.zeros(0, np.int64), np.zeros(0, np.int64)) if large else greedy_assignment(graph)
    cap = int(graph.mentee_weight_units[graph.free_mentee].sum()) if large else max_coverage_units(graph)
    start = _Start(pairs, donors, int(graph.mentee_weight_units[graph.pair_mentee[pairs]].sum()), cap, [])
    if lagrangian and start.value < start.cap:
        start = _lagrangian_start(graph, start, options, t0)
        report("lagrangian bound", start.cap, _pinned_coverage(graph))
    if int(graph.fundable.sum()) > FULL_MIP_MAX_VARIABLES:
        if not lagrangian:
            raise UnsupportedMethodError(
                f"method 'mip' would build {int(graph.fundable.sum()):,} variables (over {FULL_MIP_MAX_VARIABLES:,}); "
                "use 'auto' or 'lagrangian-mip', which certify a gap without it")
        return _without_full_mip(graph, start)
    remaining = None if deadline is None else max(0.0, deadline - time.perf_counter())
    report("staged MIP", start.cap, _pinned_coverage(graph))
    mip = solve_staged_mip(graph, start.pairs, start.donors, remaining, options.workers, options.seed,
                           coverage_cap=start.cap, coverage_step=_coverage_step(graph), first_hint=(pairs, donors))
    stages = start.stages + [StageStats(name=s.name, status=s.status, seconds=round(s.seconds, 4),
                                        value=None if s.value is None else float(s.value), bound=s.bound)
                             for s in mip.stages]
    proven = len(mip.stages) == 3 and all(s.status == "optimal" for s in mip.stages)
    by_name = {s.name: s for s in mip.stages}
    cov, qual = by_name.get("coverage"), by_name.get("quality")
    message = None
    if not proven:
        message = f"time limit reached in the {mip.stages[-1].name} stage; best solution found is returned"
    return Assignment(
        pairs=mip.pair,
        donors=mip.donor,
        status="optimal" if proven else "feasible",
        method=_method_name(start.stages) + "+staged-mip",
        solver=f"ortools-mathopt-highs {ORTOOLS_VERSION}",
        bound_coverage_units=None if cov is None else (cov.value if cov.status == "optimal" else cov.bound),
        bound_quality_units=None if qual is None or cov is None or cov.status != "optimal"
        else (qual.value if qual.status == "optimal" else qual.bound),
        stages=stages,
        message=message,
    )


def _pinned_coverage(graph: CandidateGraph) -> float:
    return float(graph.mentee_weight[graph.pinned.mentee].sum()) if len(graph.pinned.mentee) else 0.0


def _solve_lagrangian(graph: CandidateGraph, options: SolveOptions) -> Assignment:
    """The Lagrangian bound and its best repaired assignment, without any MIP: a
    fixed amount of work, so the same answer on any machine and in seconds at
    2,000 x 500 (what scenario sweeps run by default). Coverage has a proven
    bound; quality and cost are those of the repaired assignment."""
    t0 = time.perf_counter()
    large = _large(graph)
    pairs, donors = (np.zeros(0, np.int64), np.zeros(0, np.int64)) if large else greedy_assignment(graph)
    cap = int(graph.mentee_weight_units[graph.free_mentee].sum()) if large else max_coverage_units(graph)
    start = _Start(pairs, donors, int(graph.mentee_weight_units[graph.pair_mentee[pairs]].sum()), cap, [])
    if start.value < start.cap:
        start = _lagrangian_start(graph, start, replace(options, time_limit=None), t0, core_mip=False)
    proven = start.value >= start.cap
    return Assignment(
        pairs=start.pairs, donors=start.donors, status="feasible", method=_method_name(start.stages),
        solver=f"ortools-min-cost-flow+mathopt-highs {ORTOOLS_VERSION}", bound_coverage_units=start.cap,
        stages=start.stages,
        message=("method lagrangian: coverage is proven optimal" if proven else
                 "method lagrangian: coverage has the Lagrangian bound") +
        "; quality and cost are those of the best repaired assignment, not optimised")


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


def _without_full_mip(graph: CandidateGraph, start: _Start) -> Assignment:
    n_vars = int(graph.fundable.sum())
    message = (f"the exact MIP would have {n_vars:,} variables (over {FULL_MIP_MAX_VARIABLES:,}); the best "
               "assignment found is returned with the Lagrangian coverage bound; quality and cost were not optimised")
    return Assignment(
        pairs=start.pairs,
        donors=start.donors,
        status="feasible",
        method=_method_name(start.stages),
        solver=f"ortools-min-cost-flow+mathopt-highs {ORTOOLS_VERSION}",
        bound_coverage_units=start.cap,
        bound_quality_units=None,
        stages=start.stages,
        message=message,
    )


def _lagrangian_start(graph: CandidateGraph, start: _Start, options: SolveOptions, t0: float,
                      core_mip: bool = True) -> _Start:
    """A Lagrangian bound and a repaired assignment (a third of a time limit, 60%
    on a large graph; a fixed number of iterations otherwise), then the core MIP
    (up to half of the limit, 90% on a large graph) unless ``core_mip`` is False."""
    limit = options.time_limit
    step = _coverage_step(graph)
    large = _large(graph)
    share = (0.6, 0.9) if large else (1 / 3, 1 / 2)  # of the time limit: relaxation, then core MIP
    deadline = None if limit is None else t0 + limit * share[0]
    lag = coverage_lagrangian(graph, start.pairs, start.donors, deadline=deadline,
                              working=cheapest_working_set(graph) if large else None)
    lag_seconds = time.perf_counter() - t0
    cap = min(start.cap, _coverage_floor(graph, lag.bound))
    if lag.value > start.value:
        start = _Start(lag.pairs, lag.donors, lag.value, cap, start.stages)
    stages = [StageStats(name="coverage-lagrangian-working-set" if large else "coverage-lagrangian",
                         status="feasible", seconds=round(lag_seconds, 4), value=float(start.value), bound=float(cap))]
    n_vars = int(graph.fundable.sum())
    if start.value >= cap or n_vars <= CORE_MIN_VARIABLES or not core_mip:
        return _Start(start.pairs, start.donors, start.value, cap, stages)
    # The core (docs/model.md): every assignment better than the incumbent uses
    # only variables whose Lagrangian penalty is within the gap. When the core is
    # small, its MIP is exact for stage 1; otherwise the variables of smallest
    # penalty make a heuristic core whose optimum is a new incumbent.
    penalty = lag.relaxation.penalty(graph)
    core = lag.relaxation.core(graph, start.value + step, penalty)
    exact = int(core.sum()) <= CORE_MAX_VARIABLES
    if not exact:
        finite = penalty[np.isfinite(penalty)]
        core = penalty <= np.partition(finite, CORE_MAX_VARIABLES - 1)[CORE_MAX_VARIABLES - 1]
    core_limit = None if limit is None else max(0.0, t0 + limit * share[1] - time.perf_counter())
    out = solve_stage(graph, "coverage", [], start.pairs, start.donors, core_limit, options.seed, step,
                      allowed=core, bound_cap=float(cap))
    if out is not None:
        if out.value > start.value:
            start = _Start(out.pair, out.donor, out.value, cap, start.stages)
        if exact and out.status == "optimal":  # the core's optimum (or the incumbent) is the stage's optimum
            cap = start.value
    stages.append(StageStats(name="coverage-core-mip" if exact else "coverage-heuristic-core-mip",
                             status="optimal" if start.value >= cap else "feasible",
                             seconds=0.0 if out is None else round(out.seconds, 4),
                             value=float(start.value), bound=float(cap)))
    return _Start(start.pairs, start.donors, start.value, cap, stages)


def _large(graph: CandidateGraph) -> bool:
    return graph.n_candidates > WORKING_SET_MIN_CANDIDATES


#: From this many candidate pairs on, the relaxation runs on a working set of
#: cheap pairs and prices the rest (lagrange.relax_stage), and the full
#: budget-free flow is not solved (at 20,000 x 5,000: 28.7M pairs, 35 s per flow).
WORKING_SET_MIN_CANDIDATES = 2_000_000
#: Below this many (pair, donor) variables the full MIP is as quick as any core.
CORE_MIN_VARIABLES = 100_000
#: The largest core handed to HiGHS (measured at 2000 x 500 x 5: a 60,000-variable
#: core solved in 10 s; 150,000 did not finish in 40 s).
CORE_MAX_VARIABLES = 60_000
#: Above this many variables the full staged MIP is not attempted: building its
#: model alone would take minutes and gigabytes. The answer then carries the
#: Lagrangian bound as its certified gap.
FULL_MIP_MAX_VARIABLES = 2_000_000


def _coverage_step(graph: CandidateGraph) -> int:
    """Every coverage is a sum of mentee weight units, hence a multiple of their
    greatest common divisor."""
    units = graph.mentee_weight_units[graph.free_mentee]
    return max(1, int(np.gcd.reduce(units))) if len(units) else 1


def _coverage_floor(graph: CandidateGraph, bound: float) -> int:
    """Round a coverage bound down to the largest value coverage can take."""
    step = _coverage_step(graph)
    return int(np.floor(bound / step + 1e-12)) * step
