"""Instance in, verified solution out: what ``wopmatch.solver.solve`` does.

1. The round rules (rounds.py): an earlier round's partnerships carried, or
   preferred under keep_stable.
2. ``plan``: the policy, the method it would run and whether the whole candidate
   graph is encoded; a request that cannot run fails here, before any work.
3. Encode (graph/), solve (policies/), decode, explain, alternates and metrics
   (postsolve/), and the independent verifier's report (verify.py).

A ``Watch`` sees a long solve as it goes: the phases, each proven coverage
bound, and the greedy start (verified) as soon as it is found.
"""

from __future__ import annotations

import time
from typing import NamedTuple, Optional, Protocol, Sequence

from ..models.instance import WEIGHT_RESOLUTION, Instance, instance_warnings, region_writers, spelling_list
from ..models.problems import InputError, Problem
from ..models.solution import Solution, Verification
from ..models.vocab import spellings
from .errors import SolveError, UnsupportedMethodError
from .graph.encoding import build_graph
from .network.flow import max_coverage_units
from .options import SolveOptions
from .policies import ORTOOLS_VERSION, Policy, PolicyOptions, choose_method, deprecation, get_policy, priced_method
from .postsolve.alternates import find_alternates
from .postsolve.decode import RunInfo, infeasible_solution, to_solution
from .postsolve.metrics import solution_metrics
from .progress import PROGRESS
from .rounds import (AgreedRound, Carry, PreviousRound, agree, carry, check_round, stability_scores, with_agreement,
                     with_round)
from .tuning import Tuning
from .verify import verify_solution


class Watch(Protocol):
    """Who follows a solve (the service's job): called from the solving thread."""

    def phase(self, phase: str, bound: Optional[float]) -> None:
        """A new phase; ``bound``: the tightest proven coverage bound so far (None: none yet)."""

    def incumbent(self, solution: Solution) -> None:
        """A verified solution found before the end, labelled feasible (the greedy start)."""


def solve(instance: Instance, sha256: str, options: SolveOptions = SolveOptions(), *,
          previous: Optional[PreviousRound] = None, agreed: Optional[AgreedRound] = None, tuning: Tuning = Tuning(),
          watch: Optional[Watch] = None) -> Solution:
    """Solve ``instance`` (whose file's SHA-256 the solution records) as ``options``
    say, carrying ``previous`` or re-matching after ``agreed`` where given; the
    solution carries the verifier's report. Raises InputError for a round that cannot
    be carried or agreed, SolveError (UnsupportedMethodError) for a request that
    cannot run (SolveOptions has already refused an unknown policy or method)."""
    carried = _carried(instance, options, previous, tuning, agreed)
    effective = carried.instance if carried is not None else instance
    prefer = carried.prefer if carried is not None else []
    if watch is not None:
        options = _watched_start(effective, sha256, options, tuning, watch)
    token = PROGRESS.set(None if watch is None else (lambda phase, bound: watch.phase(f"solving: {phase}", bound)))
    try:
        solution = solve_preferring(effective, sha256, options, prefer, tuning)
    finally:
        PROGRESS.reset(token)
    if carried is not None and previous is not None:
        solution = with_round(solution, carried, previous, options)
        if solution.status == "infeasible" and carried.info.carried:
            solution = solution.model_copy(update={"message": f"{solution.message}. {carried.info.carried} of the "
                                                   "pinned partnerships are the previous round's, carried as they "
                                                   "were: --keep-stable keeps them only where the round allows, "
                                                   "and --ended MENTEE lets one go"})
    if carried is not None and agreed is not None:
        solution = with_agreement(solution, carried, agreed)
    update: dict = {}
    warnings = [p.message for p in instance_warnings(instance)]
    if said := deprecation(options.method):
        warnings.append(said)
    if warnings:
        update["warnings"] = warnings
    limit, took = options.time_limit, solution.stats.solve_seconds
    if limit is not None and took > limit + 1.0 and solution.message is None:
        why = ("without donors the exact policies run min-cost flows (and searches made of them), which always "
               "finish: the limit does not stop them" if not effective.donors else
               "the limit is checked between steps, and one step ran past it")
        update["message"] = (f"the solve took {took:.1f} s, past the time limit of {limit:g} s: {why} "
                             "(docs/format.md, \"Time limits\")")
    return solution.model_copy(update=update) if update else solution


