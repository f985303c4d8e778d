"""Method colgen (budgets/colgen.py, fill.py, certify.py): every stage's LP bound
is a proof, its core keeps an optimum, and the answers repeat."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from unittest import mock

import numpy as np
import pytest
from helpers import brute_force, parse, solve_checked, tiny_instances
from hypothesis import given, settings

from wopmatch.generator import generate
from wopmatch.solver.budgets.colgen import ColgenSettings, relax
from wopmatch.solver.budgets.fill import lp_fill, smallest_penalties
from wopmatch.solver.budgets.highs import HighsRun, solve_lp
from wopmatch.solver.budgets.mip import _constraints, _model, solve_stage, solve_staged_mip, stage_objectives
from wopmatch.solver.graph.encoding import NO_LIMIT, build_graph
from wopmatch.solver.heuristics.greedy import greedy_assignment
from wopmatch.solver.tuning import BudgetParams, Tuning


def _optima(g):
    """Each stage's exact value (the staged MIP, run to the end) and the assignment."""
    p, d = greedy_assignment(g)
    res = solve_staged_mip(g, p, d, None, HighsRun())
    assert [s.status for s in res.stages] == ["optimal"] * 3
    return {s.name: s.value for s in res.stages}, res


def _stages(g, opt):
    objs = stage_objectives(g)
    w, q, c = (objs[n][0] for n in ("coverage", "quality", "cost"))
    return [("coverage", w, []), ("quality", q, [(w, opt["coverage"], 1)]),
            ("cost", -c, [(w, opt["coverage"], 1), (q, opt["quality"], 1)])]


def _check_every_stage(g):
    opt, res = _optima(g)
    for name, f, keep in _stages(g, opt):
        best = opt[name] if name != "cost" else -opt["cost"]
        start = (res.pair, res.donor)  # meets every kept row
        for rounds, work in ((1, None), (40, None), (40, 5)):  # work=5: the simplex stops mid-solve
            relaxed = relax(g, f, keep, start, ColgenSettings(rounds=rounds, per_mentee=1, work=work))
            assert relaxed.bound >= best - 1e-6, (name, rounds, work)  # a bound below an optimum fails
            assert relaxed.lp_value <= relaxed.bound + 1e-6 * max(1.0, abs(relaxed.bound))
            core = relaxed.core(g, best)
            assert core[res.pair, res.donor].all(), name  # the lexicographic optimum reaches every stage's best
            out = solve_stage(g, name, keep, start[0], start[1], None, HighsRun(), allowed=core)
            assert out is not None and out.status == "optimal"
            assert (out.value if name != "cost" else -out.value) == best, name


@given(tiny_instances(donors=True))
def test_every_stage_bound_holds_even_when_stopped_early_and_its_core_keeps_the_optimum(raw):
    inst = parse(raw)
    if brute_force(inst) is None:
        return
    g = build_graph(inst)
    if g.n_candidates:
        _check_every_stage(g)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_stage_bound_holds_where_budgets_bind(seed):
    """Rounds whose LP is fractional (tiny ones rarely are), each stage checked against the staged MIP."""
    _check_every_stage(build_graph(parse(generate(40, 12, donors=3, seed=seed, tightness=0.3))))


