"""Direct models of the lexicographic problem, as a user of each peer would write them.

One binary per (candidate pair, donor that can fund it) (one per pair without
donors); each mentee at most once, each mentor within its capacity, each donor
within its budget and partnership count. The three stages run in turn
(coverage, quality, cost), each keeping the previous optimum as a row, and each
given what is left of the time limit. No decomposition, no hint, no tuning:
these are the peers wopmatch is measured against (benchmarks/peers.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Optional

import numpy as np

from wopmatch.solver.graph.encoding import NO_LIMIT, CandidateGraph


@dataclass
class DirectResult:
    pairs: np.ndarray  # candidate indices chosen (empty when nothing usable was found)
    stages_proven: int
    coverage_units: Optional[int]
    coverage_bound_units: Optional[float]
    build_seconds: float


def variables(g: CandidateGraph) -> tuple[np.ndarray, np.ndarray]:
    if g.has_donors:
        var_pair, var_donor = np.nonzero(g.fundable)
    else:
        var_pair = np.arange(g.n_candidates)
        var_donor = np.full(g.n_candidates, -1)
    return var_pair.astype(np.int64), var_donor.astype(np.int64)


def _objectives(g: CandidateGraph, var_pair: np.ndarray):
    return ((g.mentee_weight_units[g.pair_mentee[var_pair]].tolist(), True),
            (g.pair_quality_units()[var_pair].tolist(), True),
            (g.cost[var_pair].tolist(), False))


def _groups(g: CandidateGraph, var_pair, var_donor):
    by_mentee: dict[int, list[int]] = {}
    by_mentor: dict[int, list[int]] = {}
    by_donor: dict[int, list[int]] = {}
    for v, (e, d) in enumerate(zip(var_pair.tolist(), var_donor.tolist(), strict=True)):
        by_mentee.setdefault(int(g.pair_mentee[e]), []).append(v)
        by_mentor.setdefault(int(g.pair_mentor[e]), []).append(v)
        if d >= 0:
            by_donor.setdefault(d, []).append(v)
    return by_mentee, by_mentor, by_donor


def cp_sat(g: CandidateGraph, limit: float, workers: int = 2) -> DirectResult:
    from ortools.sat.python import cp_model

    t0 = time.perf_counter()
    var_pair, var_donor = variables(g)
    m = cp_model.CpModel()
    x = [m.new_bool_var("") for _ in range(len(var_pair))]
    by_mentee, by_mentor, by_donor = _groups(g, var_pair, var_donor)
    for vs in by_mentee.values():
        m.add_at_most_one(x[v] for v in vs)
    for j, vs in by_mentor.items():
        m.add(sum(x[v] for v in vs) <= int(g.capacity[j]))
    cost = g.cost[var_pair].tolist()
    for d, vs in by_donor.items():
        m.add(cp_model.LinearExpr.weighted_sum([x[v] for v in vs], [cost[v] for v in vs]) <= int(g.budget[d]))
        if g.max_count[d] < NO_LIMIT:
            m.add(sum(x[v] for v in vs) <= int(g.max_count[d]))
    build = time.perf_counter() - t0
    deadline = t0 + limit
    result = DirectResult(np.zeros(0, np.int64), 0, None, None, build)
    for k, (coefs, maximise) in enumerate(_objectives(g, var_pair)):
        expr = cp_model.LinearExpr.weighted_sum(x, coefs)
        (m.maximize if maximise else m.minimize)(expr)
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = workers
        solver.parameters.max_time_in_seconds = max(0.01, deadline - time.perf_counter())
        status = solver.solve(m)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            break
        value = int(solver.objective_value)
        result.pairs = var_pair[[v for v in range(len(x)) if solver.value(x[v])]]
        if k == 0:
            result.coverage_units, result.coverage_bound_units = value, float(solver.best_objective_bound)
        # a gap limit also reports OPTIMAL: check the bound itself
        if status != cp_model.OPTIMAL or abs(solver.best_objective_bound - value) >= 1:
            break
        result.stages_proven += 1
        m.add(expr >= value) if maximise else m.add(expr <= value)
    return result


def highs(g: CandidateGraph, limit: float) -> DirectResult:
    from ortools.math_opt.python import mathopt

    t0 = time.perf_counter()
    var_pair, var_donor = variables(g)
    model = mathopt.Model(name="wopmatch-direct")
    x = [model.add_binary_variable() for _ in range(len(var_pair))]
    by_mentee, by_mentor, by_donor = _groups(g, var_pair, var_donor)
    for vs in by_mentee.values():
        model.add_linear_constraint(mathopt.fast_sum(x[v] for v in vs) <= 1)
    for j, vs in by_mentor.items():
        model.add_linear_constraint(mathopt.fast_sum(x[v] for v in vs) <= int(g.capacity[j]))
    cost = g.cost[var_pair].tolist()
    for d, vs in by_donor.items():
        model.add_linear_constraint(mathopt.fast_sum(cost[v] * x[v] for v in vs) <= int(g.budget[d]))
        if g.max_count[d] < NO_LIMIT:
            model.add_linear_constraint(mathopt.fast_sum(x[v] for v in vs) <= int(g.max_count[d]))
    build = time.perf_counter() - t0
    deadline = t0 + limit
    result = DirectResult(np.zeros(0, np.int64), 0, None, None, build)
    for k, (coefs, maximise) in enumerate(_objectives(g, var_pair)):
        expr = mathopt.fast_sum(c * xv for c, xv in zip(coefs, x, strict=True) if c)
        model.set_objective(expr, is_maximize=maximise)
        params = mathopt.SolveParameters(time_limit=timedelta(seconds=max(0.01, deadline - time.perf_counter())),
                                         relative_gap_tolerance=0.0, absolute_gap_tolerance=0.5)
        res = mathopt.solve(model, mathopt.SolverType.HIGHS, params=params)
        if not res.has_primal_feasible_solution():
            break
        values = res.variable_values()
        value = round(res.objective_value())
        result.pairs = var_pair[[v for v in range(len(x)) if values[x[v]] > 0.5]]
        bound = res.termination.objective_bounds.dual_bound
        if k == 0:
            result.coverage_units, result.coverage_bound_units = value, float(bound)
        if res.termination.reason != mathopt.TerminationReason.OPTIMAL:
            break
        result.stages_proven += 1
        model.add_linear_constraint(expr >= value if maximise else expr <= value)
    return result