def check_request(instance: Instance, options: SolveOptions, previous: Optional[PreviousRound] = None,
                  tuning: Tuning = Tuning(), agreed: Optional[AgreedRound] = None) -> None:
    """What solve refuses before any work, refused without solving (the service
    checks a job before queueing it): InputError for the round, SolveError
    (UnsupportedMethodError) for the policy and method."""
    _carried(instance, options, previous, tuning, agreed)


def _carried(instance: Instance, options: SolveOptions, previous: Optional[PreviousRound],
             tuning: Tuning, agreed: Optional[AgreedRound] = None) -> Optional[Carry]:
    check_round(options, previous)
    _check_groups(instance, options)
    if agreed is not None and previous is not None:
        raise InputError([Problem("status", "an agreement status and a previous round together are not supported: "
                                            "re-match the round with its status, or carry the previous round")])
    if agreed is not None:
        carried: Optional[Carry] = agree(instance, agreed, options.change_penalty)
    else:
        carried = carry(instance, previous, options) if previous is not None else None
    plan(carried.instance if carried is not None else instance, options, tuning,
         keep_stable=bool(carried is not None and carried.prefer))
    return carried


def _check_groups(instance: Instance, options: SolveOptions) -> None:
    """regional-equity by region refuses regions spelt several ways: it would raise the
    lowest of groups that are one region (validate only warns of them)."""
    if options.policy != "regional-equity" or options.group_by != "region":
        return
    who = region_writers(instance)
    problems = [Problem("operators", f"{spelling_list(g, who)} differ only in case, spaces or hyphens, and "
                                     "regional-equity would raise the lowest share of each as a region of its own; "
                                     "if they are one region, write it one way") for g in spellings(who)]
    if problems:
        raise InputError(problems)


def solve_preferring(instance: Instance, sha256: str, options: SolveOptions, prefer: Sequence[tuple[str, str]],
                     tuning: Tuning = Tuning()) -> Solution:
    """Encode, solve, decode, add the alternates asked for, and attach the
    verifier's report. ``prefer``: (mentee, mentor) pairs to keep where possible
    (keep_stable): each one chosen earns ``options.change_penalty`` x the mentee's
    weight in the quality stage, on the score scale (rounds.stability_scores)."""
    t0 = time.perf_counter()
    chosen, method, candidates = plan(instance, options, tuning, keep_stable=bool(prefer))
    graph = build_graph(instance, candidates=candidates)
    build = time.perf_counter() - t0
    info = RunInfo(options.policy, sha256, build, 0.0, options.seed, options.time_limit, options.node_limit)
    if graph.infeasible:
        solution = infeasible_solution(graph, info, f"ortools {ORTOOLS_VERSION}")
    else:
        t1 = time.perf_counter()
        solve_graph = graph.with_scores(stability_scores(graph, prefer, options.change_penalty)) if prefer else graph
        assignment = chosen.solve(solve_graph, _policy_options(options, method), tuning)
        info = RunInfo(options.policy, sha256, build, time.perf_counter() - t1, options.seed, options.time_limit,
                       options.node_limit)
        solution = to_solution(graph, assignment, info)
        if prefer:  # the bound is of the penalised quality, not of the quality reported
            solution = _without_quality_bound(solution)
        if options.alternates > 0:
            solution = solution.model_copy(update={"alternates": find_alternates(graph, solution, options.alternates)})
        solution = solution.model_copy(update={"metrics": solution_metrics(instance, solution, graph)})
    t2 = time.perf_counter()
    violations = verify_solution(instance, solution)
    stats = solution.stats.model_copy(update={"verify_seconds": round(time.perf_counter() - t2, 4)})
    return solution.model_copy(update={"stats": stats,
                                       "verification": Verification(ok=not violations, violations=violations)})


def _policy_options(options: SolveOptions, method: Optional[str]) -> PolicyOptions:
    return PolicyOptions(time_limit=options.time_limit, seed=options.seed,
                         method="auto" if method is None else method, group_by=options.group_by,
                         node_limit=options.node_limit, workers=options.workers)


def _without_quality_bound(solution: Solution) -> Solution:
    return solution.model_copy(update={
        "bound": solution.bound.model_copy(update={"quality": None, "cost": None}),
        "gap": solution.gap.model_copy(update={"quality": None, "cost": None}),
        "stats": solution.stats.model_copy(update={"method": solution.stats.method + "+keep-stable"}),
        "message": (solution.message + "; " if solution.message else "") +
        "keep-stable: quality was optimised with a change penalty, so no quality or cost bound is given"})


