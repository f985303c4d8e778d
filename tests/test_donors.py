"""The donor engine (solver/donors/): every bound is a proof, the cuts and cores cut
off no better assignment, the moves keep every row, decide() is a table, and the
answers repeat."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace
from unittest import mock

import numpy as np
import pytest
from helpers import brute_force, feasible_matchings, parse, solve_checked, tiny_instances
from hypothesis import given, settings
from oracle import staged_optimum

from wopmatch.generator import generate
from wopmatch.solver.donors.bound import ColgenSettings, relax
from wopmatch.solver.donors.cuts import donor_counts
from wopmatch.solver.donors.engine import Best, View, coverage_probe, decide, settled, with_cuts, work_stage
from wopmatch.solver.donors.rows import StageModel, stage_objective
from wopmatch.solver.donors.solvers import MipError, Run, objective_scale, solve_lp, solve_mip
from wopmatch.solver.graph.encoding import NO_LIMIT, build_graph
from wopmatch.solver.heuristics.greedy import greedy_assignment
from wopmatch.solver.tuning import DonorParams


def _stages(g, opt):
    w, q, c = (stage_objective(g, n)[0] for n in ("coverage", "quality", "cost"))
    return [("coverage", w, []), ("quality", q, [(w, opt["coverage"], 1)]),
            ("cost", -c, [(w, opt["coverage"], 1), (q, opt["quality"], 1)])]


def _check_every_stage(g):
    """Each stage's LP bound (also stopped early) is at least its optimum, and its core
    holds the lexicographic optimum's columns."""
    opt, (pairs, donors) = staged_optimum(g)
    for name, f, keep in _stages(g, opt):
        best = opt[name] if name != "cost" else -opt["cost"]
        for rounds, work in ((1, None), (40, None), (40, 5)):  # work=5: the simplex stops mid-solve
            relaxed = relax(g, f.astype(float), keep, (pairs, donors), ColgenSettings(rounds=rounds, per_mentee=1,
                                                                                      work=work))
            assert relaxed.bound >= best - 1e-6, (name, rounds, work)  # a bound below an optimum fails
            assert relaxed.lp_value <= relaxed.bound + 1e-6 * max(1.0, abs(relaxed.bound))
            assert relaxed.core(g, best)[pairs, donors].all(), name


@given(tiny_instances(donors=True))
def test_every_stage_bound_holds_even_when_stopped_early_and_its_core_keeps_the_optimum(raw):
    inst = parse(raw)
    if brute_force(inst) is None:
        return
    g = with_cuts(build_graph(inst), DonorParams())
    if g.n_candidates:
        _check_every_stage(g)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_stage_bound_holds_where_budgets_bind(seed):
    """Rounds whose LP is fractional (tiny ones rarely are), each stage against the staged MIP."""
    _check_every_stage(with_cuts(build_graph(parse(generate(40, 12, donors=3, seed=seed, tightness=0.3))),
                                 DonorParams()))


@given(tiny_instances(donors=True))
def test_the_count_cuts_cut_off_no_assignment(raw):
    inst = parse(raw)
    g = build_graph(inst)
    counts = donor_counts(g, max_pairs=10**9)
    assert np.all(counts <= g.max_count)
    index = {d: k for k, d in enumerate(g.donor_ids)}
    for matching in feasible_matchings(inst):
        funded = np.bincount([index[d] for mentee, _, d, *_ in matching if d is not None and
                              mentee not in {p.mentee for p in inst.pinned}], minlength=g.n_donors)
        assert np.all(funded <= counts), (funded, counts)


def test_the_count_cuts_close_the_coverage_lp_gap_where_budgets_bind():
    """200 x 60 x 5 s1: the coverage LP falls from 129.36 to the integer optimum, 128."""
    g = build_graph(parse(generate(200, 60, donors=5, seed=1, needs="legacy")))
    w = stage_objective(g, "coverage")[0].astype(float)
    plain = relax(g, w, [], greedy_assignment(g)).bound
    cut = with_cuts(g, DonorParams())
    tight = relax(cut, w, [], greedy_assignment(cut)).bound
    assert np.any(cut.max_count < g.max_count)
    assert 128e6 <= tight < 128.5e6 < 129e6 < plain


@pytest.mark.parametrize("seed", [1, 2])
def test_the_compiled_pricing_gives_numpys_answer(seed):
    from wopmatch.solver.donors.bound import _price, _state

    g = build_graph(parse(generate(150, 40, donors=4, seed=seed, tightness=0.4)))
    rng = np.random.default_rng(seed)
    n, m, k = g.n_mentees, g.n_mentors, g.n_donors
    counted = int((g.max_count < NO_LIMIT).sum())
    f = stage_objective(g, "coverage")[0].astype(float)
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
        with mock.patch("wopmatch.solver.donors.bound.COMPILED_MIN_COLUMNS", 0):
            compiled = priced.penalty(g, lo, hi)
        assert np.array_equal(compiled, priced.penalty(g, lo, hi))
        assert np.isinf(compiled[~g.fundable[lo:hi]]).all() and (compiled[g.fundable[lo:hi]] >= -1e-6).all()