@pytest.mark.parametrize("seed", [1, 2])
def test_the_compiled_pricing_gives_numpys_answer(seed):
    from wopmatch.solver.budgets.colgen import _price, _state

    g = build_graph(parse(generate(150, 40, donors=4, seed=seed, tightness=0.4)))
    rng = np.random.default_rng(seed)
    n, m, k = g.n_mentees, g.n_mentors, g.n_donors
    counted = int((g.max_count < NO_LIMIT).sum())
    f = stage_objectives(g)["coverage"][0].astype(float)
    for scale in (0.0, 1e5, 1e7):  # duals from none to many pricing out
        y = np.r_[rng.random(n) * scale, rng.random(m) * scale, rng.random(k) * scale / 1e3,
                  rng.random(counted) * scale]
        y[rng.random(len(y)) < 0.3] = 0.0
        state = _state(g, f, [], y)
        for most in (1, 3):
            bound, best, pairs, donors = _price(g, state, ColgenSettings(per_mentee=most), compiled=True)
            ref_bound, ref_best, ref_pairs, ref_donors = _price(g, state, ColgenSettings(per_mentee=most),
                                                                compiled=False)
            assert np.array_equal(best, ref_best) and bound == ref_bound
            assert np.array_equal(pairs, ref_pairs) and np.array_equal(donors, ref_donors)
            assert scale > 0 or len(pairs) > 0
        priced = replace(state, best=best)
        lo, hi = 7, g.n_candidates - 3
        with mock.patch("wopmatch.solver.budgets.colgen.COMPILED_MIN_COLUMNS", 0):
            compiled = priced.penalty(g, lo, hi)
        assert np.array_equal(compiled, priced.penalty(g, lo, hi))
        assert np.isinf(compiled[~g.fundable[lo:hi]]).all() and (compiled[g.fundable[lo:hi]] >= -1e-6).all()


def test_the_converged_bound_is_the_lp_optimum_over_every_column():
    g = build_graph(parse(generate(200, 60, donors=5, seed=1)))
    w = stage_objectives(g)["coverage"][0].astype(float)
    relaxed = relax(g, w, [], greedy_assignment(g))
    assert relaxed.converged and relaxed.rounds > 1
    var_pair, var_donor = np.nonzero(g.fundable)
    rows, cols, coefs, rhs = _constraints(g, var_pair, var_donor)
    full = solve_lp(_model(len(var_pair), rows, cols, coefs, rhs, [], w[var_pair], True, integer=False))
    lp = full.termination.objective_bounds.primal_bound
    assert abs(relaxed.bound - lp) <= 1e-6 * lp and abs(relaxed.lp_value - lp) <= 1e-6 * lp
    assert len(relaxed.col_pair) < len(var_pair) / 4  # the master holds a fraction of the columns


def test_lp_fill_is_feasible_and_beats_greedy():
    g = build_graph(parse(generate(200, 60, donors=5, seed=1)))
    w = stage_objectives(g)["coverage"][0]
    p, d = greedy_assignment(g)
    relaxed = relax(g, w.astype(float), [], (p, d))
    fp, fd = lp_fill(g, relaxed, *smallest_penalties(g, relaxed, 4 * g.n_mentees))
    assert len(np.unique(g.pair_mentee[fp])) == len(fp)
    assert np.all(np.bincount(g.pair_mentor[fp], minlength=g.n_mentors) <= g.capacity)
    assert np.all(g.fundable[fp, fd])
    assert np.all(np.bincount(fd, weights=g.cost[fp], minlength=g.n_donors) <= g.budget)
    assert w[fp].sum() > w[p].sum()


@settings(max_examples=25)
@given(tiny_instances(donors=True))
def test_colgen_reaches_the_brute_force_optimum_or_bounds_it(raw):
    inst = parse(raw)
    expected = brute_force(inst)
    s = solve_checked(inst, method="colgen")
    if expected is None:
        assert s.status == "infeasible"
        return
    assert s.objective.coverage <= expected[0] + 1e-9 <= s.bound.coverage + 2e-9
    if s.status == "optimal":
        assert (s.objective.coverage, s.objective.cost) == (expected[0], expected[2])
        assert abs(s.objective.quality - expected[1]) < 1e-6