class Plan(NamedTuple):
    policy: Policy
    method: Optional[str]  # the method the policy runs (None for policies with one way)
    candidates: bool  # whether the whole candidate graph is encoded


def plan(instance: Instance, options: SolveOptions, tuning: Tuning = Tuning(), keep_stable: bool = False) -> Plan:
    """Check a request before any work, as solve does first. Raises
    UnknownPolicyError or UnsupportedMethodError."""
    chosen = get_policy(options.policy)
    pairs = free_pairs(instance)
    method: Optional[str] = None
    if chosen.name == "optimal":  # a forced method that cannot apply fails before any work
        method = choose_method(options.method, bool(instance.donors), pairs, tuning.pricing_min_pairs)
    elif chosen.priced:
        method = priced_method(options.policy, options.method, bool(instance.donors), pairs, tuning.pricing_min_pairs)
    elif options.method != "auto" and not deprecation(options.method):
        raise UnsupportedMethodError(f"--method chooses how the optimal, min-cost, max-min and regional-equity "
                                     f"policies solve; policy {options.policy!r} has one way")
    if keep_stable and method == "flow-pricing":  # pricing encodes its own scores: use the whole graph
        if options.method == "flow-pricing":
            raise UnsupportedMethodError("--keep-stable needs the whole candidate graph; use --method flow")
        method = "flow"
    streamed = chosen.streams and pairs >= tuning.pricing_min_pairs and not keep_stable
    candidates = method != "flow-pricing" and not streamed
    if candidates and pairs > tuning.max_graph_pairs:
        raise UnsupportedMethodError(
            f"{'--keep-stable with ' if keep_stable else ''}policy {options.policy!r}"
            f"{' with --method ' + str(method) if method else ''} encodes every one of the {pairs:,} "
            f"mentee x mentor pairs, which does not fit in memory (over {tuning.max_graph_pairs:,}); at this size "
            "every policy runs without it on budget-free instances (method auto)")
    return Plan(chosen, method, candidates)


def free_pairs(instance: Instance) -> int:
    """Free (not pinned) mentees x mentors: what sets the size of a solve."""
    return (sum(op.mentee is not None for op in instance.operators) - len(instance.pinned)) * \
        sum(op.mentor is not None for op in instance.operators)


def coverage_bound(instance: Instance, tuning: Tuning = Tuning()) -> Optional[float]:
    """An upper bound on coverage (budgets ignored: one max-flow over the
    candidates, plus the pinned mentees), for progress reports before the
    solve ends; None from Tuning.pricing_min_pairs pairs on, where it would cost a solve."""
    if free_pairs(instance) >= tuning.pricing_min_pairs:
        return None
    graph = build_graph(instance, candidates=True)
    if graph.infeasible:
        return None
    pinned = float(graph.mentee_weight[graph.pinned.mentee].sum()) if len(graph.pinned.mentee) else 0.0
    return round(pinned + max_coverage_units(graph) * WEIGHT_RESOLUTION, 6)


def _watched_start(instance: Instance, sha256: str, options: SolveOptions, tuning: Tuning,
                   watch: Watch) -> SolveOptions:
    """Before a long solve: the budget-free coverage bound, then (for a policy
    that proves its answer) the greedy start, verified and handed to the watch,
    so that a cancelled or capped solve still has a solution. Returns the options
    with their time limit less the time this took (at least a second)."""
    t0 = time.monotonic()
    watch.phase("bounding", None)
    try:
        bound = coverage_bound(instance, tuning)
    except SolveError:
        bound = None
    if get_policy(options.policy).exact:
        watch.phase("incumbent", bound)
        greedy_options = SolveOptions(policy="greedy", seed=options.seed)
        try:
            start = solve_preferring(instance, sha256, greedy_options, (), tuning)
        except SolveError:
            start = None
        if start is not None and start.verification is not None and start.verification.ok \
                and start.objective is not None:
            watch.incumbent(start.model_copy(update={"status": "feasible", "message": (
                f"the greedy start, found before the {options.policy} policy's solve ended; not proven optimal")}))
    watch.phase("solving", bound)
    if options.time_limit is None:
        return options
    return options.model_copy(update={"time_limit": max(1.0, options.time_limit - (time.monotonic() - t0))})