def test_the_converged_bound_is_the_lp_optimum_over_every_column():
    g = build_graph(parse(generate(200, 60, donors=5, seed=1)))
    w = stage_objective(g, "coverage")[0].astype(float)
    relaxed = relax(g, w, [], greedy_assignment(g))
    assert relaxed.converged and relaxed.rounds > 1
    full = solve_lp(StageModel.over(g, stage_objective(g, "coverage"), [], g.fundable).proto(integer=False))
    lp = full.termination.objective_bounds.primal_bound
    assert abs(relaxed.bound - lp) <= 1e-6 * lp and abs(relaxed.lp_value - lp) <= 1e-6 * lp
    assert len(relaxed.col_pair) < g.fundable.sum() / 4  # the master holds a fraction of the columns


@pytest.fixture(scope="module")
def solved_round():
    """A round whose staged MIP the oracle solves in seconds, cut, with its optimum."""
    g = with_cuts(build_graph(parse(generate(60, 20, donors=3, seed=5, tightness=0.35, needs="legacy"))),
                  DonorParams())
    return g, *staged_optimum(g)


@pytest.mark.parametrize("name", ["coverage", "quality", "cost"])
def test_a_stage_keeps_every_row_and_never_loses_its_start(name, solved_round):
    """The moves (LP-fill, LNS, cores) from greedy's assignment (coverage) or the
    lexicographic optimum of the earlier stages: the answer meets every row, is no
    worse than the start, and the stage's bound is at least the oracle's optimum."""
    g, opt, (pairs, donors) = solved_round
    keep = {"coverage": [], "quality": _stages(g, opt)[1][2], "cost": _stages(g, opt)[2][2]}[name]
    obj, maximise = stage_objective(g, name)
    if name == "coverage":
        pairs, donors = greedy_assignment(g)
    start = int(obj[pairs].sum())
    best = Best(pairs.copy(), donors.copy())
    worked = work_stage(g, name, keep, best, Run(params=replace(DonorParams(), lns_stall=3)), None)
    model = StageModel.over(g, (obj, maximise), keep, g.fundable)
    assert model.fits(model.vector(best.pairs, best.donors))
    value = int(obj[best.pairs].sum())
    sign = 1 if maximise else -1
    assert sign * value >= sign * start and worked.gain == sign * value
    assert worked.stats.bound is not None and sign * worked.stats.bound >= sign * opt[name] * _unit(name) - 1e-6


def _unit(name: str) -> float:
    return {"coverage": 1e-6, "quality": 1e-9, "cost": 1.0}[name]


@settings(max_examples=25)
@given(tiny_instances(donors=True))
def test_the_bounds_a_solution_reports_hold_among_the_solutions_they_speak_of(raw):
    """bound.coverage against every feasible matching; bound.quality against those of at
    least the solution's coverage; bound.cost against those of at least its coverage and
    quality (docs/format.md, "Bounds"). Node limit 1: stages are left open."""
    inst = parse(raw)
    if brute_force(inst) is None:
        return
    s = solve_checked(inst, node_limit=1)
    figures = [(sum(w for *_, w, _, _ in m), sum(w * q for *_, w, q, _ in m), sum(c for *_, c in m))
               for m in feasible_matchings(inst)]
    o, b = s.objective, s.bound
    assert max(f[0] for f in figures) <= b.coverage + 1e-9
    at_least = [f for f in figures if f[0] >= o.coverage - 1e-9]
    if b.quality is not None:
        assert max(f[1] for f in at_least) <= b.quality + 1e-7
    if b.cost is not None:
        assert min(f[2] for f in at_least if f[1] >= o.quality - 1e-7) >= b.cost


