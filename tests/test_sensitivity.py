"""wopmatch sensitivity: every figure re-solved, and re-checked here independently
(issue: donor scenarios, item 3)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from helpers import parse, solve_checked

from wopmatch.cli.main import cli
from wopmatch.generator import generate
from wopmatch.models.scenarios import Scenario, apply_changes
from wopmatch.scenarios.sensitivity import Sensitivity, analyse, cheapest_first


def _matched(inst, mentee: str, policy: str) -> bool:
    s = solve_checked(inst, policy, node_limit=10_000)
    return any(p.mentee == mentee for p in s.partnerships)


@pytest.fixture(scope="module")
def donor_case(tmp_path_factory):
    # budget, capacity, donor rules, language
    inst = parse(generate(45, 10, donors=2, seed=17, tightness=0.3, needs="legacy"))
    sol = solve_checked(inst, "optimal", node_limit=10_000)
    res = analyse(inst, "0" * 64, sol, workers=2, dask=None, outdir=tmp_path_factory.mktemp("sens"))
    return inst, sol, res


def test_changes_are_tried_cheapest_first_until_one_matches_the_mentee(donor_case):
    inst, sol, res = donor_case
    assert {n.mentee for n in res.mentees} == {u.mentee for u in sol.unmatched}
    kinds = {p.kind for n in res.mentees for p in n.proposals}
    assert {"place", "donor_rule", "rule"} <= kinds
    checked = skipped = 0
    for n in res.mentees:
        order = cheapest_first(n.proposals)
        ran = [n.proposals[k].matched is not None for k in order]
        # re-solved in order until the first that works, and none after it
        assert ran == sorted(ran, reverse=True) and ran[0]
        first = next((i for i, k in enumerate(order) if n.proposals[k].matched), None)
        assert sum(ran) == (len(order) if first is None else first + 1)
        skipped += len(order) - sum(ran)
        for p in n.proposals:
            changed = apply_changes(inst, Scenario.model_validate({"name": "x", "changes": [p.change]}), "x")
            if p.matched is not None and checked < 6:  # an independent solve agrees, both ways
                assert _matched(changed, n.mentee, "optimal") == p.matched
                checked += 1
        if n.cheapest is not None:
            best = n.proposals[n.cheapest]
            assert best.matched and n.cheapest == order[first]
            assert n.verdict == f"{best.text}: then matched with {best.partner}"
        else:
            assert not any(p.matched for p in n.proposals)
    assert checked > 0 and skipped > 0  # some mentee had a cheaper change work, and the rest were not run


def test_marginal_values_match_independent_solves(donor_case):
    inst, sol, res = donor_case
    base = solve_checked(inst, "optimal", node_limit=10_000).objective
    assert res.base.coverage == base.coverage
    for v in res.donors:
        assert v.delta is not None and v.step > 0
        changed = apply_changes(inst, Scenario.model_validate(
            {"name": "x", "changes": [{"op": "set_budget", "donor": v.donor, "budget": v.budget + v.step}]}), "x")
        again = solve_checked(changed, "optimal", node_limit=10_000).objective
        assert v.delta.coverage == pytest.approx(again.coverage - base.coverage)
        assert v.coverage_per_unit == pytest.approx(v.delta.coverage / v.step)
    loads = {}
    for p in sol.partnerships:
        loads[p.mentor] = loads.get(p.mentor, 0) + 1
    for m in res.mentors:
        assert (m.delta is not None) == (loads.get(m.mentor, 0) >= m.capacity)


def test_budget_free_places_never_lose_coverage():
    inst = parse(generate(40, 8, seed=13))
    sol = solve_checked(inst, "optimal")
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        res = analyse(inst, "0" * 64, sol, workers=2, dask=None, outdir=Path(tmp))
    full = [m for m in res.mentors if m.delta is not None]
    assert full and all(m.delta.coverage >= 0 for m in full)  # more capacity never hurts the flow optimum
    assert all("worth nothing without donors" in m.label for m in res.mentors if m.delta is None)
    assert not res.donors


def test_cli_writes_json_and_refuses_a_solution_of_another_instance(tmp_path):
    raw = generate(25, 6, donors=2, seed=14, tightness=0.3)
    inst_path = tmp_path / "round.json"
    inst_path.write_text(json.dumps(raw))
    runner = CliRunner()
    r = runner.invoke(cli, ["solve", str(inst_path), "-o", str(tmp_path / "s.json"), "--quiet"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["sensitivity", str(inst_path), str(tmp_path / "s.json"), "-o", str(tmp_path / "x.json"),
                            "--workers", "1", "--quiet"])
    assert r.exit_code == 0, r.output
    assert "None" not in r.output and "re-solves in" in r.output
    res = Sensitivity.model_validate_json((tmp_path / "x.json").read_text())
    assert res.resolves >= 1 + len(raw["donors"])
    other = tmp_path / "other.json"
    other.write_text(json.dumps(generate(25, 6, donors=2, seed=15)))
    r = runner.invoke(cli, ["sensitivity", str(other), str(tmp_path / "s.json")])
    assert r.exit_code == 1 and "violation" in r.output


def test_a_change_asked_twice_is_solved_once(donor_case):
    import json as _json

    inst, sol, res = donor_case
    asked = [_json.dumps(p.change, sort_keys=True) for n in res.mentees for p in n.proposals if p.matched is not None]
    repeated = {c for c in asked if asked.count(c) > 1}
    assert repeated  # this round asks for the language rule for several mentees
    paired = [_json.dumps([p.change, p.then], sort_keys=True) for n in res.mentees for p in n.pairs]
    places = [_json.dumps({"op": "mentor_capacity", "operator": m.mentor, "capacity": m.capacity + 1}, sort_keys=True)
              for m in res.mentors if m.delta is not None]
    # the solution is a proven optimum: the unchanged round is not re-solved
    assert res.base_from == "solution" and res.base.coverage == sol.objective.coverage
    distinct = len(set(places) | set(asked)) + len(res.donors) + len(set(paired))
    # exactly the distinct changes (a place asked for a mentor and for a mentee counts once)
    assert res.resolves == distinct < len(places) + len(res.donors) + len(asked) + len(paired)
    for change in repeated:  # one answer serves every mentee that asked for it
        deltas = {(p.delta.coverage, p.delta.cost) for n in res.mentees for p in n.proposals
                  if p.matched is not None and _json.dumps(p.change, sort_keys=True) == change}
        assert len(deltas) == 1


def test_where_no_single_change_works_pairs_along_its_reasons_are_tried(donor_case):
    inst, sol, res = donor_case
    worked = 0
    for n in res.mentees:
        if n.cheapest is not None or not n.proposals:
            assert not n.pairs  # pairs only where every single change failed
            continue
        for p in n.pairs:
            assert p.matched is not None  # every pair was re-solved
            changes = [p.change] + ([p.then] if p.then else [])
            changed = apply_changes(inst, Scenario.model_validate({"name": "x", "changes": changes}), "x")
            if p.matched and worked < 3:  # an independent solve agrees
                assert _matched(changed, n.mentee, "optimal")
                worked += 1
        if n.cheapest_pair is not None:
            best = n.pairs[n.cheapest_pair]
            assert best.matched and n.verdict == f"{best.text}: then matched with {best.partner}"
            assert n.cheapest_pair == len(n.pairs) - 1  # the pairs stop at the first that works
        else:
            assert n.verdict.startswith("no change tried works") and not any(p.matched for p in n.pairs)
    # this round has both kinds: a second place at the same mentor (one larger change) and a
    # rule of the round relaxed, then a donor's rule
    assert worked >= 2
    assert any(p.then is None and "2 more places" in p.text for n in res.mentees for p in n.pairs if p.matched)
    assert any(p.then is not None for n in res.mentees for p in n.pairs if p.matched)


def test_a_mentee_no_change_of_the_round_can_match_is_told_so(tmp_path):
    raw = generate(12, 4, seed=3)
    lonely = dict(raw["operators"][0], id="ZZ-000099", country="ZA", region="sub-saharan-africa")
    lonely["mentee"] = {"needs": {"septage": 5}, "weight": 1.0}
    lonely.pop("mentor", None)
    for op in raw["operators"]:  # nobody mentors septage
        if op.get("mentor"):
            op["mentor"]["strengths"]["septage"] = 0
    raw["operators"].append(lonely)
    inst = parse(raw)
    sol = solve_checked(inst, "optimal")
    reason = next(u.reason for u in sol.unmatched if u.mentee == "ZZ-000099")
    assert reason == "no_mentor_strength"
    res = analyse(inst, "0" * 64, sol, workers=1, dask=None, outdir=tmp_path)
    need = next(n for n in res.mentees if n.mentee == "ZZ-000099")
    assert need.proposals == [] and need.pairs == []
    assert need.verdict == "nothing within the round can match it: no mentor in the round is strong in an area it needs"


def test_the_sensitivity_tables_fit_80_columns_without_cutting(donor_case):
    from rich.console import Console

    from wopmatch.scenarios.cli import _print_sensitivity

    _, _, res = donor_case
    console = Console(width=80, record=True, color_system=None)
    _print_sensitivity(console, res)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80 and "…" not in text
    for n in res.mentees:  # every mentee id whole, and every verdict's words there
        assert n.mentee in text
        assert all(word in text for word in n.verdict.split()[:3])


def test_each_row_names_the_partner_its_change_got_and_money_reads_per_round_amount(donor_case):
    from rich.console import Console

    from wopmatch.scenarios.cli import _print_sensitivity, per_money

    _, _, res = donor_case
    console = Console(width=80, record=True, color_system=None)
    _print_sensitivity(console, res)
    text = console.export_text()
    lines = text[text.index("what would it take"):].splitlines()
    for n in res.mentees:
        row = next(line for line in lines if line.startswith(f"│ {n.mentee} "))
        best = n.proposals[n.cheapest] if n.cheapest is not None else \
            n.pairs[n.cheapest_pair] if n.cheapest_pair is not None else None
        # the "matched with" cell is the partner of the re-solve whose change is shown
        assert row.split("│")[4].strip() == (best.partner if best else "-")
    assert f"{per_money(res.donors[0].step):,} USD" in text  # the per-money column
    assert all(len(line) <= 80 for line in text.splitlines())
    assert [per_money(x) for x in (1, 9, 10, 29_998, 100_000, 999_999)] == [1, 1, 10, 10_000, 100_000, 100_000]


def test_two_changes_of_one_donor_read_as_one_larger_change():
    from wopmatch.models.sensitivity import Proposal
    from wopmatch.scenarios.sensitivity import _joint

    inst = parse(generate(12, 4, donors=2, seed=3))
    d = inst.donors[0]
    inst = inst.model_copy(update={"donors": [d.model_copy(update={"max_partnerships": 11}), *inst.donors[1:]]})
    one = Proposal(kind="donor_rule", text=f"{d.id} funds 12 partnerships instead of 11", why="for A with B",
                   change={"op": "donor_rules", "donor": d.id, "max_partnerships": 12})
    two = Proposal(kind="donor_rule", text=f"{d.id} funds 13 partnerships instead of 12", why="for A with C",
                   change={"op": "donor_rules", "donor": d.id, "max_partnerships": 13})
    both = _joint(inst, one, two)
    assert both.text == f"{d.id} funds 13 partnerships instead of 11" and both.then is None
    money = _joint(inst, Proposal(kind="budget", amount=100, text="x", change={"op": "set_budget", "donor": d.id,
                                                                               "budget": 1}),
                   Proposal(kind="budget", amount=250, text="y", change={"op": "set_budget", "donor": d.id,
                                                                         "budget": 2}))
    assert money.text == f"350 more for {d.id}" and money.amount == 350 and money.then is None


def test_a_solution_that_is_not_a_proven_optimum_is_compared_with_a_re_solve(tmp_path):
    inst = parse(generate(20, 5, donors=2, seed=5, tightness=0.3))
    sol = solve_checked(inst, "greedy")
    res = analyse(inst, "0" * 64, sol, workers=1, dask=None, outdir=tmp_path, max_resolves=3)
    again = solve_checked(inst, "greedy").objective
    assert res.base_from == "re-solved" and res.base.coverage == again.coverage and res.resolves <= 3
    assert (tmp_path / "instances" / "base.json").exists()
    # --max-resolves spent on the round, the mentors and the donors: the mentees left out say so
    left = [n for n in res.mentees if n.proposals and all(p.matched is None for p in n.proposals)]
    assert left and all(n.verdict.startswith("not re-solved") and "--max-resolves" in n.verdict for n in left)


def test_the_answers_do_not_depend_on_which_re_solve_finished_first(tmp_path):
    inst = parse(generate(30, 8, donors=2, seed=3))
    sol = solve_checked(inst, "optimal")
    one = analyse(inst, "0" * 64, sol, workers=1, dask=None, outdir=tmp_path / "one")
    two = analyse(inst, "0" * 64, sol, workers=2, dask=None, outdir=tmp_path / "two")
    assert one.resolves > 2 and one.model_dump(exclude={"seconds"}) == two.model_dump(exclude={"seconds"})
    # each re-solve is named after its change alone, so both runs kept the same files
    assert sorted(p.name for p in (tmp_path / "one" / "solutions").iterdir()) == \
        sorted(p.name for p in (tmp_path / "two" / "solutions").iterdir())
