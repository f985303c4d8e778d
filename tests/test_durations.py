"""Durations from the issues addressed (issue 21): the rule of docs/format.md §3 in the
solution, recomputed by the verifier, and the fixed rule giving earlier rounds' answers."""

from __future__ import annotations

import math

from helpers import solve_checked, tiny_instances
from hypothesis import given

from wopmatch.generator import generate
from wopmatch.models import parse_instance
from wopmatch.solver import verify_solution


def _rule_months(inst, mentee, mentor) -> tuple[list[str], int]:
    """The rule written out here from docs/format.md §3."""
    c, r = inst.costs, inst.rules
    needs, strengths = mentee.mentee.needs, mentor.mentor.strengths
    issues = [a for a in inst.work_areas
              if needs.get(a, 0) >= c.priority_need and strengths.get(a, 0) >= r.min_strength]
    issues.sort(key=lambda a: (-strengths.get(a, 0), -needs.get(a, 0), inst.work_areas.index(a)))
    if c.duration_rule == "fixed":
        return issues, c.duration_months
    return issues, min(c.max_months, c.months_first_issue + c.months_per_issue * max(0, len(issues) - 1))


@given(tiny_instances())
def test_every_partnership_has_the_issues_and_months_of_the_rule_and_its_cost(raw):
    inst = parse_instance(raw)
    s = solve_checked(inst)  # the verifier recomputes cost, months and issues of every partnership
    ops = {op.id: op for op in inst.operators}
    c = inst.costs
    for p in s.partnerships:
        issues, months = _rule_months(inst, ops[p.mentee], ops[p.mentor])
        assert (p.issues, p.duration_months) == (issues, months)
        trips = c.mentor_visits_per_year * math.ceil(months / 12) + c.mentee_visits
        assert trips * c.trip_fixed + c.base <= p.cost + 0.5  # distance only adds


def test_generated_rounds_discriminate_between_pairs():
    inst = parse_instance(generate(150, 45, donors=3, seed=3))
    s = solve_checked(inst, "greedy")
    months = {p.duration_months for p in s.partnerships}
    assert inst.costs.duration_rule == "issues" and len(months) >= 3 and months <= {12, 18, 24, 30, 36}
    assert len({len(p.issues) for p in s.partnerships}) >= 3
    mentees = [op.mentee for op in inst.operators if op.mentee is not None]
    assert all(2 <= sum(v >= 3 for v in m.needs.values()) <= 3 for m in mentees)  # 2-3 priority needs


def test_the_fixed_rule_gives_the_answers_rounds_had_before():
    raw = generate(60, 20, donors=2, seed=4, needs="legacy")  # a round as wopmatch 0.1 wrote it
    assert "costs" not in raw
    before = solve_checked(parse_instance(raw))
    raw["costs"] = {"duration_rule": "fixed"}
    again = solve_checked(parse_instance(raw))
    assert [(p.mentee, p.mentor, p.donor, p.cost) for p in before.partnerships] == \
        [(p.mentee, p.mentor, p.donor, p.cost) for p in again.partnerships]
    assert {p.duration_months for p in before.partnerships} == {24}
    raw["costs"] = {"duration_rule": "issues"}
    other = solve_checked(parse_instance(raw))
    assert other.objective.cost != before.objective.cost  # the rule changes what pairs cost


def test_the_verifier_rejects_wrong_months_or_issues():
    inst = parse_instance(generate(40, 12, donors=2, seed=5))
    s = solve_checked(inst)
    p = s.partnerships[0]
    wrong = s.model_copy(update={"partnerships": [p.model_copy(update={"duration_months": p.duration_months + 6}),
                                                  *s.partnerships[1:]]})
    assert any("duration_months" in v for v in verify_solution(inst, wrong))
    wrong = s.model_copy(update={"partnerships": [p.model_copy(update={"issues": list(reversed(p.issues)) + ["x"]}),
                                                  *s.partnerships[1:]]})
    assert any("issues" in v for v in verify_solution(inst, wrong))


def test_the_summary_counts_partnerships_by_duration(tmp_path):
    from collections import Counter
    from pathlib import Path

    from click.testing import CliRunner

    from wopmatch.cli.main import cli
    from wopmatch.models import load_solution

    demo = Path(__file__).resolve().parents[1] / "instances" / "demo.json"
    r = CliRunner().invoke(cli, ["solve", str(demo), "-o", str(tmp_path / "s.json")])
    assert r.exit_code == 0, r.output
    months = Counter(p.duration_months for p in load_solution(tmp_path / "s.json").partnerships)
    line = next(x for x in r.output.splitlines() if "months " in x and "(" in x)
    assert ", ".join(f"{k} ({n})" for k, n in sorted(months.items())) in line
    assert "from the issues each addresses" in r.output
