"""The Lagrangian bound is a proof and its assignment is feasible."""

from __future__ import annotations

import numpy as np
from helpers import brute_force, parse, tiny_instances
from hypothesis import given

from wopmatch.generator import generate
from wopmatch.models.instance import WEIGHT_RESOLUTION
from wopmatch.solver.budgets.highs import HighsRun
from wopmatch.solver.budgets.lagrange import RelaxSettings, cheapest_working_set, coverage_lagrangian, relax_stage
from wopmatch.solver.budgets.mip import solve_stage, solve_staged_mip, stage_objectives
from wopmatch.solver.graph.encoding import build_graph
from wopmatch.solver.heuristics.greedy import greedy_assignment
from wopmatch.solver.policies.base import Assignment
from wopmatch.solver.postsolve.decode import RunInfo, to_solution
from wopmatch.solver.verify import verify_solution


def _check(inst, iterations=40):
    g = build_graph(inst)
    p, d = greedy_assignment(g)
    lag = coverage_lagrangian(g, p, d, iterations=iterations)
    sol = to_solution(g, Assignment(lag.pairs, lag.donors, "feasible", "lagrangian", "test"),
                      RunInfo("optimal", "0" * 64, 0, 0, seed=0, time_limit=None))
    assert verify_solution(inst, sol) == []
    pinned_units = int(g.mentee_weight_units[g.pinned.mentee].sum())
    assert lag.value <= lag.bound + 1e-6
    return g, lag, pinned_units


@given(tiny_instances(donors=True))
def test_bound_is_never_below_the_exact_optimum(raw):
    inst = parse(raw)
    best = brute_force(inst)
    if best is None:
        return  # infeasible pins: nothing to bound
    g, lag, pinned_units = _check(inst)
    optimum_units = round(best[0] / WEIGHT_RESOLUTION)
    assert lag.bound + pinned_units >= optimum_units - 1e-6
    assert lag.value + pinned_units <= optimum_units


def test_closes_most_of_the_gap_on_a_generated_round():
    inst = parse(generate(150, 45, donors=3, seed=4, tightness=0.3))
    g, lag, _ = _check(inst, iterations=80)
    p, _ = greedy_assignment(g)
    greedy_units = int(g.mentee_weight_units[g.pair_mentee[p]].sum())
    assert lag.value > greedy_units  # measured: 60 -> 65 mentees
    assert (lag.bound - lag.value) / lag.bound < 0.01  # measured: 0.008%
    assert np.isfinite(lag.bound)


def _stage_optima(g):
    """Exact stage values of the free part, by the full staged MIP."""
    p, d = greedy_assignment(g)
    res = solve_staged_mip(g, p, d, None, HighsRun())
    assert [s.status for s in res.stages] == ["optimal"] * 3
    return {s.name: s.value for s in res.stages}, res


@given(tiny_instances(donors=True))
def test_every_stage_bound_holds_and_its_core_keeps_the_optimum(raw):
    inst = parse(raw)
    if brute_force(inst) is None:
        return
    g = build_graph(inst)
    opt, _ = _stage_optima(g)
    objs = stage_objectives(g)
    W, Q, C = (objs[n][0] for n in ("coverage", "quality", "cost"))
    p, d = greedy_assignment(g)
    stages = [("coverage", W, []), ("quality", Q, [(W, opt["coverage"])]),
              ("cost", -C, [(W, opt["coverage"]), (Q, opt["quality"])])]
    keep: list = []
    # A working set of one cheapest pair per mentee and per mentor: the rest is priced.
    small = cheapest_working_set(g, per_mentee=1, per_mentor=1)
    for name, f, kept in stages:
        best = opt[name] if name != "cost" else -opt["cost"]
        hint = _feasible_hint(g, name, keep, p, d)
        for working in (None, small):
            relax = relax_stage(g, f, kept, float(f[p].sum()), RelaxSettings(iterations=30, price_every=3),
                                    working=working)
            assert relax.bound >= best - 1e-6, name  # never below the exact optimum
            # The core of any target at or below the optimum still holds an optimal assignment.
            core = relax.core(g, best)
            out = solve_stage(g, name, keep, hint[0], hint[1], None, HighsRun(), allowed=core)
            assert out is not None and out.status == "optimal"
            assert (out.value if name != "cost" else -out.value) == best, name
        keep.append((objs[name][0], opt[name], 1 if name != "cost" else -1))


def _feasible_hint(g, name, keep, p, d):
    """The greedy assignment for stage 1; afterwards the optimum of the stages
    before (the MIP needs a hint that meets the kept rows)."""
    if not keep:
        return p, d
    res = solve_staged_mip(g, p, d, None, HighsRun(), stage_names=("coverage", "quality")[: len(keep)])
    return res.pair, res.donor
