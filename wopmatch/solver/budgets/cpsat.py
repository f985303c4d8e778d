"""A stage over some of its (pair, donor) columns by CP-SAT, limited by
deterministic time.

With several workers CP-SAT repeats itself only with interleaved search and a
deterministic time limit, so several workers always get both (one worker needs
only the limit): the same model, seed and
workers give the same answer on an idle or a busy machine (tests/test_colgen.py
runs two at once).
Measured on 200 x 60 with 5 donors (seeds 1 and 2): CP-SAT proves the coverage
stage in 11 s and 4 s where HiGHS's bound stays a weight step above the optimum
after 200 nodes; on quality cores of thousands of columns it ends further from
the optimum than HiGHS's restricted MIPs, so certify.py asks it for coverage
there. On small cores of any stage (a few hundred columns) one worker with its
full LP relaxation (linearization level 2) proves in a tenth of a second what
HiGHS's root takes a second for; one worker is deterministic without
interleaved search, which slowed those proofs twentyfold.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

import numpy as np

from ..graph.encoding import NO_LIMIT, CandidateGraph
from .mip import Keep, stage_objectives

if TYPE_CHECKING:
    from ortools.sat.python import cp_model


@dataclass(frozen=True)
class CpOutcome:
    pairs: Optional[np.ndarray]  # a better assignment, when CP-SAT found one
    donors: Optional[np.ndarray]
    value: Optional[int]  # its stage value
    bound: Optional[float]  # proven: no assignment is better (stage units); None when unknown
    seconds: float


def solve_cp(g: CandidateGraph, name: str, keep: list[Keep], allowed: np.ndarray, better_than: int, step: int,
             cap: Optional[int], deterministic_time: float, workers: int, seed: int,
             time_limit: Optional[float] = None, linearization: Optional[int] = None) -> CpOutcome:
    """The best assignment better than ``better_than`` (stage ``name``, in its maximised
    form: cost negated; counted in ``step``s and at most ``cap``, a proven bound that
    only prunes) over the columns ``allowed`` ((E, k) mask, which must hold every better
    assignment: a core), under every row and ``keep``. Asking for a better assignment
    rather than the best one lets CP-SAT prove the incumbent optimal by infeasibility:
    measured at 200 x 60 x 5 seed 1, 7 units of deterministic time against 30 without an
    answer when it only maximised from the incumbent as a hint. ``value`` is returned in
    the stage's own units, ``bound`` in the maximised form. ``time_limit``: seconds, when
    the solve has a time limit (else work alone stops it)."""
    from ortools.sat.python import cp_model  # here: importing it costs every process 0.16 s

    t0 = time.perf_counter()
    obj, maximise = stage_objectives(g)[name]
    sign = 1 if maximise else -1
    var_pair, var_donor = np.nonzero(allowed)
    model = cp_model.CpModel()
    x = [model.new_bool_var("") for _ in range(len(var_pair))]
    _rows(g, model, x, var_pair, var_donor)
    for coef, value, sense in keep:
        expr = cp_model.LinearExpr.weighted_sum(x, coef[var_pair].tolist())
        model.add(expr >= value) if sense > 0 else model.add(expr <= value)
    objective = cp_model.LinearExpr.weighted_sum(x, (sign * obj[var_pair] // step).tolist())
    model.add(objective >= better_than // step + 1)
    if cap is not None:
        model.add(objective <= cap // step)
    model.maximize(objective)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers
    solver.parameters.interleave_search = workers > 1  # one worker repeats itself without it
    solver.parameters.max_deterministic_time = deterministic_time
    if time_limit is not None:  # the solve's outer safety stop (the answer then says the clock cut the work)
        solver.parameters.max_time_in_seconds = max(time_limit, 0.01)
    solver.parameters.random_seed = seed
    if linearization is not None:
        solver.parameters.linearization_level = linearization
    status = solver.solve(model)
    seconds = time.perf_counter() - t0
    if status == cp_model.INFEASIBLE:
        return CpOutcome(None, None, None, float(better_than), seconds)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return CpOutcome(None, None, None, None, seconds)
    on = np.array([solver.boolean_value(v) for v in x], bool)
    pairs, donors = var_pair[on].astype(np.int64), var_donor[on].astype(np.int64)
    value = int(obj[pairs].sum())
    bound = float(sign * value) if status == cp_model.OPTIMAL else \
        max(float(sign * value), solver.best_objective_bound * step)
    return CpOutcome(pairs, donors, value, bound, seconds)


def _rows(g: CandidateGraph, model: cp_model.CpModel, x: list, var_pair: np.ndarray, var_donor: np.ndarray) -> None:
    """Each mentee at most once, each mentor within its capacity, each donor
    within its budget and count."""
    from ortools.sat.python import cp_model

    for rows, limit in ((g.pair_mentee[var_pair], None), (g.pair_mentor[var_pair], g.capacity)):
        order = np.argsort(rows, kind="stable")
        bounds = np.flatnonzero(np.diff(rows[order])) + 1
        for group in np.split(order, bounds):
            if not len(group):
                continue
            if limit is None:
                model.add_at_most_one(x[v] for v in group.tolist())
            else:
                model.add(sum(x[v] for v in group.tolist()) <= int(limit[rows[group[0]]]))
    cost = g.cost[var_pair]
    for d in range(g.n_donors):
        group = np.flatnonzero(var_donor == d)
        model.add(cp_model.LinearExpr.weighted_sum([x[v] for v in group], cost[group].tolist()) <= int(g.budget[d]))
        if g.max_count[d] < NO_LIMIT:
            model.add(sum(x[v] for v in group.tolist()) <= int(g.max_count[d]))