def test_a_round_is_proven_and_the_node_limits_are_work_not_time(caplog):
    inst = parse(generate(120, 35, donors=3, seed=8, tightness=0.3, needs="legacy"))
    # Every core is small (tuning.small_core_columns): coverage goes from the LP-fill straight to
    # CP-SAT on one worker over its core, without the restricted MIPs; so does cost, whose gap is
    # wide; quality's gap (0.68%) is tight, so HiGHS's core MIP proves it at its root.
    with caplog.at_level("INFO", logger="wopmatch.solver"):
        caplog.clear()
        s = solve_checked(inst)
    assert s.stats.method.startswith("colgen-lp") and s.status == "optimal"
    lines = [r.getMessage() for r in caplog.records]
    cover = [line for line in lines if line.startswith("coverage ")]
    assert "LP-fill" in cover[-2] and "CP-SAT on 574 columns" in cover[-1], cover
    assert any(line.startswith("quality ") and "core MIP" in line for line in lines)
    assert "CP-SAT" in [line for line in lines if line.startswith("cost ")][-1]
    assert "core-cp-sat" in s.stats.method and "+cp-sat" not in s.stats.method and s.stats.workers == 1
    # Without that rule its coverage stage ends one weight step short of the bound after the
    # restricted MIPs (37 of 37.5), with a core of 299 columns: a core that large or larger goes
    # to CP-SAT without HiGHS's core MIP before it.
    big = replace(BudgetParams(), small_core_columns=0)
    cp_first = replace(Tuning(), budgets=replace(big, cp_sat_first_min_columns=299))
    with caplog.at_level("INFO", logger="wopmatch.solver"):
        caplog.clear()
        first = solve_checked(inst, tuning=cp_first)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("coverage ")]
    assert "(<= 37.5," in lines[-2] and "CP-SAT on 299 columns" in lines[-1]
    assert not any("core MIP" in line for line in lines) and first.objective == s.objective
    # HiGHS alone proves it (its core MIP), and so does CP-SAT without HiGHS's coverage core MIP.
    highs = solve_checked(inst, tuning=replace(Tuning(), budgets=big))
    assert "core-mip" in highs.stats.method and "cp-sat" not in highs.stats.method
    assert highs.objective == s.objective and highs.status == "optimal"
    no_core = replace(Tuning(), budgets=replace(big, core_max_variables=0))
    cp = solve_checked(inst, tuning=no_core)
    assert "+cp-sat" in cp.stats.method and cp.status == "optimal" and cp.objective == s.objective
    assert cp.stats.workers == 2 and highs.stats.workers == 1  # CP-SAT's workers, stated when it ran
    from wopmatch.solver.budgets import certify
    asked = []
    real_cp = certify.solve_cp

    def cp_spy(*args):
        asked.append(args[8])  # (g, name, keep, allowed, better_than, step, cap, work, workers, ...)
        return real_cp(*args)

    from unittest import mock
    with mock.patch("wopmatch.solver.budgets.certify.solve_cp", cp_spy):
        one = solve_checked(inst, tuning=no_core, workers=1)
    assert asked == [1] and one.stats.workers == 1 and one.objective == s.objective
    exact = solve_checked(inst, method="lagrangian-mip")
    assert s.objective == exact.objective
    # A user's node limit replaces the method's own, in every MIP it runs.
    seen = []
    real = solve_stage

    def spy(*args, **kw):
        seen.append(args[6].node_limit)
        return real(*args, **kw)

    with mock.patch("wopmatch.solver.budgets.certify.solve_stage", spy):  # HiGHS only: no CP-SAT
        solve_checked(inst, node_limit=7,
                      tuning=replace(Tuning(), budgets=replace(BudgetParams(), cp_sat_max_columns=0)))
    assert seen and set(seen) == {7}


_TWICE = """
import json, sys
from wopmatch.generator import generate
from wopmatch.models.io import parse_instance
from dataclasses import replace
from wopmatch.solver import SolveOptions, Tuning, solve
from wopmatch.solver.tuning import BudgetParams
tuning = replace(Tuning(), budgets=replace(BudgetParams(), core_max_variables=0))  # CP-SAT proves coverage
raw = generate(120, 35, donors=3, seed=8, tightness=0.3, needs="legacy")
s = solve(parse_instance(raw), "0" * 64, SolveOptions(), tuning=tuning)
print(json.dumps([s.stats.method, s.status, [(p.mentee, p.mentor, p.donor) for p in s.partnerships],
                  [(st.name, st.value, st.bound) for st in s.stats.stages]]))
"""