def test_decide_is_a_table():
    p = DonorParams()
    base = View(later=False, position=0, keeps_quality=False, gain=100, top=110, step=1, core=None, tried=frozenset(),
                lns_rounds=0, lns_stall=0)
    # a small round: CP-SAT over the core right after LP-fill, once; then as any round
    small = replace(base, tried=frozenset({"lp-fill"}), core=400, free_mentees=p.direct_max_mentees)
    assert decide(small, p) == "direct-cp-sat"
    assert decide(replace(small, tried=small.tried | {"direct-cp-sat"}), p) == "lns"
    assert decide(replace(small, free_mentees=p.direct_max_mentees + 1), p) == "lns"
    assert decide(replace(small, core=None), p) == "lns"  # no core counted
    assert decide(replace(small, enough=105), p) == "lns"  # a probe keeps its own path
    assert decide(replace(small, later=True, keeps_quality=True, tried=small.tried | {"direct-cp-sat"}), p) \
        == "core-cp-sat"  # the later stages' own proof still follows
    assert decide(base, p) == "lp-fill"
    filled = replace(base, tried=frozenset({"lp-fill"}))
    assert decide(filled, p) == "lns"
    assert decide(replace(filled, gain=110), p) is None  # closed
    assert decide(replace(filled, out_of_time=True), p) is None
    assert decide(replace(filled, lns_rounds=p.lns_rounds[0]), p) is None  # LNS spent, no core counted
    assert decide(replace(filled, position=2, lns_rounds=p.lns_rounds[2]), p) is None  # the third stage's fewer
    stalled = replace(filled, lns_rounds=9, lns_stall=p.lns_stall)
    assert decide(stalled, p) is None  # no core counted: nothing to prove with
    assert decide(replace(stalled, core=p.cp_sat_max_columns), p) == "core-cp-sat"
    assert decide(replace(stalled, core=p.cp_sat_max_columns + 1), p) is None
    quality = replace(stalled, later=True, core=p.later_core_max_columns)
    assert decide(quality, p) == "core-mip"
    assert decide(replace(quality, core=p.later_core_max_columns + 1), p) is None
    assert decide(replace(quality, tried=quality.tried | {"core-mip"}), p) is None  # one proof a stage
    cost = replace(filled, later=True, keeps_quality=True, core=p.later_core_max_columns)
    assert decide(cost, p) == "core-cp-sat"  # before LNS: CP-SAT finds any better assignment in the core
    assert decide(replace(cost, tried=cost.tried | {"core-cp-sat"}), p) == "lns"
    assert decide(replace(cost, core=p.later_core_max_columns + 1), p) == "lns"
    assert decide(replace(cost, core=p.later_core_max_columns + 1, lns_stall=p.lns_stall), p) is None
    probe = replace(filled, enough=105)
    assert decide(replace(probe, gain=105), p) is None and decide(replace(probe, top=104), p) is None


def test_settled_takes_a_gap_within_the_float_tolerance_as_proven():
    assert settled(101_616_953_701, 101_616_953_600) == 101_616_953_600
    assert settled(101_617_953_600, 101_616_953_600) == 101_617_953_600
    assert settled(10, 9) == 10


def test_a_round_is_proven_and_its_answer_is_the_oracles():
    inst = parse(generate(120, 35, donors=3, seed=8, tightness=0.3, needs="legacy"))
    s = solve_checked(inst)
    opt, _ = staged_optimum(build_graph(inst))
    assert s.status == "optimal" and s.stats.method.startswith("colgen-lp")
    assert math.isclose(s.objective.coverage, opt["coverage"] * 1e-6)
    assert math.isclose(s.objective.quality, opt["quality"] * 1e-9, abs_tol=1e-8)
    assert s.objective.cost == opt["cost"]
    assert all(st.gap == 0 for st in s.stats.stages)


def test_a_users_node_limit_replaces_every_moves_own():
    assert Run(node_limit=7).nodes(500) == 7 and Run().nodes(500) == 500
    from wopmatch.solver.policies.base import PolicyOptions, donor_run
    from wopmatch.solver.tuning import Tuning

    assert donor_run(PolicyOptions(node_limit=7, seed=3, workers=1), Tuning()) == Run(3, 7, DonorParams(), 1)


_TWICE = """
import json, sys
from wopmatch.generator import generate
from wopmatch.models.io import parse_instance
from wopmatch.solver import SolveOptions, solve
raw = generate(200, 60, donors=5, seed=int(sys.argv[1]), needs="legacy")
s = solve(parse_instance(raw), "0" * 64, SolveOptions())
print(json.dumps([s.stats.method, s.status, [(p.mentee, p.mentor, p.donor) for p in s.partnerships],
                  [(st.name, st.value, st.bound) for st in s.stats.stages]]))
"""


