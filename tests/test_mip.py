"""The donor path's heuristic layers: the pool MIP and a HiGHS solve stopped at its deadline."""

from __future__ import annotations

from unittest import mock

from helpers import parse, solve_checked

from wopmatch.generator import generate


def _round():
    return parse(generate(120, 35, donors=3, seed=8, tightness=0.3))


def test_pool_mip_is_an_incumbent_not_a_proof():
    inst = _round()
    plain = solve_checked(inst)
    with mock.patch("wopmatch.solver.policies.POOL_SHARE", 1.0):  # let the pool MIP run on a small round
        pooled = solve_checked(inst)
    names = [s.name for s in pooled.stats.stages]
    assert "coverage-pool-mip" in names and "coverage" in names  # the full MIP still proves it
    assert pooled.status == plain.status == "optimal"
    assert pooled.objective.coverage == plain.objective.coverage
    assert abs(pooled.objective.quality - plain.objective.quality) < 1e-6


def test_a_highs_solve_stopped_at_the_deadline_keeps_the_incumbent_and_bound():
    inst = _round()
    exact = solve_checked(inst)
    # A negative grace stops every time-limited HiGHS child at once.
    with mock.patch("wopmatch.solver.mip.DEADLINE_GRACE", -1000.0):
        s = solve_checked(inst, time_limit=30)
    assert s.status == "feasible" and "time limit" in s.message
    stage = next(st for st in s.stats.stages if st.name == "coverage")
    assert stage.status == "feasible"
    assert s.bound.coverage is not None and s.bound.coverage >= exact.objective.coverage
    assert s.objective.coverage <= exact.objective.coverage
