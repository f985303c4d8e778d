"""Successive rounds: --previous carries running partnerships, --keep-stable changes few."""

from __future__ import annotations

import json
import math
from pathlib import Path

from click.testing import CliRunner
from helpers import brute_force_kept, feasible_matchings, parse, solve_checked, tiny_instances
from hypothesis import assume, given
from hypothesis import strategies as st

from wopmatch.cli.main import cli
from wopmatch.generator import generate
from wopmatch.models import load_solution, parse_instance
from wopmatch.models.io import instance_bytes, solution_bytes
from wopmatch.solver import round_changes


def _write(tmp_path: Path, name: str, raw) -> Path:
    path = tmp_path / name
    path.write_bytes(instance_bytes(parse_instance(raw)))
    return path


def _run(*args) -> object:
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_previous_partnerships_are_pinned_with_their_donors_and_changes_reported(tmp_path):
    src = _write(tmp_path, "round.json", generate(60, 15, donors=3, seed=11))
    r = _run("solve", src, "-o", tmp_path / "r1.json", "--quiet")
    assert r.exit_code == 0, r.output
    first = load_solution(tmp_path / "r1.json")
    ended = first.partnerships[0].mentee
    r = _run("solve", src, "-o", tmp_path / "r2.json", "--previous", tmp_path / "r1.json", "--ended", ended,
             "--forbid-repeat")
    assert r.exit_code == 0, r.output
    assert "not carried" in r.output and ended in r.output
    second = load_solution(tmp_path / "r2.json")
    now = {p.mentee: p for p in second.partnerships}
    for p in first.partnerships:
        if p.mentee == ended:
            assert now.get(p.mentee) is None or now[p.mentee].mentor != p.mentor  # forbidden to repeat
        else:  # carried: same mentor, same donor, pinned
            assert (now[p.mentee].mentor, now[p.mentee].donor, now[p.mentee].pinned) == (p.mentor, p.donor, True)
    assert second.round is not None and second.round.carried == len(first.partnerships) - 1
    assert second.round.changes == round_changes(first, second, [ended])
    assert next(c for c in second.round.changes if c.mentee == ended).change in ("new", "ended")
    assert {c.change for c in second.round.changes if c.mentee != ended} <= {"kept", "new"}
    # verify (and report) rebuild the carried round; without --previous they say what is missing
    r = _run("verify", src, tmp_path / "r2.json")
    assert r.exit_code == 1 and "--previous" in r.output
    r = _run("verify", src, tmp_path / "r2.json", "--previous", tmp_path / "r1.json")
    assert r.exit_code == 0, r.output
    r = _run("report", src, tmp_path / "r2.json", "--previous", tmp_path / "r1.json", "-o", tmp_path / "r.html")
    assert r.exit_code == 0, r.output
    html = (tmp_path / "r.html").read_text()
    assert 'id="changes"' in html and f"{len(first.partnerships) - 1} running partnership(s) carried" in html


def test_verify_rejects_another_previous_solution_or_edited_changes(tmp_path):
    src = _write(tmp_path, "round.json", generate(40, 10, seed=12))
    assert _run("solve", src, "-o", tmp_path / "r1.json", "--quiet").exit_code == 0
    assert _run("solve", src, "-o", tmp_path / "r1b.json", "--quiet", "--seed", "3").exit_code == 0
    assert _run("solve", src, "-o", tmp_path / "r2.json", "--quiet", "--previous", tmp_path / "r1.json",
                "--keep-stable").exit_code == 0
    other = tmp_path / "r1c.json"  # same partnerships, different bytes
    other.write_bytes((tmp_path / "r1.json").read_bytes() + b"\n")
    r = _run("verify", src, tmp_path / "r2.json", "--previous", other)
    assert r.exit_code == 1 and "sha256 differs" in r.output
    sol = load_solution(tmp_path / "r2.json")
    edited = sol.model_copy(update={"round": sol.round.model_copy(update={"changes": sol.round.changes[1:]})})
    (tmp_path / "r2e.json").write_bytes(solution_bytes(edited))
    r = _run("verify", src, tmp_path / "r2e.json", "--previous", tmp_path / "r1.json")
    assert r.exit_code == 1 and "changes recorded differ" in r.output


