"""The one entry point shells call: instance in, verified solution out."""

from __future__ import annotations

import time
from typing import Optional

from ..models.instance import Instance
from ..models.solution import Solution, Verification
from .decode import RunInfo, infeasible_solution, to_solution
from .encoding import build_graph
from .policies import ORTOOLS_VERSION, SolveOptions, choose_method, get_policy
from .verify import verify_solution


def solve(instance: Instance, sha256: str, policy: str = "optimal",
          options: Optional[SolveOptions] = None) -> Solution:
    """Encode, solve with ``policy``, decode, and attach the verifier's report."""
    options = options or SolveOptions()
    chosen = get_policy(policy)
    t0 = time.perf_counter()
    if chosen.exact:
        choose_method(options.method, bool(instance.donors))  # a forced method that cannot apply fails first
    graph = build_graph(instance)
    build = time.perf_counter() - t0
    info = RunInfo(policy, sha256, build, 0.0, options.seed, options.workers, options.time_limit)
    if graph.infeasible:
        solution = infeasible_solution(graph, info, f"ortools {ORTOOLS_VERSION}")
    else:
        t1 = time.perf_counter()
        assignment = chosen.solve(graph, options)
        info = RunInfo(policy, sha256, build, time.perf_counter() - t1, options.seed, options.workers,
                       options.time_limit)
        solution = to_solution(graph, assignment, info)
    t2 = time.perf_counter()
    violations = verify_solution(instance, solution)
    stats = solution.stats.model_copy(update={"verify_seconds": round(time.perf_counter() - t2, 4)})
    return solution.model_copy(update={"stats": stats,
                                       "verification": Verification(ok=not violations, violations=violations)})
