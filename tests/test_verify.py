"""The verifier accepts what the solver returns and rejects deliberate breakage."""

from __future__ import annotations

import pytest
from helpers import op, parse, solve_checked, tiny_instances
from hypothesis import assume, given
from hypothesis import strategies as st

from wopmatch.models.solution import Partnership, Unmatched
from wopmatch.solver.verify import verify_solution


def _instance(donors=True):
    raw = {"operators": [
        op("M1", mentor={"capacity": 1, "strengths": {"septage": 5}}),
        op("M2", region="africa", country="KE", mentor={"capacity": 1, "strengths": {"regulation": 4}}),
        op("A", mentee={"needs": {"septage": 4}}),
        op("B", mentee={"needs": {"septage": 3, "regulation": 2}}),
        op("C", languages=("fr",), mentee={"needs": {"septage": 5}}),
    ], "donors": [{"id": "D", "budget": 100_000, "max_partnerships": 2}] if donors else []}
    return parse(raw)


def _with(s, **changes):
    return s.model_copy(update=changes)


def _part(s, t, **changes):
    parts = list(s.partnerships)
    parts[t] = parts[t].model_copy(update=changes)
    return _with(s, partnerships=parts)


@pytest.fixture
def solved():
    inst = _instance()
    s = solve_checked(inst)
    assert len(s.partnerships) == 2
    return inst, s


MUTATIONS = {
    "duplicate mentee": lambda s: _with(s, partnerships=[s.partnerships[0], s.partnerships[0]]),
    "wrong score": lambda s: _part(s, 0, score=s.partnerships[0].score + 0.01),
    "wrong cost": lambda s: _part(s, 0, cost=s.partnerships[0].cost + 1),
    "wrong focus": lambda s: _part(s, 0, focus=["regulation"]),
    "unknown donor": lambda s: _part(s, 0, donor="NOPE"),
    "missing donor": lambda s: _part(s, 0, donor=None),
    "fake pinned": lambda s: _part(s, 0, pinned=True),
    "self pair": lambda s: _part(s, 0, mentor=s.partnerships[0].mentee),
    "ineligible pair": lambda s: _with(s, partnerships=[*s.partnerships, Partnership(
        mentee="C", mentor="M1", donor="D", score=1.0, cost=31250, focus=["septage"])],
        unmatched=[]),
    "wrong objective": lambda s: _with(s, objective=s.objective.model_copy(update={"cost": 1})),
    "bound below objective": lambda s: _with(s, bound=s.bound.model_copy(update={"coverage": 0.5})),
    "unmatched omitted": lambda s: _with(s, unmatched=[]),
    "unmatched duplicated": lambda s: _with(s, unmatched=[*s.unmatched, s.unmatched[0]]),
    "wrong reason": lambda s: _with(s, unmatched=[Unmatched(mentee="C", reason="capacity", detail="")]),
    "donor tally": lambda s: _with(s, donors=[s.donors[0].model_copy(update={"committed": 5})]),
    "claimed infeasible": lambda s: _with(s, status="infeasible", partnerships=[], objective=None),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_verifier_rejects_broken_solution(solved, name):
    inst, s = solved
    assert verify_solution(inst, s) == []
    broken = MUTATIONS[name](s)
    assert verify_solution(inst, broken), name


def test_verifier_rejects_over_capacity_and_over_budget():
    inst = parse({"operators": [
        op("M1", mentor={"capacity": 1, "strengths": {"septage": 5}}),
        op("A", mentee={"needs": {"septage": 4}}),
        op("B", mentee={"needs": {"septage": 4}}),
    ], "donors": [{"id": "D", "budget": 40_000}]})
    s = solve_checked(inst)
    assert len(s.partnerships) == 1
    p = s.partnerships[0]
    other = "B" if p.mentee == "A" else "A"
    both = _with(s, partnerships=sorted([p, p.model_copy(update={"mentee": other})], key=lambda x: x.mentee),
                 unmatched=[])
    problems = " ".join(verify_solution(inst, both))
    assert "exceed capacity 1" in problems
    assert "exceeds budget 40000" in problems


def test_verifier_checks_the_instance_hash(solved):
    inst, s = solved
    assert verify_solution(inst, s, sha256="0" * 64) == []
    assert "does not match" in verify_solution(inst, s, sha256="1" * 64)[0]


@given(tiny_instances(), st.integers(0, 3))
def test_verifier_rejects_a_dropped_partnership(raw, k):
    inst = parse(raw)
    s = solve_checked(inst)
    assume(s.partnerships)
    dropped = list(s.partnerships)
    dropped.pop(k % len(dropped))
    assert verify_solution(inst, _with(s, partnerships=dropped))
