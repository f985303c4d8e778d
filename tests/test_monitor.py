"""Monitoring (issue 31, item 2): the progress workbook, the rules that grade each partnership
against its work plan (hand-computed cases), synthetic progress, located problems, the command
line and the report in headless Chromium."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import openpyxl
import pytest
from browser import needs_browser, offline_page
from click.testing import CliRunner

import wopmatch as wm
from wopmatch.cli.main import cli
from wopmatch.models import InputError, load_instance
from wopmatch.models.progress import IndicatorValue, MilestoneDone, PeriodReport, Progress, read_progress_workbook
from wopmatch.reports.monitor import (
    RULES,
    STATUSES,
    grade,
    indicator_ratio,
    monitor,
    planned_activities,
    planned_spend,
    progress_workbook,
    synthetic_progress,
)
from wopmatch.reports.plans import plans

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "instances" / "demo.json"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("monitor")
    inst = load_instance(DEMO).instance
    sol = wm.solve(inst, policy="greedy")
    wm.write(sol, tmp / "s.json")
    return tmp, inst, sol, {pl.partnership.mentee: pl for pl in plans(inst, sol)}


def test_grades_at_and_around_every_threshold():
    assert [grade("indicators", x) for x in (1.0, 0.75, 0.7499, 0.4, 0.3999)] == \
        ["on track", "on track", "at risk", "at risk", "off track"]
    assert [grade("activities", x) for x in (0.75, 0.74, 0.5, 0.49)] == ["on track", "at risk", "at risk", "off track"]
    assert [grade("spending", x) for x in (0.0, 0.25, 0.26, 0.5, 0.51)] == \
        ["on track", "on track", "at risk", "at risk", "off track"]
    assert [grade("milestones", n) for n in (0, 1, 2, 5)] == ["on track", "at risk", "off track", "off track"]
    assert [grade("reporting", n) for n in (0, 1, 2)] == ["on track", "at risk", "off track"]
    assert set(RULES) == {"indicators", "activities", "spending", "milestones", "reporting"}


def test_indicator_progress_against_the_straight_line_by_hand():
    from wopmatch.models.outcomes import INDICATORS

    nrw, hours = INDICATORS["nrw_pct"], INDICATORS["supply_hours"]
    # NRW 40 -> 30 over 24 months; at month 12 the line says 35
    assert indicator_ratio(nrw, 40, 30, 35, 12, 24) == pytest.approx(1.0)
    assert indicator_ratio(nrw, 40, 30, 37.5, 12, 24) == pytest.approx(0.5)
    assert indicator_ratio(nrw, 40, 30, 42, 12, 24) == pytest.approx(-0.4)  # worse than the baseline
    assert indicator_ratio(nrw, 40, 30, 10, 6, 24) == 2.0  # capped
    assert indicator_ratio(hours, 24, 24, 24, 6, 12) == 1.0 and indicator_ratio(hours, 24, 24, 23, 6, 12) == 0.0


def _case(plan, period, *, pace=1.0, spend=1.0, values_at=1.0, milestones_done=True, report=True):
    """Progress of one partnership at ``period``, ``pace`` x the plan's activities, ``spend`` x its
    cash, its indicators ``values_at`` x the way along the line, its milestones done or not."""
    me = plan.partnership.mentee
    end = min(period * 6, plan.months)
    out = Progress()
    if report:
        out = Progress(
            periods=[PeriodReport(mentee=me, period=period, activities_done=round(planned_activities(plan, end) * pace),
                                  spent=round(planned_spend(plan, end) * spend))],
            indicators=[IndicatorValue(mentee=me, period=period, indicator=t.indicator.id,
                                       value=t.baseline + values_at * (t.value - t.baseline) * end / plan.months)
                        for o in plan.objectives for t in o.targets],
            milestones=[MilestoneDone(mentee=me, month=s.first, milestone=s.activity, done=milestones_done)
                        for s in plan.steps if s.kind == "milestone" and s.first <= end])
    return out


def _merge(*parts: Progress) -> Progress:
    return Progress(periods=[x for p in parts for x in p.periods], indicators=[x for p in parts for x in p.indicators],
                    milestones=[x for p in parts for x in p.milestones])


def test_hand_computed_partnerships_get_the_status_the_rules_give(demo):
    tmp, inst, sol, found = demo
    longest = sorted(found.values(), key=lambda pl: (-pl.months, pl.partnership.mentee))
    a, b, c, d, e, f = longest[:6]
    assert a.months >= 18 and f.months >= 12
    progress = _merge(
        _case(a, 2),  # on the plan in every way
        _case(b, 2, pace=0.6),  # activities 0.6 of the plan: at risk
        _case(c, 2, spend=1.4),  # 40% over the planned cash: at risk
        _case(d, 2, values_at=0.3),  # indicators at 30% of the line: off track
        _case(e, 1),  # a period behind the others: at risk
        _case(f, 2, milestones_done=False),  # kick-off and the month-6 report (at least) overdue: off track
    )
    m = monitor(inst, sol, progress)
    got = {p.mentee: p for p in m.partnerships}
    assert m.period == 2
    want = [(a, "on track"), (b, "at risk"), (c, "at risk"), (d, "off track"), (e, "at risk"), (f, "off track")]
    for plan, status in want:
        p = got[plan.partnership.mentee]
        assert p.status == status, (p.mentee, p.status, p.reasons)
    assert got[b.partnership.mentee].reasons[0].startswith(f"{round(planned_activities(b, 12) * 0.6)} of ")
    assert "spent against" in got[c.partnership.mentee].reasons[0]
    assert got[e.partnership.mentee].period == 1 and "period 1" in got[e.partnership.mentee].reasons[0]
    assert len(got[f.partnership.mentee].overdue) >= 2
    assert got[a.partnership.mentee].reasons == [] and got[a.partnership.mentee].indicator_progress == pytest.approx(1)
    # everybody else never reported: off track, and counted so
    silent = [p for p in m.partnerships if p.mentee not in {pl.partnership.mentee for pl, _ in want}]
    assert silent and all(p.status == "off track" and p.reasons == ["no progress reported"] for p in silent)
    assert m.counts == {s: sum(1 for p in m.partnerships if p.status == s) for s in STATUSES}
    assert sum(sum(d.counts.values()) for d in m.donors) == len(sol.partnerships)


def test_a_generated_workbook_reads_back_and_every_partnership_is_graded_by_the_rules(demo, tmp_path):
    tmp, inst, sol, found = demo
    filled = synthetic_progress(inst, sol, 18, seed=4)
    assert synthetic_progress(inst, sol, 18, seed=4) == filled  # same seed, same progress
    path = tmp_path / "progress.xlsx"
    path.write_bytes(progress_workbook(inst, sol, filled))
    read = read_progress_workbook(io.BytesIO(path.read_bytes()), str(path))
    assert read.progress == filled
    m = monitor(inst, sol, read)
    assert len(m.partnerships) == len(sol.partnerships) and m.period == 3
    assert set(m.counts.values()) != {0} and min(m.counts.values()) >= 0
    seen = set()
    for p in m.partnerships:
        names = [c.name for c in p.checks]
        if p.period is None:
            assert names == ["reporting"] and p.status == "off track"
            continue
        assert sorted(names) == sorted(RULES)
        for c in p.checks:  # each grade from its figure by the rules; a missing figure at risk
            assert c.status == (grade(c.name, c.figure) if c.figure is not None else "at risk")
        assert p.status == max((c.status for c in p.checks), key=STATUSES.index)
        plan = found[p.mentee]
        assert p.month == min(p.period * 6, plan.months)
        assert p.spend_planned == planned_spend(plan, p.month)
        seen.add(p.status)
    assert seen == set(STATUSES)  # the synthetic mix reaches every status


def test_planned_cash_and_activities_grow_to_the_whole_plan(demo):
    tmp, inst, sol, found = demo
    for plan in found.values():
        spends = [planned_spend(plan, m) for m in range(1, plan.months + 1)]
        assert spends == sorted(spends) and spends[-1] == plan.partnership.cost
        acts = [planned_activities(plan, m) for m in range(1, plan.months + 1)]
        assert acts == sorted(acts) and acts[-1] == sum(len(o.activities) for o in plan.objectives)


def test_bad_progress_is_located_by_sheet_row_and_column_and_nothing_is_written(demo, tmp_path):
    tmp, inst, sol, found = demo
    path = tmp_path / "progress.xlsx"
    path.write_bytes(progress_workbook(inst, sol, synthetic_progress(inst, sol, 12, seed=1)))
    wb = openpyxl.load_workbook(path)
    prog, ind, mil = wb["progress"], wb["indicators"], wb["milestones"]
    me = prog.cell(2, 1).value
    plan = found[me]
    n_prog, n_ind, n_mil = prog.max_row, ind.max_row, mil.max_row
    prog.append(["NOBODY", None, 1, None, None, None, 1, 100])
    prog.append([me, None, 9, None, None, None, 1, 100])
    prog.append([me, None, 1, None, None, None, 1000, 100])
    prog.append([me, None, 2, None, None, None, "three", 100])
    ind.append([me, 1, "nrw_pt", None, None, None, None, 3])
    first = plan.objectives[0].targets[0].indicator
    ind.append([me, 1, first.id, None, None, None, None, first.high + 1])
    mil.append([me, 1, None, "Kick-off (remote): both teams agree this work plan, its commitments and targets", "maybe"])
    wb.save(path)
    report = tmp_path / "report.html"
    report.write_text("earlier")
    r = CliRunner().invoke(cli, ["monitor", str(DEMO), str(tmp / "s.json"), str(path), "-o", str(report)])
    assert r.exit_code == 1
    text = " ".join(r.output.split())
    assert f"sheet progress, row {n_prog + 4}, column activities_done: expected a whole number, got 'three'" in text
    assert f"sheet milestones, row {n_mil + 1}, column done: done must be yes or no (empty: not done), got 'maybe'" \
        in text
    assert report.read_text() == "earlier"  # an earlier output is left alone
    # the form is right now; what the plans cannot have is located the same way
    prog.delete_rows(n_prog + 4)
    mil.delete_rows(n_mil + 1)
    wb.save(path)
    r = CliRunner().invoke(cli, ["monitor", str(DEMO), str(tmp / "s.json"), str(path), "-o", str(report)])
    text = " ".join(r.output.split())
    assert r.exit_code == 1 and report.read_text() == "earlier"
    total = sum(len(o.activities) for o in plan.objectives)
    for line in (
            f"sheet progress, row {n_prog + 1}, column mentee: no partnership of this solution has the mentee 'NOBODY'",
            f"sheet progress, row {n_prog + 2}, column period: {me}'s partnership runs {plan.months} months: periods 1 "
            f"to {-(-plan.months // 6)}, got 9",
            f"sheet progress, row {n_prog + 3}, column activities_done: {me}'s plan has {total} activities, got 1000 "
            "done",
            f"sheet progress, row {n_prog + 3}: {me}'s period 1 is reported twice (first at sheet progress, row 2)",
            f"sheet indicators, row {n_ind + 1}, column indicator: {me}'s plan has no indicator 'nrw_pt'",
            f"sheet indicators, row {n_ind + 2}, column value: {first.name} must be between {first.low:g} and "
            f"{first.high:g} {first.unit}, got {first.high + 1:g}"):
        assert line in text, line


def test_the_command_line_writes_the_template_then_the_report_csv_and_json(demo, tmp_path):
    tmp, inst, sol, found = demo
    runner = CliRunner()
    blank, filled = tmp_path / "blank.xlsx", tmp_path / "filled.xlsx"
    r = runner.invoke(cli, ["template", "--progress", str(DEMO), str(tmp / "s.json"), "-o", str(blank)])
    assert r.exit_code == 0, r.output
    wb = openpyxl.load_workbook(blank)
    assert wb.sheetnames == ["progress", "indicators", "milestones", "notes"]
    rows = list(wb["progress"].iter_rows(values_only=True))
    assert len(rows) - 1 == sum(-(-pl.months // 6) for pl in found.values())
    assert all(row[6] is None and row[8] is None for row in rows[1:])  # the cells to fill are empty
    r = runner.invoke(cli, ["monitor", str(DEMO), str(tmp / "s.json"), str(blank), "-o", str(tmp_path / "x.html")])
    assert r.exit_code == 1 and "no progress is reported yet" in r.output and not (tmp_path / "x.html").exists()
    r = runner.invoke(cli, ["template", "--progress", str(DEMO), str(tmp / "s.json"), "--synthetic", "18",
                            "--seed", "3", "-o", str(filled)])
    assert r.exit_code == 0 and "synthetic progress up to month 18" in r.output
    outs = [tmp_path / "m.html", tmp_path / "m.csv", tmp_path / "m.json"]
    r = runner.invoke(cli, ["monitor", str(DEMO), str(tmp / "s.json"), str(filled), *sum((["-o", str(o)]
                                                                                        for o in outs), [])])
    assert r.exit_code == 0, r.output
    doc = json.loads(outs[2].read_text())
    table = list(csv.DictReader(io.StringIO(outs[1].read_text())))
    assert doc["format"] == "wopmatch.monitoring/1" and len(table) == len(doc["partnerships"]) == len(sol.partnerships)
    assert {r["mentee"]: r["status"] for r in table} == {p["mentee"]: p["status"] for p in doc["partnerships"]}
    counts = doc["counts"]
    assert f"{len(table)} partnership(s) at reporting period 3: {counts['on track']} on track" in r.output
    html = outs[0].read_text()
    assert "<script" not in html and "http" not in html.replace("http-equiv", "")
    for p in doc["partnerships"]:
        assert p["mentee_name"] in html
    # the API gives the same figures
    m = wm.monitor(DEMO, tmp / "s.json", filled)
    assert m.counts == counts and len(wm.monitoring_table(m)) == len(table)
    assert wm.monitoring_table(m, of="donors")[list(STATUSES)].to_numpy().sum() == len(table)
    for bad in (["-o", str(tmp_path / "m.pdf")], ["-o", str(DEMO)]):
        r = runner.invoke(cli, ["monitor", str(DEMO), str(tmp / "s.json"), str(filled), *bad])
        assert r.exit_code == 1 and "error" in r.output
    r = runner.invoke(cli, ["template", "--synthetic", "6", "-o", str(tmp_path / "y.xlsx")])
    assert r.exit_code == 1 and "--progress" in r.output and not (tmp_path / "y.xlsx").exists()


@needs_browser
def test_the_monitoring_report_renders_offline_with_its_charts(demo, tmp_path):
    tmp, inst, sol, found = demo
    m = monitor(inst, sol, synthetic_progress(inst, sol, 24, seed=2))
    path = wm.write(m, tmp_path / "m.html")
    with offline_page(794, 1123) as (page, errors, requests):
        page.goto(path.as_uri(), wait_until="load")
        assert page.title().startswith("Monitoring report")
        bars = page.locator("svg rect title").all_text_contents()
        assert len([b for b in bars if re.search(r": \d+ (on track|at risk|off track)$", b)]) >= len(m.donors)
        assert page.locator("span.chip").count() == len(sol.partnerships)
        pdf = page.pdf(format="A4", print_background=True)
        assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) >= 1
    assert errors == [] and all(u.startswith("file:") for u in requests), (errors, requests)


def test_the_service_serves_the_template_checks_progress_and_grades(tmp_path):
    pytest.importorskip("fastapi")
    from servicekit import Server, wait_for

    s = Server(tmp_path / "data", "--workers", "1").start()
    try:
        with s.client() as c:
            job = c.post("/v1/jobs", json={"instance": json.loads(DEMO.read_text()), "policy": "greedy"}).json()
            assert wait_for(c, job["id"])["state"] == "done"
            base = f"/v1/jobs/{job['id']}"
            assert c.get(f"{base}/monitoring").status_code == 409  # no progress yet
            blank = c.get(f"{base}/progress.xlsx")
            assert blank.status_code == 200 and blank.content[:2] == b"PK"
            inst = load_instance(DEMO).instance
            sol = wm.load_solution(c.get(f"{base}/solution").json())
            filled = progress_workbook(inst, sol, synthetic_progress(inst, sol, 12, seed=5))
            xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            r = c.put(f"{base}/progress", files={"file": ("blank.xlsx", blank.content, xlsx)})
            assert r.status_code == 422 and "no progress is reported yet" in r.text
            wb = openpyxl.load_workbook(io.BytesIO(filled))
            wb["progress"].append(["NOBODY", None, 1, None, None, None, 1, 100])
            bad = io.BytesIO()
            wb.save(bad)
            r = c.put(f"{base}/progress", files={"file": ("bad.xlsx", bad.getvalue(), xlsx)})
            assert r.status_code == 422 and "sheet progress, row" in r.text and "'NOBODY'" in r.text
            assert c.get(f"{base}/monitoring").status_code == 409  # nothing kept
            r = c.put(f"{base}/progress", files={"file": ("progress.xlsx", filled, xlsx)})
            assert r.status_code == 200, r.text
            out = r.json()
            local = monitor(inst, sol, synthetic_progress(inst, sol, 12, seed=5))
            assert out["counts"] == local.counts and out["period"] == 2
            doc = c.get(out["links"]["monitoring"]).json()
            assert doc["counts"] == local.counts and len(doc["partnerships"]) == len(sol.partnerships)
            table = list(csv.DictReader(io.StringIO(c.get(out["links"]["csv"]).text)))
            assert {r["mentee"]: r["status"] for r in table} == {p.mentee: p.status for p in local.partnerships}
            assert c.get(out["links"]["report"]).text.startswith("<!DOCTYPE html>")
            # JSON progress replaces the workbook
            r = c.put(f"{base}/progress", files={"file": ("p.json", Progress(periods=[PeriodReport(
                mentee=sol.partnerships[0].mentee, period=1, activities_done=0, spent=0)]).model_dump_json(),
                "application/json")})
            assert r.status_code == 200 and sum(r.json()["counts"].values()) == len(sol.partnerships)
            assert c.get(f"{base}/monitoring").json()["counts"]["off track"] >= len(sol.partnerships) - 1
    finally:
        s.stop()


def test_a_round_s_workbook_or_a_sheet_without_its_key_column_is_one_problem(demo, tmp_path):
    tmp, inst, sol, found = demo
    with pytest.raises(InputError) as exc:
        wm.monitor(inst, sol, ROOT / "instances" / "demo.xlsx")
    assert [p.message for p in exc.value.problems] == [
        "this is a round's workbook (it has an operators sheet), not a progress workbook; wopmatch template "
        "--progress ROUND SOLUTION -o progress.xlsx writes one"]
    path = tmp_path / "p.xlsx"
    path.write_bytes(progress_workbook(inst, sol, synthetic_progress(inst, sol, 12, seed=1)))
    wb = openpyxl.load_workbook(path)
    wb["indicators"].delete_cols(1)
    wb.save(path)
    with pytest.raises(InputError) as exc:
        wm.monitor(inst, sol, path)
    assert [f"{p.where}: {p.message}" for p in exc.value.problems] == ["sheet indicators: missing column 'mentee'"]
