"""The one entry point shells call: instance in, verified solution out."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Optional

from ..models.instance import Instance
from ..models.solution import Solution, Verification
from .alternates import find_alternates
from .decode import RunInfo, infeasible_solution, to_solution
from .encoding import build_graph
from .policies import ORTOOLS_VERSION, SolveOptions, choose_method, get_policy
from .verify import verify_solution


def solve(instance: Instance, sha256: str, policy: str = "optimal",
          options: Optional[SolveOptions] = None, alternates: int = 0) -> Solution:
    """Encode, solve with ``policy``, decode, add each mentee's ``alternates`` best
    runner-up mentors if asked, and attach the verifier's report."""
    options = options or SolveOptions()
    chosen = get_policy(policy)
    t0 = time.perf_counter()
    method = None
    if chosen.exact:  # a forced method that cannot apply fails before any work
        n_mentees = sum(op.mentee is not None for op in instance.operators) - len(instance.pinned)
        n_mentors = sum(op.mentor is not None for op in instance.operators)
        method = choose_method(options.method, bool(instance.donors), n_mentees * n_mentors)
    graph = build_graph(instance, candidates=method != "flow-pricing")
    build = time.perf_counter() - t0
    info = RunInfo(policy, sha256, build, 0.0, options.seed, options.workers, options.time_limit)
    if graph.infeasible:
        solution = infeasible_solution(graph, info, f"ortools {ORTOOLS_VERSION}")
    else:
        t1 = time.perf_counter()
        assignment = chosen.solve(graph, options if method is None else replace(options, method=method))
        info = RunInfo(policy, sha256, build, time.perf_counter() - t1, options.seed, options.workers,
                       options.time_limit)
        solution = to_solution(graph, assignment, info)
        if alternates > 0:
            solution = solution.model_copy(update={"alternates": find_alternates(graph, solution, alternates)})
    t2 = time.perf_counter()
    violations = verify_solution(instance, solution)
    stats = solution.stats.model_copy(update={"verify_seconds": round(time.perf_counter() - t2, 4)})
    return solution.model_copy(update={"stats": stats,
                                       "verification": Verification(ok=not violations, violations=violations)})
