"""Stated interests (docs/format.md §2-§3): vetoes, the interest term of the score, offers,
the stable policy's stated rankings, the wishes metrics, explanations and the workbook."""

from __future__ import annotations

import copy
import math

import pytest
import test_optimal
import test_policies
from helpers import feasible_matchings, op, parse, solve_checked, tiny_instances
from hypothesis import given, settings
from hypothesis import strategies as st

from wopmatch.generator import generate
from wopmatch.models import InputError
from wopmatch.models.io import load_instance
from wopmatch.models.tables import instance_workbook_bytes
from wopmatch.solver.verify import independent_pair_table, verify_solution

AREAS = ["septage", "nrw", "climate"]
POLICIES = ("optimal", "greedy", "stable", "max-min", "regional-equity", "min-cost", "random")


def _round(**interests) -> dict:
    """Two mentors and two mentees; ``interests``: id -> its interests."""
    raw = {"work_areas": AREAS, "operators": [
        op("M1", mentor={"capacity": 1, "strengths": {"septage": 5, "nrw": 4}}),
        op("M2", mentor={"capacity": 1, "strengths": {"septage": 4, "nrw": 5}}),
        op("A", mentee={"needs": {"septage": 4}}),
        op("B", mentee={"needs": {"septage": 3, "nrw": 2}}),
    ]}
    for rec in raw["operators"]:
        if rec["id"] in interests:
            rec["interests"] = [{"operator": x, "level": v} for x, v in interests[rec["id"]].items()]
    return raw


def _problems(raw) -> list[str]:
    with pytest.raises(InputError) as exc:
        parse(raw)
    return [f"{p.where}: {p.message}" for p in exc.value.problems]


def test_each_interest_problem_is_located_with_the_operator_meant():
    raw = _round(A={"M1x": 1, "A": 2, "B": 1, "M1": 2}, M1={"A": 3})
    raw["operators"][0]["interests"].append({"operator": "A", "level": 1})
    raw["pinned"] = [{"mentee": "B", "mentor": "M2"}]
    raw["operators"][3]["interests"] = [{"operator": "M2", "level": -1}]
    got = _problems(raw)
    assert "operators[2].interests[0].operator: unknown operator 'M1x' (operator A); did you mean 'M1'?" in got
    assert "operators[2].interests[1].operator: an operator cannot state an interest in itself (A)" in got
    assert ("operators[2].interests[2].operator: A and B can never be partners: one must have a mentor profile "
            "and the other a mentee profile") in got
    assert "operators[0].interests[0].level: must be one of -1, 1 or 2, got 3 (operator M1)" in got
    assert "operators[0].interests[1].operator: M1 states an interest in A twice" in got
    assert any(g.startswith("pinned[0]: this pair is pinned, but B will not work with M2") for g in got)
    assert len(got) == 6


def test_offers_must_be_strengths_of_the_mentor():
    raw = _round()
    raw["operators"][0]["mentor"]["offers"] = ["nrw", "climate", "septic", "nrw"]
    got = _problems(raw)
    assert got == [
        "operators[0].mentor.offers[1]: offers 'climate', but it has no strength there (operator M1): offers are "
        "some of its strengths",
        "operators[0].mentor.offers[2]: unknown work area 'septic' (operator M1); did you mean 'septage'?",
        "operators[0].mentor.offers[3]: 'nrw' is offered twice (operator M1)"]


def test_the_interest_term_and_offers_in_the_score():
    # A -> M2 first choice, M2 -> A interested: interest (2 + 1) / 4; M2 offers septage only
    raw = _round(A={"M2": 2}, M2={"A": 1})
    raw["rules"] = {"interest_weight": 0.4}
    raw["operators"][1]["mentor"]["offers"] = ["septage"]
    table = independent_pair_table(parse(raw))
    assert math.isclose(table["A", "M2"]["score"], 4 * 4 / 20 + 0.4 * 3 / 4)
    assert math.isclose(table["A", "M1"]["score"], 1.0)
    assert math.isclose(table["B", "M2"]["score"], 3 * 4 / 25)  # its nrw strength is not offered
    assert table["B", "M2"]["focus"] == ["septage"]
    s = solve_checked(parse(raw))
    assert {(p.mentee, p.mentor): p.score for p in s.partnerships} == pytest.approx(
        {("A", "M2"): 1.1, ("B", "M1"): (3 * 5 + 2 * 4) / 25})