def test_two_solves_started_together_give_the_same_answer():
    procs = [subprocess.Popen([sys.executable, "-c", _TWICE, "2"], stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [json.loads(p.communicate(timeout=600)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outs[0] == outs[1]
    assert outs[0][0].startswith("colgen-lp") and "lns" in outs[0][0] and len(outs[0][2]) > 50


def test_a_time_limit_cuts_the_work_and_says_so():
    inst = parse(generate(200, 60, donors=5, seed=1, needs="legacy"))  # its proofs take seconds
    s = solve_checked(inst, time_limit=0.3)
    assert s.status == "feasible" and "time limit" in s.message
    assert s.bound.coverage >= s.objective.coverage


@pytest.mark.parametrize("policy", ["max-min", "regional-equity"])
def test_a_time_limit_stops_the_threshold_search_and_says_so(policy):
    inst = parse(generate(200, 60, donors=5, seed=1, needs="legacy"))  # its probes take seconds
    s = solve_checked(inst, policy=policy, time_limit=0.05)
    assert s.status == "feasible" and "time limit" in s.message, s.message
    search = next(st for st in s.stats.stages if st.name in ("threshold", "lowest-rate"))
    assert search.status == "feasible"


def test_highs_on_a_scaled_objective_answers_and_bounds_in_the_stages_units(solved_round):
    """The quality stage (coefficients ~1e9) handed to HiGHS scaled to about 1: the
    answer, the bound and the gap asked for all come back in the stage's units."""
    g, opt, (pairs, donors) = solved_round
    objective = stage_objective(g, "quality")
    model = StageModel.over(g, objective, _stages(g, opt)[1][2], g.fundable)
    assert objective_scale(model.obj) <= 1e-8 and 1 <= objective_scale(model.obj) * np.abs(model.obj).max() < 10
    start = model.vector(pairs, donors)  # the oracle's optimum
    for presolve, scaled in ((True, False), (False, True)):
        answer = solve_mip(model, start, Run(), None, None, presolve=presolve, scaled=scaled)
        assert answer.gain == int(objective[0][pairs].sum())
        assert answer.optimal and abs(answer.bound - answer.gain) <= 1e-9 * answer.gain


def test_objective_scale_puts_the_largest_coefficient_in_one_to_ten():
    assert objective_scale(np.array([3, -25_000_000_000])) == 1e-10
    assert objective_scale(np.array([0.5, 0.02])) == 10.0
    assert objective_scale(np.array([7])) == 1.0
    assert objective_scale(np.zeros(3)) == 1.0 and objective_scale(np.zeros(0)) == 1.0


def test_a_highs_consistency_failure_without_presolve_is_retried_with_it():
    from pybind11_abseil import status

    from wopmatch.solver.donors import solvers

    g = build_graph(parse(generate(60, 20, donors=2, seed=3, tightness=0.4)))
    model = StageModel.over(g, stage_objective(g, "coverage"), [], g.fundable)
    start = model.vector(*greedy_assignment(g))
    exact = solve_mip(model, start, Run(), None, None)
    real = solvers._solve_here
    calls = []

    def flaky(proto, params, hints):
        calls.append(params.presolve)
        if params.presolve == solvers.parameters_pb2.EMPHASIS_OFF:
            raise status.StatusNotOk(status.Status(status.StatusCode.INTERNAL, "HighsStatus: kError"))
        return real(proto, params, hints)

    with mock.patch.object(solvers, "_solve_here", flaky):
        again = solve_mip(model, start, Run(), None, None, presolve=False)
    assert calls == [solvers.parameters_pb2.EMPHASIS_OFF, solvers.parameters_pb2.EMPHASIS_UNSPECIFIED]
    assert again.gain == exact.gain and again.proven(1)

    def broken(proto, params, hints):
        raise status.StatusNotOk(status.Status(status.StatusCode.INTERNAL, "HighsStatus: kError"))

    with mock.patch.object(solvers, "_solve_here", broken), pytest.raises(MipError, match="HiGHS failed"):
        solve_mip(model, start, Run(), None, None)


def test_a_probe_says_out_of_reach_only_when_its_bound_proves_it():
    """A threshold probe left open by the work limits is open (None), never "out of
    reach": that would prove a threshold the highest while a higher one is reachable.
    The round: max-min's probe at 0.437 on 200 x 60 x 5 s5, which the default work
    leaves one weight step short of its target, the exact optimum."""
    g = with_cuts(build_graph(parse(generate(200, 60, donors=5, seed=5, needs="legacy"))), DonorParams())
    sub = g.restrict(np.flatnonzero(g.score >= 0.437))
    exact, _ = staged_optimum(sub, ("coverage",))
    quick = Run(params=replace(DonorParams(), lns_rounds=(1, 1, 1), cp_sat_max_columns=0))
    for target in (exact["coverage"], exact["coverage"] + 500_000):
        answer, found = coverage_probe(sub, quick, target)
        assert answer is not False or target > exact["coverage"], target
        assert answer is not True or int(sub.mentee_weight_units[sub.pair_mentee[found.pairs]].sum()) >= target
    assert coverage_probe(sub, quick, exact["coverage"])[0] is None  # the work limits leave it open
