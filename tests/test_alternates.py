"""``solve --alternates K``: each mentee's runner-up mentors, checked against brute force."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from helpers import parse, solve_checked, tiny_instances
from hypothesis import given
from openpyxl import load_workbook

from wopmatch.cli.main import cli
from wopmatch.generator import generate
from wopmatch.solver.verify import independent_pair_table, verify_solution


def _expected_top(inst, solution, k):
    """Brute force: every eligible mentor but the partner, by score desc then instance order."""
    table = independent_pair_table(inst)
    order = [op.id for op in inst.operators if op.mentor is not None]
    partner = {p.mentee: p.mentor for p in solution.partnerships}
    out = {}
    for op in inst.operators:
        if op.mentee is None:
            continue
        cands = [(j, table[(op.id, j)]["score"]) for j in order
                 if table[(op.id, j)]["failed"] is None and j != partner.get(op.id)]
        cands.sort(key=lambda c: (-c[1], order.index(c[0])))
        out[op.id] = [j for j, _ in cands[:k]]
    return out


@pytest.mark.parametrize("policy", ["optimal", "greedy"])
@given(raw=tiny_instances())
def test_alternates_are_the_best_runners_up_with_true_statuses(raw, policy):
    inst = parse(raw)
    s = solve_checked(inst, policy, alternates=2)  # the verifier checks every status
    if s.status == "infeasible":
        return
    assert s.alternates is not None
    listed = {a.mentee: [x.mentor for x in a.alternates] for a in s.alternates}
    assert listed == _expected_top(inst, s, 2)
    if policy == "optimal" and s.status == "optimal":
        unmatched = {u.mentee for u in s.unmatched}
        for a in s.alternates:
            if a.mentee in unmatched:  # else matching it would raise coverage
                assert all(x.status != "available" for x in a.alternates)


def test_the_verifier_rejects_a_wrong_status_or_an_ineligible_alternate():
    inst = parse(generate(40, 10, donors=2, seed=5))
    s = solve_checked(inst, alternates=3)
    entry = next(a for a in s.alternates if any(x.status == "full" for x in a.alternates))
    k = next(n for n, x in enumerate(entry.alternates) if x.status == "full")
    bad_alt = entry.alternates[k].model_copy(update={"status": "available"})
    bad_entry = entry.model_copy(update={"alternates": [*entry.alternates[:k], bad_alt, *entry.alternates[k + 1:]]})
    tampered = s.model_copy(update={"alternates": [bad_entry if a is entry else a for a in s.alternates]})
    assert any("status available, but the matching makes it full" in v for v in verify_solution(inst, tampered))

    table = independent_pair_table(inst)
    mentee = entry.mentee
    ineligible = next(j for (i, j), p in table.items() if i == mentee and p["failed"] is not None)
    fake = bad_alt.model_copy(update={"mentor": ineligible, "score": table[(mentee, ineligible)]["score"],
                                      "cost": table[(mentee, ineligible)]["cost"]})
    tampered = s.model_copy(update={"alternates": [
        entry.model_copy(update={"alternates": [fake]}) if a is entry else a for a in s.alternates]})
    assert any("pair is not eligible" in v for v in verify_solution(inst, tampered))


def test_cli_writes_alternates_to_json_and_the_workbook(tmp_path):
    src = tmp_path / "i.json"
    runner = CliRunner()
    assert runner.invoke(cli, ["generate", "--mentees", "30", "--mentors", "8", "--donors", "2", "--seed", "2",
                               "-o", str(src)]).exit_code == 0
    out = tmp_path / "r.xlsx"
    r = runner.invoke(cli, ["solve", str(src), "-o", str(out), "--alternates", "2", "--quiet"])
    assert r.exit_code == 0, r.output
    sol = json.loads((tmp_path / "r.json").read_text())
    wb = load_workbook(out, read_only=True)
    rows = list(wb["alternates"].iter_rows(min_row=2, values_only=True))
    wb.close()
    assert [(r[0], r[3], r[4], r[8]) for r in rows] == \
        [(a["mentee"], k, x["mentor"], x["status"]) for a in sol["alternates"]
         for k, x in enumerate(a["alternates"], start=1)]
    r = runner.invoke(cli, ["report", str(src), str(tmp_path / "r.json"), "-o", str(tmp_path / "r.html")])
    assert r.exit_code == 0, r.output
    html = (tmp_path / "r.html").read_text()
    first = next(a for a in sol["alternates"] if a["alternates"] and a["mentee"] in
                 {p["mentee"] for p in sol["partnerships"]})
    assert "If the mentor declines" in html and f'{first["alternates"][0]["mentor"]} (' in html
    r = runner.invoke(cli, ["solve", str(src), "-o", str(tmp_path / "plain.json"), "--quiet"])
    assert json.loads((tmp_path / "plain.json").read_text())["alternates"] is None  # only when asked
