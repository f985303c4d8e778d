"""Agreement after the match (docs/rounds.md): the status file, and re-matching a round whose
partnerships were accepted or declined."""

from __future__ import annotations

import math

import pytest
from click.testing import CliRunner
from helpers import brute_force_kept, parse, tiny_instances
from hypothesis import given, settings
from hypothesis import strategies as st

import wopmatch as wm
from wopmatch.cli.main import cli
from wopmatch.generator import generate, to_json_bytes
from wopmatch.models import InputError
from wopmatch.models.status import RoundStatus, StatusEntry, next_status, read_status, status_bytes


@pytest.mark.parametrize("suffix", [".json", ".csv", ".xlsx"])
def test_a_status_file_reads_back_as_written(tmp_path, suffix):
    status = RoundStatus(partnerships=[
        StatusEntry(mentee="A", mentor="M1", donor="D1", status="accepted", note="signed 3 March"),
        StatusEntry(mentee="B", mentor="M2", status="declined"),
        StatusEntry(mentee="C", mentor="M2", status="proposed")])
    path = tmp_path / f"status{suffix}"
    path.write_bytes(status_bytes(status, suffix))
    assert read_status(path) == status


def test_status_problems_are_located_by_row_and_column(tmp_path):
    path = tmp_path / "status.csv"
    path.write_text("mentee,mentor,donor,status\nA,M1,,acepted\nB,M2,,accepted\n\nB,M3,,active\nA,M1,,declined\n"
                    ",M4,,proposed\n")
    with pytest.raises(InputError) as exc:
        read_status(path)
    assert [f"{p.where}: {p.message}" for p in exc.value.problems] == [
        "row 2, column status: must be one of 'proposed', 'accepted', 'declined', 'active' or 'ended', got "
        "'acepted' (one of proposed, accepted, declined, active, ended)",
        "row 7, column mentee: missing: this field is required"]
    path.write_text("mentee,mentor,status\nA,M1,accepted\nB,M2,accepted\nB,M3,active\nA,M1,declined\n")
    with pytest.raises(InputError) as exc:
        read_status(path)
    assert [f"{p.where}: {p.message}" for p in exc.value.problems] == [
        "row 5: the pair A - M1 is listed twice (first at row 2)",
        "partnerships: mentee B has more than one accepted or active partnership"]
    path.write_text("mentee,partner,status\n")
    with pytest.raises(InputError, match="missing column 'mentor'"):
        read_status(path)


def _round(donors: int) -> wm.Instance:
    return parse(generate(60, 18, donors=donors, seed=5))


@pytest.mark.parametrize("donors", [0, 3])
def test_re_matching_keeps_every_accepted_pair_and_never_proposes_a_declined_one_again(donors):
    inst = _round(donors)
    first = wm.solve(inst, agreement=RoundStatus())
    status, new, withdrawn = next_status(RoundStatus(), first)
    assert len(new) == len(first.partnerships) and not withdrawn
    assert {e.status for e in status.partnerships} == {"proposed"}
    answered = []
    for k, e in enumerate(status.partnerships):  # every third accepted, every fourth declined
        answered.append(e.model_copy(update={"status": "accepted" if k % 3 == 0 else "declined" if k % 4 == 1
                                             else "proposed"}))
    status = RoundStatus(partnerships=answered)
    second = wm.solve(inst, agreement=status)
    assert second.verification.ok and wm.verify(inst, second) == []  # the solution records its pins and bans
    pairs = {(p.mentee, p.mentor): p for p in second.partnerships}
    for e in status.partnerships:
        if e.status == "accepted":
            assert pairs[e.mentee, e.mentor].donor == e.donor and pairs[e.mentee, e.mentor].pinned
        if e.status == "declined":
            assert (e.mentee, e.mentor) not in pairs
    after, new, withdrawn = next_status(status, second)
    assert [e for e in after.partnerships if e.status != "proposed"] == sorted(
        (e for e in status.partnerships if e.status != "proposed"), key=lambda e: (e.mentee, e.mentor))
    assert {(e.mentee, e.mentor) for e in after.partnerships if e.status == "proposed"} == \
        {(p.mentee, p.mentor) for p in second.partnerships if not p.pinned}
    a = second.agreement
    assert (len(a.kept), len(a.barred)) == (sum(e.status == "accepted" for e in status.partnerships),
                                            sum(e.status == "declined" for e in status.partnerships))
    assert a.counts["accepted"] == len(a.kept) and a.counts["proposed"] == len(second.partnerships) - len(a.kept)
    assert [(p.mentee, p.mentor) for p in a.withdrawn] == [(e.mentee, e.mentor) for e in withdrawn]
    # a later round fed the same file: the declined pairs are still barred
    third = wm.solve(inst, agreement=after)
    assert not {(e.mentee, e.mentor) for e in after.partnerships if e.status == "declined"} & \
        {(p.mentee, p.mentor) for p in third.partnerships}


def test_with_no_decline_a_re_match_changes_nothing():
    inst = _round(0)
    first = wm.solve(inst, agreement=RoundStatus())
    status, _, _ = next_status(RoundStatus(), first)
    half = RoundStatus(partnerships=[e.model_copy(update={"status": "accepted" if k % 2 else "proposed"})
                                     for k, e in enumerate(status.partnerships)])
    again = wm.solve(inst, agreement=half)
    assert {(p.mentee, p.mentor) for p in again.partnerships} == {(p.mentee, p.mentor) for p in first.partnerships}
    assert not again.agreement.proposed and not again.agreement.withdrawn