@settings(max_examples=30)
@given(raw=tiny_instances(interests=True), data=st.data())
def test_a_vetoed_pair_never_appears_from_any_policy(raw, data):
    inst = parse(raw)
    pinned = {(p.mentee, p.mentor) for p in inst.pinned}
    open_pairs = sorted(k for k, t in independent_pair_table(inst).items()
                        if not t["failed"] and k not in pinned and k[::-1] not in pinned)
    if open_pairs:  # one more veto, on a pair that could be formed
        mentee, mentor = data.draw(st.sampled_from(open_pairs))
        who, whom = data.draw(st.sampled_from([(mentee, mentor), (mentor, mentee)]))
        rec = next(o for o in raw["operators"] if o["id"] == who)
        rec["interests"] = [it for it in rec.get("interests", []) if it["operator"] != whom]
        rec["interests"].append({"operator": whom, "level": -1})
        inst = parse(raw)
    vetoed = {(o.id, it["operator"]) for o in inst.operators for it in o.interests if it["level"] == -1}
    for policy in POLICIES:
        s = solve_checked(inst, policy)
        for p in s.partnerships:
            assert (p.mentee, p.mentor) not in vetoed and (p.mentor, p.mentee) not in vetoed, policy


@pytest.mark.parametrize("who", ["mentee", "mentor"])
def test_the_verifier_rejects_a_vetoed_partnership(who):
    s = solve_checked(parse(_round()))
    assert ("A", "M1") in {(p.mentee, p.mentor) for p in s.partnerships}
    raw = _round(**({"A": {"M1": -1}} if who == "mentee" else {"M1": {"A": -1}}))
    violations = verify_solution(parse(raw), s)
    assert any("(A <- M1): pair is not eligible (forbidden)" in v for v in violations), violations


def test_an_unmatched_mentee_is_told_who_will_not_work_with_whom():
    raw = _round(B={"M1": -1}, M2={"B": -1})
    s = solve_checked(parse(raw))
    (u,) = s.unmatched
    assert (u.mentee, u.reason) == ("B", "forbidden")
    assert u.detail == "every remaining mentor is forbidden or vetoed: B will not work with M1, M2 will not work with B"


@pytest.mark.parametrize("check", [test_optimal.test_optimal_equals_brute_force_with_donors,
                                   test_optimal.test_optimal_equals_brute_force_without_donors,
                                   test_policies.test_max_min_with_donors_reaches_the_brute_force_bottleneck_then_quality_and_cost,
                                   test_policies.test_regional_equity_with_donors_reaches_the_brute_force_lowest_rate_then_the_default,
                                   test_policies.test_min_cost_matches_as_many_at_no_more_cost,
                                   test_policies.test_stable_has_no_blocking_pair_without_funding],
                         ids=lambda f: f.__name__)
@settings(max_examples=25)
@given(data=st.data())
def test_the_brute_force_contracts_hold_with_interests(check, data):
    """Every policy's brute-force property (tests/test_optimal.py, test_policies.py) on rounds
    that always state interests."""
    donors = None if "donors" in check.__name__ else False
    check.hypothesis.inner_test(raw=data.draw(tiny_instances(donors=donors, interests=True)))


def _prefers(level_of, who: str, a: str, b: str, score: dict, rank: dict) -> bool:
    """``who`` prefers partner a to partner b: its stated level, then the score (9 decimals), then the lower id."""
    ka = (max(0, level_of.get((who, a), 0)), round(score[a], 9), -rank[a])
    kb = (max(0, level_of.get((who, b), 0)), round(score[b], 9), -rank[b])
    return ka > kb


