"""Each unmatched reason, on a hand-made instance where it is the right one."""

from __future__ import annotations

import pytest
from helpers import op, parse, solve_checked

MENTOR = {"capacity": 1, "strengths": {"septage": 5}}


def _reason(extra_ops, **extra):
    raw = {"operators": [op("M", location=(0.0, 0.0), mentor=MENTOR), *extra_ops]}
    raw.update(extra)
    s = solve_checked(parse(raw))
    return {u.mentee: (u.reason, u.detail) for u in s.unmatched}


@pytest.mark.parametrize("mentee, extra, reason", [
    (op("X", mentee={"needs": {"regulation": 5}}), {}, "no_mentor_strength"),
    (op("X", languages=("fr",), mentee={"needs": {"septage": 5}}), {}, "no_shared_language"),
    (op("X", region="africa", mentee={"needs": {"septage": 5}}), {"rules": {"region": "same"}}, "region_rule"),
    (op("X", location=(0.0, 40.0), mentee={"needs": {"septage": 5}}), {"rules": {"max_distance_km": 1000}},
     "distance_rule"),
    (op("X", mentee={"needs": {"septage": 5}}), {"forbidden": [{"mentee": "X", "mentor": "M"}]}, "forbidden"),
    (op("X", mentee={"needs": {"septage": 1, "regulation": 5}}), {"rules": {"min_score": 0.5}}, "below_min_score"),
    (op("X", mentee={"needs": {"septage": 5}}), {"donors": [{"id": "D", "budget": 10**6, "regions": ["mena"]}]},
     "no_eligible_donor"),
])
def test_structural_reasons(mentee, extra, reason):
    assert _reason([mentee], **extra)["X"][0] == reason


def test_filters_apply_in_order():
    # French-speaking and in another region under region=same: language comes first.
    got = _reason([op("X", languages=("fr",), region="africa", mentee={"needs": {"septage": 5}})],
                  rules={"region": "same"})
    assert got["X"][0] == "no_shared_language"


def test_capacity_names_the_full_mentor():
    got = _reason([op("A", mentee={"needs": {"septage": 5}}), op("B", mentee={"needs": {"septage": 4}})])
    assert len(got) == 1
    (reason, detail), = got.values()
    assert reason == "capacity" and "M" in detail


def test_budget_names_the_exhausted_donor():
    raw = {"operators": [op("M", mentor={"capacity": 2, "strengths": {"septage": 5}}),
                         op("A", mentee={"needs": {"septage": 5}}), op("B", mentee={"needs": {"septage": 4}})],
           "donors": [{"id": "FUND", "budget": 40_000}]}
    s = solve_checked(parse(raw))
    got = {u.mentee: (u.reason, u.detail) for u in s.unmatched}
    assert got["B"][0] == "budget" and "FUND" in got["B"][1]


def test_greedy_blocks_a_mentee_that_optimal_matches():
    # Greedy takes A-M1 first (score ties broken by mentee, then mentor); B then
    # only fits M1, which is full: capacity. Optimal sends A to M2 instead.
    raw = {"operators": [op("M1", mentor={"capacity": 1, "strengths": {"septage": 5, "regulation": 5}}),
                         op("M2", mentor={"capacity": 1, "strengths": {"septage": 5}}),
                         op("A", mentee={"needs": {"septage": 5}}),
                         op("B", mentee={"needs": {"regulation": 5}})]}
    g = solve_checked(parse(raw), "greedy")
    o = solve_checked(parse(raw), "optimal")
    assert o.objective.coverage == 2
    assert g.objective.coverage == 1
    assert [(u.mentee, u.reason) for u in g.unmatched] == [("B", "capacity")]