@settings(max_examples=40)
@given(raw=tiny_instances(donors=False), data=st.data())
def test_a_re_match_keeps_as_many_waiting_proposals_as_brute_force_can(raw, data):
    """At the round's top coverage, a re-match keeps the most weight of proposals still waiting
    (with a large change penalty: keeping one outweighs any score)."""
    inst = parse(raw)
    first = wm.solve(inst, agreement=RoundStatus())
    if first.status != "optimal" or not first.partnerships:
        return
    status, _, _ = next_status(RoundStatus(), first)
    answers = data.draw(st.lists(st.sampled_from(["proposed", "accepted", "declined"]),
                                 min_size=len(status.partnerships), max_size=len(status.partnerships)))
    status = RoundStatus(partnerships=[e.model_copy(update={"status": a})
                                       for e, a in zip(status.partnerships, answers) if e.mentee not in
                                       {p.mentee for p in inst.pinned}])
    again = wm.solve(inst, agreement=status, change_penalty=1000.0)
    assert again.verification.ok
    pinned = inst.model_copy(update={
        "pinned": [*inst.pinned, *(wm.models.instance.Pinned(mentee=e.mentee, mentor=e.mentor)
                                   for e in status.partnerships if e.status == "accepted")],
        "forbidden": [*inst.forbidden, *(wm.models.instance.Forbidden(mentee=e.mentee, mentor=e.mentor)
                                         for e in status.partnerships if e.status == "declined")]})
    waiting = {(e.mentee, e.mentor) for e in status.partnerships if e.status == "proposed"}
    top, kept = brute_force_kept(parse(pinned.model_dump(mode="json")), waiting)
    weight = {o.id: o.mentee.weight for o in inst.operators if o.mentee}
    assert math.isclose(again.objective.coverage, top, abs_tol=1e-9)
    assert math.isclose(sum(weight[p.mentee] for p in again.partnerships if (p.mentee, p.mentor) in waiting), kept,
                        abs_tol=1e-9)


def test_an_accepted_pair_the_round_forbids_is_a_located_problem():
    inst = _round(0)
    first = wm.solve(inst)
    p = first.partnerships[0]
    raw = inst.model_dump(mode="json")
    raw["forbidden"] = [{"mentee": p.mentee, "mentor": p.mentor}]
    status = RoundStatus(partnerships=[StatusEntry(mentee=p.mentee, mentor=p.mentor, status="accepted"),
                                       StatusEntry(mentee="NOBODY", mentor=p.mentor, status="declined")])
    with pytest.raises(InputError) as exc:
        wm.solve(parse(raw), agreement=status)
    assert [f"{x.where}: {x.message}" for x in exc.value.problems] == [
        f"{p.mentee} - {p.mentor}: accepted, but the round forbids this pair"]


def test_solve_with_status_from_the_command_line(tmp_path):
    rnd, sol, status = tmp_path / "r.json", tmp_path / "s.json", tmp_path / "status.csv"
    rnd.write_bytes(to_json_bytes(generate(60, 18, donors=2, seed=5)))
    run = CliRunner().invoke
    r = run(cli, ["solve", str(rnd), "--status", str(status)])
    assert r.exit_code == 2 and "--status needs -o" in r.output
    r = run(cli, ["solve", str(rnd), "-o", str(sol), "--status", str(status)])
    assert r.exit_code == 0, r.output
    lines = status.read_text().splitlines()
    assert lines[0] == "mentee,mentor,donor,status,note" and all(",proposed," in x for x in lines[1:])
    mentee, mentor = lines[1].split(",")[:2]
    status.write_text("\n".join([lines[0], lines[1].replace("proposed", "declined"),
                                 *(x.replace("proposed", "accepted") for x in lines[2:4]), *lines[4:]]) + "\n")
    r = run(cli, ["solve", str(rnd), "-o", str(sol), "--status", str(status)])
    assert r.exit_code == 0, r.output
    assert "agreement status after this solve" in r.output and "declined" in r.output
    assert f"{mentee},{mentor}," in status.read_text()  # the declined pair stays on record
    assert all(f"{p['mentee']}<-{p['mentor']}" != f"{mentee}<-{mentor}" for p in wm.load_solution(sol).model_dump()[
        "partnerships"])
    r = run(cli, ["verify", str(rnd), str(sol)])
    assert r.exit_code == 0, r.output
    before = status.read_bytes()
    status.write_text(status.read_text().replace("accepted", "acceptd", 1))
    broken = status.read_bytes()
    r = run(cli, ["solve", str(rnd), "-o", str(sol), "--status", str(status)])
    assert r.exit_code == 1 and "acceptd" in r.output and status.read_bytes() == broken != before


def test_the_report_says_what_the_agreement_kept_and_changed(tmp_path):
    inst = _round(0)
    status, _, _ = next_status(RoundStatus(), wm.solve(inst, agreement=RoundStatus()))
    answered = RoundStatus(partnerships=[e.model_copy(update={"status": "declined" if k == 0 else "accepted"
                                                              if k < 4 else "proposed"})
                                         for k, e in enumerate(status.partnerships)])
    s = wm.solve(inst, agreement=answered)
    wm.write(s, tmp_path / "report.html", instance=inst)
    html = (tmp_path / "report.html").read_text()
    assert '<section id="agreement">' in html and "3 accepted" in html
    assert html.count("accepted by both (agreement status)") == 3
    assert html.count("<td>newly proposed</td>") == len(s.agreement.proposed)
    assert html.count("<td>proposal withdrawn</td>") == len(s.agreement.withdrawn)