@settings(max_examples=50)
@given(raw=tiny_instances(donors=False, interests=True))
def test_stable_leaves_no_pair_that_both_rank_higher_by_their_stated_interests(raw):
    """An independent blocking-pair search over the verifier's eligible pairs, with stated rankings."""
    inst = parse(raw)
    s = solve_checked(inst, "stable")
    if s.status == "infeasible":
        return
    table = independent_pair_table(inst)
    level_of = {(o.id, it["operator"]): it["level"] for o in inst.operators for it in o.interests}
    ids = sorted(o.id for o in inst.operators)
    rank = {x: k for k, x in enumerate(ids)}
    partner = {p.mentee: p.mentor for p in s.partnerships}
    held: dict[str, list[str]] = {}
    for p in s.partnerships:
        if not p.pinned:
            held.setdefault(p.mentor, []).append(p.mentee)
    pinned = {p.mentee for p in inst.pinned}
    capacity = {o.id: o.mentor.capacity for o in inst.operators if o.mentor}
    load = {m: sum(1 for p in s.partnerships if p.mentor == m) for m in capacity}
    for (i, j), t in table.items():
        if t["failed"] or i in pinned or partner.get(i) == j or capacity[j] == 0:
            continue
        by_mentee = {x: table[i, x]["score"] for x in capacity}
        mentee_wants = i not in partner or _prefers(level_of, i, j, partner[i], by_mentee, rank)
        by_mentor = {x: table[x, j]["score"] for x in {i, *held.get(j, [])}}
        mentor_wants = load[j] < capacity[j] or any(_prefers(level_of, j, i, x, by_mentor, rank)
                                                     for x in held.get(j, []))
        assert not (mentee_wants and mentor_wants), (i, j)


@st.composite
def _first_choices(draw):
    """A budget-free tiny round where mentees state first choices only."""
    raw = draw(tiny_instances(donors=False, interests=False))
    mentees = [o for o in raw["operators"] if "mentee" in o]
    mentors = [o["id"] for o in raw["operators"] if "mentor" in o]
    for o in mentees:
        liked = draw(st.lists(st.sampled_from(mentors), max_size=2, unique=True))
        o["interests"] = [{"operator": x, "level": 2} for x in liked if x != o["id"]]
    return raw


def _first_choices_met(inst, s) -> int:
    liked = {(o.id, it["operator"]) for o in inst.operators for it in o.interests if it["level"] == 2}
    return sum((p.mentee, p.mentor) in liked for p in s.partnerships)


@settings(max_examples=50)
@given(raw=_first_choices(), weight=st.sampled_from([0.1, 0.2, 1.0]))
def test_a_positive_interest_weight_never_meets_fewer_first_choices(raw, weight):
    # min_score 0: the interest term may lift a pair over min_score, and so change who is eligible
    raw["rules"].update(interest_weight=0.0, min_score=0.0)
    plain = parse(raw)
    weighted = parse({**raw, "rules": {**raw["rules"], "interest_weight": weight}})
    a, b = solve_checked(plain), solve_checked(weighted)
    if a.status != "optimal":
        return
    assert b.status == "optimal"
    assert math.isclose(a.objective.coverage, b.objective.coverage, abs_tol=1e-9)
    assert _first_choices_met(weighted, b) >= _first_choices_met(plain, a)


def test_wishes_count_each_side_that_stated_and_got_what_it_wanted():
    raw = _round(A={"M2": 2}, B={"M1": 1}, M1={"A": 2, "B": 1}, M2={"B": -1})
    s = solve_checked(parse(raw))
    pairs = {(p.mentee, p.mentor) for p in s.partnerships}
    assert pairs == {("A", "M2"), ("B", "M1")}  # M2 vetoes B, so B takes M1 and A M2
    w = s.metrics.wishes
    assert (w["mentees"].stated, w["mentees"].met, w["mentees"].first_choice) == (2, 2, 1)
    assert (w["mentors"].stated, w["mentors"].met, w["mentors"].first_choice) == (1, 1, 0)
    assert solve_checked(parse(_round())).metrics.wishes is None


