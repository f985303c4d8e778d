"""The one entry point shells call: instance in, verified solution out."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Optional, Sequence

import numpy as np

from ..models.instance import Instance
from ..models.solution import Solution, Verification
from .graph.encoding import CandidateGraph, build_graph
from .policies import (
    ORTOOLS_VERSION,
    Policy,
    SolveOptions,
    UnsupportedMethodError,
    choose_method,
    get_policy,
    priced_method,
)
from .postsolve.alternates import find_alternates
from .postsolve.decode import RunInfo, infeasible_solution, to_solution
from .postsolve.metrics import solution_metrics
from .tuning import Tuning
from .verify import verify_solution


def solve(instance: Instance, sha256: str, policy: str = "optimal",
          options: Optional[SolveOptions] = None, alternates: int = 0,
          prefer: Sequence[tuple[str, str]] = (), change_penalty: float = 1.0, tuning: Tuning = Tuning()) -> Solution:
    """Encode, solve with ``policy``, decode, add each mentee's ``alternates`` best
    runner-up mentors if asked, and attach the verifier's report.

    ``prefer``: (mentee, mentor) pairs to keep where possible (a previous round's,
    ``--keep-stable``): each one chosen earns ``change_penalty`` x the mentee's
    weight in the quality stage, on the score scale (see stability_scores)."""
    options = options or SolveOptions()
    t0 = time.perf_counter()
    chosen, method, candidates = plan(instance, policy, options, bool(prefer), tuning)
    graph = build_graph(instance, candidates=candidates)
    build = time.perf_counter() - t0
    info = RunInfo(policy, sha256, build, 0.0, options.seed, options.workers, options.time_limit, options.node_limit)
    if graph.infeasible:
        solution = infeasible_solution(graph, info, f"ortools {ORTOOLS_VERSION}")
    else:
        t1 = time.perf_counter()
        solve_graph = replace(graph, score=stability_scores(graph, prefer, change_penalty)) if prefer else graph
        assignment = chosen.solve(solve_graph, options if method is None else replace(options, method=method), tuning)
        if prefer:  # the bound is of the penalised quality, not of the quality reported
            assignment = replace(assignment, bound_quality_units=None, method=assignment.method + "+keep-stable")
        info = RunInfo(policy, sha256, build, time.perf_counter() - t1, options.seed, options.workers,
                       options.time_limit, options.node_limit)
        solution = to_solution(graph, assignment, info)
        if prefer:
            solution = solution.model_copy(update={
                "bound": solution.bound.model_copy(update={"quality": None}),
                "gap": solution.gap.model_copy(update={"quality": None}),
                "message": (solution.message + "; " if solution.message else "") +
                "keep-stable: quality was optimised with a change penalty, so no quality bound is given"})
        if alternates > 0:
            solution = solution.model_copy(update={"alternates": find_alternates(graph, solution, alternates)})
        solution = solution.model_copy(update={"metrics": solution_metrics(instance, solution, graph)})
    t2 = time.perf_counter()
    violations = verify_solution(instance, solution)
    stats = solution.stats.model_copy(update={"verify_seconds": round(time.perf_counter() - t2, 4)})
    return solution.model_copy(update={"stats": stats,
                                       "verification": Verification(ok=not violations, violations=violations)})


def plan(instance: Instance, policy: str, options: SolveOptions,
         keep_stable: bool = False, tuning: Tuning = Tuning()) -> tuple[Policy, Optional[str], bool]:
    """Check a request before any work, as solve does first: the policy, the
    method it would run (None for policies with one way) and whether the whole
    candidate graph is encoded. Raises UnknownPolicyError or UnsupportedMethodError."""
    chosen = get_policy(policy)
    prefer = keep_stable
    method: Optional[str] = None
    if chosen.name == "optimal":  # a forced method that cannot apply fails before any work
        method = choose_method(options.method, bool(instance.donors), _free_pairs(instance), tuning.pricing_min_pairs)
        if prefer and method == "flow-pricing":  # pricing encodes its own scores: use the whole graph
            if options.method == "flow-pricing":
                raise UnsupportedMethodError("--keep-stable needs the whole candidate graph; use --method flow")
            method = "flow"
    elif chosen.priced:
        if instance.donors and not chosen.supports_donors:
            chosen.check_donors()
        method = priced_method(policy, options.method, bool(instance.donors), _free_pairs(instance),
                               tuning.pricing_min_pairs)
        if prefer and method == "flow-pricing":
            if options.method == "flow-pricing":
                raise UnsupportedMethodError("--keep-stable needs the whole candidate graph; use --method flow")
            method = "flow"
    elif options.method != "auto":
        raise UnsupportedMethodError(f"--method chooses how the optimal, min-cost, max-min and regional-equity "
                                     f"policies solve; policy {policy!r} has one way")
    if instance.donors and not chosen.supports_donors:
        chosen.check_donors()
    pairs = _free_pairs(instance)
    streamed = chosen.streams and pairs >= tuning.pricing_min_pairs and not prefer
    candidates = method != "flow-pricing" and not streamed
    if candidates and pairs > tuning.max_graph_pairs:
        raise UnsupportedMethodError(
            f"{'--keep-stable with ' if prefer else ''}policy {policy!r}"
            f"{' with --method ' + str(method) if method else ''} encodes every one of the {pairs:,} "
            f"mentee x mentor pairs, which does not fit in memory (over {tuning.max_graph_pairs:,}); at this size "
            "every policy runs without it on budget-free instances (method auto)")
    return chosen, method, candidates


def _free_pairs(instance: Instance) -> int:
    """Free (not pinned) mentees x mentors: what sets the size of a solve."""
    return (sum(op.mentee is not None for op in instance.operators) - len(instance.pinned)) * \
        sum(op.mentor is not None for op in instance.operators)


def stability_scores(g: CandidateGraph, prefer: Sequence[tuple[str, str]], penalty: float) -> np.ndarray:
    """Scores the policies optimise under --keep-stable: (score + penalty) for the
    preferred pairs, score for the others, all divided by (1 + penalty) so they
    stay in [0, 1]. Coverage is untouched; in the quality stage each preferred pair
    kept is worth ``penalty`` x its mentee's weight more than its own score, so a
    change is made only if it gains more quality than that (docs/rounds.md)."""
    idx = np.array([k for k in (g.candidate(a, b) for a, b in prefer) if k >= 0], dtype=np.int64)
    score = g.score.astype(np.float64).copy()
    score[idx] += penalty
    return score / (1.0 + penalty)


def coverage_bound(instance: Instance, tuning: Tuning = Tuning()) -> Optional[float]:
    """An upper bound on coverage (budgets ignored: one max-flow over the
    candidates, plus the pinned mentees), for progress reports before the
    solve ends; None from Tuning.pricing_min_pairs pairs on, where it would cost a solve."""
    from ..models.instance import WEIGHT_RESOLUTION
    from .network.flow import max_coverage_units

    if _free_pairs(instance) >= tuning.pricing_min_pairs:
        return None
    graph = build_graph(instance, candidates=True)
    if graph.infeasible:
        return None
    pinned = float(graph.mentee_weight[graph.pinned.mentee].sum()) if len(graph.pinned.mentee) else 0.0
    return round(pinned + max_coverage_units(graph) * WEIGHT_RESOLUTION, 6)
