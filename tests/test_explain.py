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


def test_budget_gives_each_donors_shortfall():
    raw = {"operators": [op("M", mentor={"capacity": 2, "strengths": {"septage": 5}}),
                         op("A", mentee={"needs": {"septage": 5}}), op("B", mentee={"needs": {"septage": 4}})],
           "donors": [{"id": "FUND", "budget": 40_000}]}
    s = solve_checked(parse(raw))
    (u,) = s.unmatched
    (p,) = s.partnerships
    assert f"FUND has {40_000 - p.cost:,} USD left; the cheapest of these partnerships costs {p.cost:,} USD" \
        in u.detail  # both pairs have the same cost (same places)


def _idle(ops, donors, policy="optimal"):
    s = solve_checked(parse({"operators": ops, "donors": donors}), policy)
    return {d.id: (d.idle_reason, d.idle_detail) for d in s.donors}


SEPTAGE = {"needs": {"septage": 5}}


@pytest.mark.parametrize("ops, donor, reason, words", [
    ([op("M", mentor={"capacity": 2, "strengths": {"septage": 5}}), op("A", mentee=SEPTAGE)],
     {"budget": 10**6}, "all_mentees_matched", "every mentee is matched"),
    ([op("M", mentor={"capacity": 2, "strengths": {"septage": 5}}), op("A", mentee=SEPTAGE), op("B", mentee=SEPTAGE)],
     {"budget": 10**6, "max_partnerships": 1}, "partnership_cap", "its maximum of 1 partnerships"),
    ([op("M", mentor=MENTOR), op("A", mentee=SEPTAGE), op("B", region="mena", mentee=SEPTAGE)],
     {"budget": 10**6, "regions": ["mena"]}, "no_mentee_in_scope", "no unmatched mentee is in its regions (mena)"),
    ([op("M", mentor=MENTOR), op("A", mentee=SEPTAGE), op("B", region="mena", languages=("fr",), mentee=SEPTAGE)],
     {"budget": 10**6, "regions": ["mena"]}, "no_mentee_in_scope",
     "its 1 unmatched mentee(s) in its regions (mena) have no eligible mentor"),
    ([op("M", mentor=MENTOR), op("A", mentee=SEPTAGE)],
     {"budget": 10**6, "work_areas": ["regulation"]}, "work_areas", "its work areas (regulation)"),
    ([op("M", mentor=MENTOR), op("A", mentee=SEPTAGE)],
     {"budget": 10**6, "max_grant": 1000}, "max_grant", "its max grant 1,000 USD is below"),
    ([op("M", mentor=MENTOR), op("A", mentee=SEPTAGE), op("B", mentee=SEPTAGE)],
     {"budget": 10**6}, "mentors_full", "every mentor of the unmatched mentees it could fund is full"),
    ([op("M", mentor={"capacity": 2, "strengths": {"septage": 5}}), op("A", mentee=SEPTAGE), op("B", mentee=SEPTAGE)],
     {"budget": 40_000}, "too_little_left", "the cheapest partnership it could still fund costs"),
])
def test_idle_money_is_explained(ops, donor, reason, words):
    got = _idle(ops, [{"id": "D", **donor}])
    assert got["D"][0] == reason and words in got["D"][1], got


def test_a_spent_budget_has_no_idle_reason_and_a_false_one_is_caught():
    from wopmatch.solver import verify_solution

    ops = [op("M", mentor={"capacity": 2, "strengths": {"septage": 5}}), op("A", mentee=SEPTAGE),
           op("B", mentee=SEPTAGE)]
    inst = parse({"operators": ops, "donors": [{"id": "D", "budget": 40_000}]})
    s = solve_checked(inst)
    assert s.donors[0].idle_reason == "too_little_left"
    for wrong in ("not_selected", "mentors_full", "partnership_cap"):
        bad = s.model_copy(update={"donors": [s.donors[0].model_copy(update={"idle_reason": wrong})]})
        assert any("donor D" in v and "idle reason" in v for v in verify_solution(inst, bad)), wrong
    # a file written before idle reasons (none given) still verifies
    old = s.model_copy(update={"donors": [s.donors[0].model_copy(update={"idle_reason": None, "idle_detail": ""})]})
    assert verify_solution(inst, old) == []
    (p,) = s.partnerships
    spent = solve_checked(parse({"operators": ops, "donors": [{"id": "D", "budget": p.cost}]}))
    assert spent.donors[0].committed == p.cost and spent.donors[0].idle_reason is None
    claimed = spent.model_copy(update={"donors": [spent.donors[0].model_copy(update={"idle_reason": "mentors_full"})]})
    assert any("nothing left" in v for v in verify_solution(parse({"operators": ops, "donors": [
        {"id": "D", "budget": p.cost}]}), claimed))