def test_the_workbook_carries_interests_and_offers_and_locates_their_problems(tmp_path):
    import openpyxl

    raw = _round(B={"M1": -1, "M2": 2}, M2={"A": 1})
    raw["operators"][1]["mentor"]["offers"] = ["nrw", "septage"]
    inst = parse(raw)
    path = tmp_path / "round.xlsx"
    path.write_bytes(instance_workbook_bytes(inst))
    assert load_instance(path).instance == inst
    wb = openpyxl.load_workbook(path)
    ws = wb["interests"]
    assert [list(r) for r in ws.iter_rows(values_only=True)] == [
        ["operator", "partner", "level"], ["M2", "A", 1], ["B", "M1", -1], ["B", "M2", 2]]
    for row in (["Q", "M1", 2], ["A", "A", 1], ["A", "M1", 3], ["B", "M1", 2], ["A", None, 1]):
        ws.append(row)
    wb.save(path)
    with pytest.raises(InputError) as exc:
        load_instance(path)
    assert [f"{p.where}: {p.message}" for p in exc.value.problems] == [
        "sheet interests, row 5, column operator: unknown operator 'Q'",
        "sheet interests, row 6, column partner: an operator cannot state an interest in itself (A)",
        "sheet interests, row 7, column level: must be one of -1, 1 or 2, got 3 (operator A)",
        "sheet interests, row 8, column partner: B states an interest in M1 twice",
        "sheet interests, row 9, column partner: missing: this field is required (operator A)"]


def test_generated_interests_leave_the_rest_of_the_round_as_it_was():
    plain, stated = generate(60, 20, donors=2, seed=3), generate(60, 20, donors=2, seed=3, interests=4)
    bare = copy.deepcopy(stated)
    for o in bare["operators"]:
        o.pop("interests", None)
    assert bare == plain
    counts = [len(o.get("interests", [])) for o in stated["operators"]]
    assert max(counts) == 4 and sum(counts) > 3 * len(counts)
    levels = {it["level"] for o in stated["operators"] for it in o.get("interests", [])}
    assert levels == {-1, 1, 2}
    inst = parse(stated)
    s = solve_checked(inst, "stable")
    assert s.metrics.wishes["mentees"].stated > 0
    # the metric against a count by hand from the instance and the solution
    roles = {o.id: (o.mentee is not None, o.mentor is not None) for o in inst.operators}
    for side, name in ((0, "mentees"), (1, "mentors")):
        stated_ = met = first = 0
        for o in inst.operators:
            liked = {it["operator"]: it["level"] for it in o.interests
                     if it["level"] > 0 and roles[o.id][side] and roles[it["operator"]][1 - side]}
            if liked:
                got = [liked.get(p.mentor if side == 0 else p.mentee, 0) for p in s.partnerships
                       if (p.mentee if side == 0 else p.mentor) == o.id]
                stated_, met, first = stated_ + 1, met + any(got), first + (2 in got)
        w = s.metrics.wishes[name]
        assert (w.stated, w.met, w.first_choice) == (stated_, met, first), name


# --- proposals (wopmatch propose, wm.propose) -------------------------------------------------


def _solved(raw):
    import wopmatch as wm

    inst = parse(raw)
    s = wm.solve(inst)  # records the round's SHA-256, which a proposal checks
    assert s.verification.ok
    return inst, s


def test_a_proposal_re_solves_with_the_pair_pinned_and_says_what_it_displaces():
    import wopmatch as wm

    inst, s = _solved(_round())
    assert {(p.mentee, p.mentor) for p in s.partnerships} == {("A", "M1"), ("B", "M2")}
    p = wm.propose(inst, s, "A", "M2")
    assert p.outcome == "re_solved" and p.current_mentor == "M1"
    got = {(x.mentee, x.mentor) for x in p.solution.partnerships}
    assert ("A", "M2") in got and p.solution.verification.ok
    pinned = next(x for x in p.solution.partnerships if x.mentee == "A")
    assert pinned.pinned
    # the independent brute force of the round with that pair pinned gives the same figures
    forced = parse({**_round(), "pinned": [{"mentee": "A", "mentor": "M2"}]})
    best = max(feasible_matchings(forced), key=lambda m: (sum(w for *_, w, _, _ in m),
                                                          sum(w * q for *_, w, q, _ in m)))
    assert math.isclose(p.solution.objective.quality, sum(w * q for *_, w, q, _ in best), abs_tol=1e-6)
    assert math.isclose(p.quality_change, p.solution.objective.quality - s.objective.quality, abs_tol=1e-9)
    assert {c.mentee for c in p.diff.changed} == {"A", "B"}  # B moves to M1
    assert (p.score, p.cost, p.focus) == (pytest.approx(0.8), pinned.cost, ["septage"])