def test_two_solves_started_together_give_the_same_answer():
    procs = [subprocess.Popen([sys.executable, "-c", _TWICE], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [json.loads(p.communicate(timeout=600)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outs[0] == outs[1]
    assert outs[0][0].startswith("colgen-lp") and "cp-sat" in outs[0][0] and len(outs[0][2]) > 20


def test_a_time_limit_cuts_the_work_and_says_so():
    inst = parse(generate(200, 60, donors=5, seed=1))  # its coverage proof alone takes seconds
    s = solve_checked(inst, method="colgen", time_limit=0.3)
    assert s.status == "feasible" and "time limit" in s.message
    assert s.bound.coverage >= s.objective.coverage and s.bound.quality is None


def test_the_later_stages_and_the_restricted_mips_keep_to_their_work_caps():
    from wopmatch.solver.budgets import certify

    inst = parse(generate(120, 35, donors=3, seed=8, tightness=0.3, needs="legacy"))
    works, rungs = [], []
    real_relax, real_stage = certify.relax, certify.solve_stage

    def relax_spy(*args, **kw):
        works.append(args[4].work)
        return real_relax(*args, **kw)

    def stage_spy(*args, **kw):
        if kw.get("bound_cap") is None:  # a restricted rung (the core MIP passes its cap)
            rungs.append(args[1])
        return real_stage(*args, **kw)

    params = replace(BudgetParams(), later_lp_work=123, core_max_variables=0, cp_sat_max_columns=0,
                     small_core_columns=0)
    with mock.patch.object(certify, "relax", relax_spy), mock.patch.object(certify, "solve_stage", stage_spy):
        solve_checked(inst, tuning=replace(Tuning(), budgets=params))
        assert works == [None, 123, 123] and "coverage" in rungs
        works.clear(), rungs.clear()
        s = solve_checked(inst, tuning=replace(Tuning(), budgets=replace(
            params, restricted_max_columns=0, later_restricted_max_columns=0)))
    assert rungs == [] and "restricted-mip" not in s.stats.method


@pytest.mark.parametrize("policy", ["max-min", "regional-equity"])
def test_a_time_limit_stops_the_threshold_search_and_says_so(policy):
    inst = parse(generate(200, 60, donors=5, seed=1))  # its probes alone take seconds
    s = solve_checked(inst, policy=policy, time_limit=0.3)
    assert s.status == "feasible" and "time limit" in s.message, s.message
    search = next(st for st in s.stats.stages if st.name in ("threshold", "lowest-rate"))
    assert search.status == "feasible"


def test_a_later_stage_rung_highs_cannot_improve_goes_to_cp_sat():
    """When HiGHS's restricted MIP of quality or cost is cut by its node limit without
    improving (here: made to), CP-SAT works on the same small rung and the ladder goes on."""
    from wopmatch.solver.budgets import certify
    from wopmatch.solver.budgets.mip import StageOutcome

    inst = parse(generate(120, 35, donors=3, seed=8, tightness=0.3, needs="legacy"))
    g = build_graph(inst)
    params = replace(BudgetParams(), small_core_columns=3_000, early_core_max_cells=0,  # the ladder runs
                     rung_cp_sat_gap=0.0)  # whatever the gap (the default asks for more than 10%)
    exact = certify.solve_certified(g, HighsRun(params=params))
    rungs = []

    def stuck(g_, name, keep, hint_pairs, hint_donors, time_limit, run, step=1, allowed=None, bound_cap=None,
              incumbent=None):
        if bound_cap is None and name != "coverage":  # a later rung: HiGHS "cut" with the hint only
            rungs.append(name)
            value = int(stage_objectives(g_)[name][0][hint_pairs].sum())
            return StageOutcome(hint_pairs, hint_donors, "feasible", value, None, 0.0)
        return solve_stage(g_, name, keep, hint_pairs, hint_donors, time_limit, run, step, allowed, bound_cap,
                           incumbent)

    with mock.patch.object(certify, "solve_stage", stuck):
        helped = certify.solve_certified(g, HighsRun(params=params))
    assert rungs and "restricted-cp-sat" in helped.method
    assert [s.value for s in helped.stages] == [s.value for s in exact.stages]  # the same optimum, proven
    assert helped.proven and exact.proven