def test_keep_stable_after_a_mentor_drops_out_moves_only_its_mentees(tmp_path):
    raw = generate(80, 20, seed=13)
    src = _write(tmp_path, "round.json", raw)
    assert _run("solve", src, "-o", tmp_path / "r1.json", "--quiet").exit_code == 0
    first = load_solution(tmp_path / "r1.json")
    gone = first.partnerships[0].mentor  # this mentor leaves: it takes no mentee this round
    for op in raw["operators"]:
        if op["id"] == gone:
            op["mentor"]["capacity"] = 0
    src2 = _write(tmp_path, "round2.json", raw)
    r = _run("solve", src2, "-o", tmp_path / "stable.json", "--previous", tmp_path / "r1.json", "--keep-stable",
             "--change-penalty", "1000")
    assert r.exit_code == 0, r.output
    stable = load_solution(tmp_path / "stable.json")
    assert _run("solve", src2, "-o", tmp_path / "fresh.json", "--quiet").exit_code == 0
    fresh = load_solution(tmp_path / "fresh.json")
    assert math.isclose(stable.objective.coverage, fresh.objective.coverage)  # coverage still comes first
    moved_or_ended = {c.mentee for c in stable.round.changes if c.change in ("moved", "ended")}
    of_gone = {p.mentee for p in first.partnerships if p.mentor == gone}
    changes_fresh = {c.mentee for c in round_changes(first, fresh) if c.change in ("moved", "ended")}
    assert of_gone <= moved_or_ended and len(moved_or_ended) <= len(changes_fresh)
    assert stable.bound.quality is None and "keep-stable" in stable.message
    assert stable.stats.method.endswith("+keep-stable")


@given(raw=tiny_instances(donors=False), data=st.data())
def test_keep_stable_keeps_the_most_it_can_at_maximum_coverage(raw, data):
    inst = parse(raw)
    matchings = list(feasible_matchings(inst))
    assume(matchings)
    earlier = data.draw(st.sampled_from(matchings))  # any earlier matching, often not an optimal one
    prefer = [(me, mo) for me, mo, *_ in earlier if me not in {p.mentee for p in inst.pinned}]
    s = solve_checked(inst, prefer=prefer, change_penalty=1000.0)
    expected = brute_force_kept(inst, set(prefer))
    ops = {o.id: o for o in inst.operators}
    kept = sum(ops[p.mentee].mentee.weight for p in s.partnerships if (p.mentee, p.mentor) in set(prefer))
    assert math.isclose(s.objective.coverage, expected[0], abs_tol=1e-9)
    assert math.isclose(kept, expected[1], abs_tol=1e-9)


def test_round_options_without_previous_are_a_usage_error_and_unknown_ended_is_named(tmp_path):
    src = _write(tmp_path, "round.json", generate(20, 5, seed=14))
    r = _run("solve", src, "-o", tmp_path / "s.json", "--keep-stable")
    assert r.exit_code == 2 and "need --previous" in r.output
    assert _run("solve", src, "-o", tmp_path / "r1.json", "--quiet").exit_code == 0
    out = tmp_path / "r2.json"
    r = _run("solve", src, "-o", out, "--previous", tmp_path / "r1.json", "--ended", "NOBODY")
    assert r.exit_code == 1 and "'NOBODY' has no partnership in the previous round" in r.output
    assert not out.exists()
    sol = json.loads((tmp_path / "r1.json").read_text())
    assert sol["round"] is None


def test_a_carried_round_that_overruns_a_capacity_says_how_to_let_partnerships_go(tmp_path):
    raw = generate(20, 5, seed=4)
    src = _write(tmp_path, "r1.json", raw)
    assert _run("solve", src, "-o", tmp_path / "r1s.json", "--quiet").exit_code == 0
    first = load_solution(tmp_path / "r1s.json")
    mentor = max({p.mentor for p in first.partnerships}, key=lambda m: sum(p.mentor == m for p in first.partnerships))
    for op in raw["operators"]:  # the next round: that mentor has one place fewer than it has partners
        if op["id"] == mentor:
            op["mentor"]["capacity"] = sum(p.mentor == mentor for p in first.partnerships) - 1
    src2 = _write(tmp_path, "r2.json", raw)
    r = _run("solve", src2, "-o", tmp_path / "r2s.json", "--previous", tmp_path / "r1s.json")
    assert r.exit_code == 1 and f"mentor {mentor}" in r.output and "--keep-stable" in r.output \
        and "--ended MENTEE" in r.output, r.output
    assert "ended:" not in r.output  # no matching was made, so no partnership is said to have ended
    r = _run("solve", src2, "-o", tmp_path / "r2s.json", "--previous", tmp_path / "r1s.json", "--keep-stable",
             "--quiet")
    assert r.exit_code == 0, r.output