def test_a_proposal_says_why_a_pair_may_not_be_formed():
    import wopmatch as wm

    inst, s = _solved(_round(M2={"A": -1}))
    p = wm.propose(inst, s, "A", "M2")
    assert (p.outcome, p.reason) == ("not_eligible", "forbidden")
    assert p.detail == "the pair may not be formed: M2 will not work with A" and p.solution is None
    inst, s = _solved({**_round(), "forbidden": [{"mentee": "B", "mentor": "M1"}]})
    p = wm.propose(inst, s, "B", "M1")
    assert p.detail == "the pair may not be formed: the round forbids this pair"
    p = wm.propose(inst, s, "B", "M2")
    assert p.outcome == "already_matched"


def test_a_proposal_with_donors_tries_each_donor_that_may_fund_it():
    import wopmatch as wm

    raw = _round()
    raw["donors"] = [{"id": "D1", "budget": 200_000, "work_areas": ["climate"]},
                     {"id": "D2", "budget": 200_000}, {"id": "D3", "budget": 100_000}]
    inst, s = _solved(raw)
    p = wm.propose(inst, s, "A", "M2")
    assert p.outcome == "re_solved" and p.donor in ("D2", "D3")
    assert [(d.donor, d.eligible) for d in p.donors] == [("D1", False), ("D2", True), ("D3", True)]
    p = wm.propose(inst, s, "A", "M2", donor="D1")
    assert p.outcome == "no_donor" and "D1" in p.detail


def test_a_proposal_refuses_unknown_ids_and_another_rounds_solution(tmp_path):
    import wopmatch as wm

    inst, s = _solved(_round())
    with pytest.raises(InputError) as exc:
        wm.propose(inst, s, "AA", "M3", donor="D")
    assert [f"{p.where}: {p.message}" for p in exc.value.problems] == [
        "mentee: unknown operator 'AA'; did you mean 'A'?", "mentor: unknown operator 'M3'",
        "donor: unknown donor 'D'"]
    other = parse({**_round(), "rules": {"min_score": 0.1}})
    with pytest.raises(InputError, match="this solution belongs to a different round"):
        wm.propose(other, s, "A", "M2")


def test_propose_from_the_command_line_writes_the_proposal_and_the_re_solved_round(tmp_path):
    import json

    from click.testing import CliRunner

    from wopmatch.cli.main import cli
    from wopmatch.generator import to_json_bytes

    (tmp_path / "r.json").write_bytes(to_json_bytes(_round()))
    r = CliRunner().invoke(cli, ["solve", str(tmp_path / "r.json"), "-o", str(tmp_path / "s.json"), "--quiet"])
    assert r.exit_code == 0, r.output
    args = ["propose", str(tmp_path / "r.json"), str(tmp_path / "s.json"), "A", "M2"]
    r = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / "p.json"), "--solved", str(tmp_path / "n.json")])
    assert r.exit_code == 0, r.output
    assert "re-solved with A - M2 pinned" in r.output
    assert json.loads((tmp_path / "p.json").read_text())["outcome"] == "re_solved"
    assert {(p["mentee"], p["mentor"]) for p in json.loads((tmp_path / "n.json").read_text())["partnerships"]} \
        == {("A", "M2"), ("B", "M1")}
    r = CliRunner().invoke(cli, ["propose", str(tmp_path / "r.json"), str(tmp_path / "s.json"), "B", "B"])
    assert r.exit_code == 1 and "cannot be paired with itself" in r.output
