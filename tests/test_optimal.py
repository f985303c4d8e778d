"""The optimal policy against brute force, and its handling of pinned pairs."""

from __future__ import annotations

import math
import pytest
from helpers import assert_lexicographic_optimum, brute_force, op, parse, solve_checked, tiny_instances
from hypothesis import given

from wopmatch.solver.tuning import Tuning


@given(tiny_instances(donors=False))
def test_optimal_equals_brute_force_without_donors(raw):
    _check_against_brute_force(raw)


@given(tiny_instances(donors=True))
def test_optimal_equals_brute_force_with_donors(raw):
    _check_against_brute_force(raw)


def _check_against_brute_force(raw, tuning: Tuning = Tuning(), **kw):
    inst = parse(raw)
    s = solve_checked(inst, tuning=tuning, **kw)
    assert_lexicographic_optimum(s, brute_force(inst))
    if s.status == "optimal":
        assert s.gap.coverage == 0 and s.gap.quality == 0


@given(tiny_instances())
def test_greedy_is_feasible_and_never_beats_optimal(raw):
    inst = parse(raw)
    g = solve_checked(inst, "greedy")
    o = solve_checked(inst, "optimal")
    if o.status == "infeasible":
        assert g.status == "infeasible"
        return
    assert g.objective.coverage <= o.objective.coverage + 1e-9
    if math.isclose(g.objective.coverage, o.objective.coverage, abs_tol=1e-9):
        assert g.objective.quality <= o.objective.quality + 1e-9


def _pair_instance(**extra):
    raw = {
        "operators": [
            op("M1", mentor={"capacity": 1, "strengths": {"septage": 5}}),
            op("A", mentee={"needs": {"septage": 5}}),
            op("B", mentee={"needs": {"septage": 3, "regulation": 3}}),
        ]
    }
    raw.update(extra)
    return parse(raw)


def test_pinned_overrunning_a_mentor_is_infeasible_and_named():
    inst = _pair_instance(operators=[
        op("M1", mentor={"capacity": 1, "strengths": {"septage": 5}}),
        op("A", mentee={"needs": {"septage": 5}}),
        op("B", mentee={"needs": {"septage": 3}}),
    ], pinned=[{"mentee": "A", "mentor": "M1"}, {"mentee": "B", "mentor": "M1"}])
    s = solve_checked(inst)
    assert s.status == "infeasible"
    assert "M1" in s.message and "capacity 1" in s.message


def test_pinned_overrunning_a_donor_is_infeasible_and_named():
    inst = _pair_instance(donors=[{"id": "FUND", "budget": 1000}],
                          pinned=[{"mentee": "A", "mentor": "M1", "donor": "FUND"}])
    s = solve_checked(inst)
    assert s.status == "infeasible"
    assert "FUND" in s.message and "budget 1000" in s.message


def test_pinned_pair_is_kept_even_if_ineligible_and_uses_capacity():
    # B's pinned pair with M1 is cross-language: ineligible, but pinned pairs need not be eligible.
    raw = {"operators": [
        op("M1", languages=("fr",), mentor={"capacity": 1, "strengths": {"septage": 5}}),
        op("A", languages=("fr",), mentee={"needs": {"septage": 5}}),
        op("B", mentee={"needs": {"regulation": 5}}),
    ], "pinned": [{"mentee": "B", "mentor": "M1"}]}
    s = solve_checked(parse(raw))
    assert s.status == "optimal"
    assert [(p.mentee, p.mentor, p.pinned) for p in s.partnerships] == [("B", "M1", True)]
    assert [(u.mentee, u.reason) for u in s.unmatched] == [("A", "capacity")]


def test_coverage_beats_quality():
    # One mentor, capacity 2. Matching both mentees (lower total quality per
    # head) must win over matching only the best-scoring one.
    raw = {"operators": [
        op("M", mentor={"capacity": 1, "strengths": {"septage": 5, "regulation": 3}}),
        op("N", mentor={"capacity": 1, "strengths": {"septage": 3}}),
        op("A", mentee={"needs": {"septage": 5}}),
        op("B", mentee={"needs": {"septage": 5, "regulation": 5}}),
    ], "rules": {"min_strength": 3}}
    s = solve_checked(parse(raw))
    assert s.objective.coverage == 2
    # B-M scores 0.8, A-N 0.6; A-M 1.0 would leave B with N (0.3): 1.3 < 1.4
    assert {(p.mentee, p.mentor) for p in s.partnerships} == {("A", "N"), ("B", "M")}


def test_weights_prioritise_mentees():
    raw = {"operators": [
        op("M", mentor={"capacity": 1, "strengths": {"septage": 5}}),
        op("A", mentee={"needs": {"septage": 5}}),
        op("B", mentee={"needs": {"septage": 2}, "weight": 1.5}),
    ]}
    s = solve_checked(parse(raw))
    assert [p.mentee for p in s.partnerships] == ["B"]


def test_cost_breaks_ties():
    raw = {"operators": [
        op("NEAR", location=(0.0, 1.0), mentor={"capacity": 1, "strengths": {"septage": 5}}),
        op("FAR", location=(0.0, 60.0), mentor={"capacity": 1, "strengths": {"septage": 5}}),
        op("A", location=(0.0, 0.0), mentee={"needs": {"septage": 5}}),
    ]}
    s = solve_checked(parse(raw))
    assert [p.mentor for p in s.partnerships] == ["NEAR"]


@pytest.mark.parametrize("policy", ["optimal", "greedy"])
def test_empty_and_degenerate_instances(policy):
    for raw in ({"operators": []},
                {"operators": [op("A", mentee={"needs": {"septage": 5}})]},
                {"operators": [op("M", mentor={"capacity": 3, "strengths": {"septage": 5}})]},
                {"operators": [op("M", mentor={"capacity": 0, "strengths": {"septage": 5}}),
                               op("A", mentee={"needs": {"septage": 5}})],
                 "donors": [{"id": "D", "budget": 0}]}):
        s = solve_checked(parse(raw), policy)
        assert s.status in ("optimal", "feasible")
        assert s.partnerships == []
