"""wopmatch diff: what changed between two solutions (issue: donor scenarios, item 4)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from helpers import parse, solve_checked

from wopmatch.cli.main import cli
from wopmatch.generator import generate
from wopmatch.models.diff import SolutionDiff, diff_solutions, solution_figures


@pytest.fixture(scope="module")
def pair():
    raw = generate(120, 30, donors=3, seed=41)
    inst = parse(raw)
    a = solve_checked(inst, "optimal", time_limit=5)
    b = solve_checked(inst, "greedy")
    return raw, a, b


def test_a_solution_against_itself_has_no_change(pair):
    _, a, _ = pair
    d = diff_solutions(a, a)
    assert d.same_instance
    assert not (d.added or d.removed or d.changed or d.newly_matched or d.newly_unmatched or d.figures)
    assert d.unchanged == len(a.partnerships)


def test_every_partnership_and_mentee_is_accounted_for(pair):
    _, a, b = pair
    d = diff_solutions(a, b)
    assert len(d.added) + len(d.changed) + d.unchanged == len(b.partnerships)
    assert len(d.removed) + len(d.changed) + d.unchanged == len(a.partnerships)
    matched_a = {p.mentee for p in a.partnerships}
    matched_b = {p.mentee for p in b.partnerships}
    assert {u.mentee for u in d.newly_unmatched} == matched_a - matched_b
    assert {m.mentee for m in d.newly_matched} == matched_b - matched_a
    assert all(m.reason_before is not None for m in d.newly_matched)  # same instance: A explains each
    for c in d.changed:
        assert (c.mentor_before, c.donor_before) != (c.mentor_after, c.donor_after)
    fig = {f.name: f for f in d.figures}
    assert fig["objective.coverage"].change == pytest.approx(b.objective.coverage - a.objective.coverage)
    # only figures that differ are listed, and every one that differs is
    fa, fb = solution_figures(a), solution_figures(b)
    assert set(fig) == {k for k in fa.keys() | fb.keys() if fa.get(k) != fb.get(k)}
    assert d.figures[0].name.startswith("objective.")


def test_cli_prints_writes_json_and_refuses_bad_input(pair, tmp_path):
    raw, a, b = pair
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    pa.write_text(a.model_dump_json())
    pb.write_text(b.model_dump_json())
    runner = CliRunner()
    r = runner.invoke(cli, ["diff", str(pa), str(pb), "-o", str(tmp_path / "d.json"), "--rows", "3"])
    assert r.exit_code == 0, r.output
    assert "partnerships:" in r.output and "objective.coverage" in r.output
    d = SolutionDiff.model_validate(json.loads((tmp_path / "d.json").read_text()))
    assert d == diff_solutions(a, b)
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "wopmatch.solution/1", "policy": 3}')
    r = runner.invoke(cli, ["diff", str(pa), str(bad)])
    assert r.exit_code == 1 and "bad.json" in r.output and "Traceback" not in r.output
    r = runner.invoke(cli, ["diff", str(pa), str(pb), "-o", str(pa)])
    assert r.exit_code == 1 and "is the input" in r.output
    assert json.loads(pa.read_text())["policy"] == a.policy  # not overwritten


def test_solutions_of_different_instances(pair):
    raw, a, _ = pair
    raw2 = json.loads(json.dumps(raw))
    for d in raw2["donors"]:
        d["budget"] *= 2
    c = solve_checked(parse(raw2), "greedy")
    c = c.model_copy(update={"instance": c.instance.model_copy(update={"sha256": "1" * 64})})  # as the CLI sets it
    d = diff_solutions(a, c)
    assert not d.same_instance
    budgets = {f.name: f for f in d.figures if f.name.endswith(".budget")}
    assert len(budgets) == len(raw["donors"]) and all(f.after == 2 * f.before for f in budgets.values())
