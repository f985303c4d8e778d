"""The lagrangian-mip path's layers: the core MIP, the size guard, and a HiGHS solve stopped at its deadline."""

from __future__ import annotations

from dataclasses import replace
from unittest import mock

import pytest
from helpers import parse, solve_checked

from wopmatch.generator import generate
from wopmatch.solver.errors import UnsupportedMethodError
from wopmatch.solver.tuning import BudgetParams, Tuning

#: These tests take the Lagrangian and staged-MIP path apart (auto takes colgen with donors).
LM = "lagrangian-mip"


def _budgets(**changes) -> Tuning:
    return replace(Tuning(), budgets=replace(BudgetParams(), **changes))


def _round():
    return parse(generate(120, 35, donors=3, seed=8, tightness=0.3))


def test_the_core_mip_path_reaches_the_same_optimum():
    inst = _round()
    plain = solve_checked(inst, method=LM)
    for core_max in (60_000, 50):  # an exact core, then a heuristic core of the 50 best variables
        cored = solve_checked(inst, method=LM, tuning=_budgets(core_min_variables=0, core_max_variables=core_max))
        names = [s.name for s in cored.stats.stages]
        assert ("coverage-core-mip" if core_max > 50 else "coverage-heuristic-core-mip") in names, names
        assert "core-mip" in cored.stats.method
        assert cored.status == plain.status == "optimal"
        assert cored.objective.coverage == plain.objective.coverage
        assert abs(cored.objective.quality - plain.objective.quality) < 1e-6
        assert cored.objective.cost == plain.objective.cost


def test_too_many_variables_for_the_full_mip_gives_a_certified_gap_not_a_model():
    inst = _round()
    exact = solve_checked(inst, method=LM)
    small = _budgets(full_mip_max_variables=10)
    s = solve_checked(inst, method=LM, tuning=small)
    with pytest.raises(UnsupportedMethodError, match="variables"):
        solve_checked(inst, method="mip", tuning=small)
    assert s.status == "feasible" and "variables" in s.message
    assert s.objective.coverage <= exact.objective.coverage <= s.bound.coverage


def test_a_highs_solve_stopped_at_the_deadline_keeps_the_incumbent_and_bound():
    inst = _round()
    exact = solve_checked(inst, method=LM)
    # A negative grace stops every time-limited HiGHS child at once.
    s = solve_checked(inst, method=LM, time_limit=30, tuning=_budgets(deadline_grace=-1000.0, child_min_variables=0))
    assert s.status == "feasible" and "time limit" in s.message
    stage = next(st for st in s.stats.stages if st.name == "coverage")
    assert stage.status == "feasible"
    assert s.bound.coverage is not None and s.bound.coverage >= exact.objective.coverage
    assert s.objective.coverage <= exact.objective.coverage


def test_a_highs_consistency_failure_without_presolve_is_retried_with_it():
    from pybind11_abseil import status

    from wopmatch.solver.budgets import highs as mip

    inst = _round()
    exact = solve_checked(inst, method=LM)
    real = mip._solve_here
    calls = []

    def flaky(model, params, model_params):
        calls.append(params.presolve)
        if params.presolve == mip.parameters_pb2.EMPHASIS_OFF:
            raise status.StatusNotOk(status.Status(status.StatusCode.INTERNAL, "HighsStatus: kError"))
        return real(model, params, model_params)

    with mock.patch("wopmatch.solver.budgets.highs._solve_here", flaky):
        s = solve_checked(inst, method=LM)
    assert mip.parameters_pb2.EMPHASIS_OFF in calls  # the quality or cost stage failed once...
    assert s.status == "optimal" and s.objective.cost == exact.objective.cost  # ...and was solved with presolve

    def broken(model, params, model_params):
        raise status.StatusNotOk(status.Status(status.StatusCode.INTERNAL, "HighsStatus: kError"))

    with mock.patch("wopmatch.solver.budgets.highs._solve_here", broken), \
            pytest.raises(mip.MipError, match="HiGHS failed"):
        solve_checked(inst, method=LM)


def test_the_working_set_path_is_exact_with_the_full_mip_and_certified_without():
    inst = _round()
    exact = solve_checked(inst, method=LM)
    full = solve_checked(inst, method=LM, tuning=_budgets(working_set_min_candidates=0))
    relaxed = solve_checked(inst, method=LM, tuning=_budgets(working_set_min_candidates=0, full_mip_max_variables=10))
    for s in (full, relaxed):
        assert s.stats.method.startswith("lagrangian-on-working-set"), s.stats.method
    assert full.status == "optimal"
    assert (full.objective.coverage, full.objective.cost) == (exact.objective.coverage, exact.objective.cost)
    assert relaxed.status == "feasible"
    assert relaxed.objective.coverage <= exact.objective.coverage <= relaxed.bound.coverage
    assert (relaxed.bound.coverage - relaxed.objective.coverage) / relaxed.bound.coverage < 0.08  # measured 5.3%
