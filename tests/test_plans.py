"""Draft work plans (issue 21, item 3): ``wopmatch plans``, the workbook's plans sheet, the
report's links and the service's routes; the pages checked in headless Chromium."""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from markupsafe import escape
from pathlib import Path

import openpyxl
import pytest
from browser import needs_browser, offline_page
from click.testing import CliRunner

from wopmatch.cli.main import cli
from wopmatch.models import load_instance, load_solution
from hypothesis import given, settings
from hypothesis import strategies as st

from wopmatch.models.outcomes import AREAS, INDICATORS, area_of, target
from wopmatch.models.vocab import country_name, language_name
from wopmatch.reports.plans import activities, budget, calendar, page_name, plans, timeline

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "instances" / "demo.json"


@pytest.fixture(scope="module")
def demo_plans(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("plans")
    runner = CliRunner()
    assert runner.invoke(cli, ["solve", str(DEMO), "-o", str(tmp / "s.json"), "--quiet"]).exit_code == 0
    r = runner.invoke(cli, ["plans", str(DEMO), str(tmp / "s.json"), "-o", str(tmp / "plans")])
    assert r.exit_code == 0, r.output
    return tmp, load_instance(DEMO).instance, load_solution(tmp / "s.json")


def test_every_partnership_gets_a_page_with_its_issues_indicators_timeline_and_budget(demo_plans):
    tmp, inst, sol = demo_plans
    ops = {op.id: op for op in inst.operators}
    c = inst.costs
    pages = sorted(p.name for p in (tmp / "plans").iterdir())
    assert pages == sorted(["index.html"] + [page_name(p.mentee) for p in sol.partnerships])
    index = (tmp / "plans" / "index.html").read_text()
    for p in sol.partnerships:
        html = (tmp / "plans" / page_name(p.mentee)).read_text()
        me, mo = ops[p.mentee], ops[p.mentor]
        assert f"{me.name} with {mo.name}" in html and f"{p.duration_months} months" in html
        assert 12 <= p.duration_months <= 36
        for k, area in enumerate(p.issues or p.focus, start=1):
            assert f"<h3>{k}. {area_of(area).title} " in html
        trips = len(re.findall(r'<tr class="trip">', html))
        assert trips == c.mentor_visits_per_year * math.ceil(p.duration_months / 12) + c.mentee_visits
        assert f"{p.cost:,}" in html and f"{trips} trips of" in html
        assert f'href="{page_name(p.mentee)}"' in index
        # names, not codes; no citation of the project's documents
        assert escape(country_name(me.country)) in html and escape(country_name(mo.country)) in html
        assert all(escape(language_name(lang)) in html for lang in me.languages)
        assert "docs/" not in html and "§" not in html
        assert "Commitments of the partners" in html and "Sign-off" in html
        assert "<script" not in html and "http" not in html.replace("http-equiv", "")  # self-contained


def test_every_demo_plan_names_an_indicator_with_baseline_and_target_per_issue_and_a_budget_by_year_that_sums(
        demo_plans):
    tmp, inst, sol = demo_plans
    found = plans(inst, sol)
    assert len(found) == len(sol.partnerships)
    measured = 0
    for pl in found:
        html = (tmp / "plans" / pl.page).read_text()
        worked = [a for a, _, _ in pl.issues] or pl.partnership.focus
        assert [o.area.id for o in pl.objectives] == worked and worked
        for o in pl.objectives:
            assert o.targets and o.activities
            for t in o.targets:
                stated = pl.mentee.indicators.get(t.indicator.id)
                assert t.measured == (stated is not None)
                assert t.baseline == (stated if stated is not None else t.indicator.baseline)
                measured += t.measured
                # the target is on good practice's side of the baseline, never past it
                lo, hi = sorted((t.baseline, t.indicator.good))
                assert lo - 0.05 <= t.value <= hi + 0.05
                assert f"<td>{t.indicator.name}</td>" in html
        assert len(pl.by_year) == math.ceil(pl.months / 12)
        assert sum(r.cash for r in pl.by_year) == pl.partnership.cost == sum(r.cash for r in pl.by_partner)
        assert sum(r.base for r in pl.by_year) == round(pl.base) == sum(r.base for r in pl.by_partner)
        assert sum(r.trips for r in pl.by_year) == pl.trips == sum(r.trips for r in pl.by_partner)
        assert [r.in_kind for r in pl.by_partner] == [pl.mentee.in_kind or 0, pl.mentor.in_kind or 0]
        for r in pl.by_year:
            assert f"<td class=\"n\">{r.cash:,}</td>" in html
    assert measured > 0  # the demo states some baselines, so both branches ran


@given(cost=st.integers(0, 10**7), base=st.floats(0, 10**6), months=st.integers(1, 60),
       mentee_visits=st.integers(0, 3), mentor_visits=st.integers(0, 3))
@settings(max_examples=200, deadline=None)
def test_a_budget_by_year_and_by_partner_sums_to_the_cost_in_whole_units(cost, base, months, mentee_visits,
                                                                          mentor_visits):
    from wopmatch.models.instance import Operator

    steps = timeline(months, mentee_visits, mentor_visits, "A", "B")
    cost = max(cost, round(base))  # a pair's cost is its base and its trips
    a = Operator(id="A", country="KE", region="r", languages=["en"], in_kind=7)
    b = Operator(id="B", country="KE", region="r", languages=["en"])
    by_year, by_partner = budget(cost, base, steps, months, a, b)
    for rows in (by_year, by_partner):
        assert sum(r.cash for r in rows) == cost and sum(r.base for r in rows) == round(base)
        assert all(r.base >= 0 and r.travel >= 0 for r in rows)
    assert [r.trips for r in by_partner] == [mentee_visits, mentor_visits * math.ceil(months / 12)]
    assert [r.in_kind for r in by_partner] == [7, 0]
    if months % 12 == 0 and base:  # whole years: the base in equal shares, to the unit
        assert max(r.base for r in by_year) - min(r.base for r in by_year) <= 1


def test_the_timeline_has_a_mentee_visit_first_a_mentor_visit_each_year_and_the_milestones():
    for months in (12, 18, 24, 30, 36):
        steps = timeline(months, 1, 1, "A", "B")
        trips = [s for s in steps if s.trip]
        assert trips[0].months == "1-3" and "A's team to B" in trips[0].activity and trips[0].traveller == "mentee"
        assert len(trips) == 1 + math.ceil(months / 12)
        assert all(s.traveller == "mentor" for s in trips[1:])
        starts = [s.first for s in trips[1:]]
        assert [(x - 1) // 12 for x in starts] == list(range(math.ceil(months / 12)))  # one per started year
        miles = [s for s in steps if s.kind == "milestone"]
        assert miles[0].first == 1 and miles[0].activity.startswith("Kick-off")
        assert steps[-1].months == str(months) and steps[-1].activity.startswith("Closing review")
        reports = [s.first for s in miles if s.activity.startswith("Progress report")]
        assert reports == list(range(6, months, 6))
        assert [s.first for s in miles if s.activity.startswith("Mid-term")] == [math.ceil(months / 2)]
        assert all(s.last <= months for s in steps)
        assert [s.first for s in steps] == sorted(s.first for s in steps)


def test_activities_fill_the_months_between_kick_off_and_closing_in_order():
    for months in (1, 2, 3, 12, 17, 36):
        for area in AREAS.values():
            acts = activities(area, months)
            assert [a.activity for a in acts] == list(area.activities)
            lo, hi = (2, months - 1) if months >= 3 else (1, months)
            assert acts[0].first == lo and acts[-1].last == hi or len(area.activities) > hi - lo + 1
            assert all(lo <= a.first <= a.last <= hi for a in acts)
            assert all(x.first <= y.first for x, y in zip(acts, acts[1:]))


def test_calendar_months_from_the_round_start():
    assert calendar((2027, 3), 1, 1) == "Mar 2027"
    assert calendar((2027, 3), 1, 3) == "Mar-May 2027"
    assert calendar((2027, 11), 1, 3) == "Nov 2027-Jan 2028"
    assert calendar((2027, 1), 13, 24) == "Jan-Dec 2028"
    assert calendar(None, 1, 3) == ""


def test_a_target_moves_toward_good_practice_by_the_partnership_s_share_and_never_away():
    nrw = INDICATORS["nrw_pct"]  # lower is better; good practice 20
    assert target(nrw, 40, 36) == 30.0  # half way at 36 months
    assert target(nrw, 40, 12) == round(40 - 20 / 6, 1)
    assert target(nrw, 40, 48) == 30.0  # no further than a 36-month partnership
    assert target(nrw, 15, 24) == 15.0  # already better than good practice: hold it
    hours = INDICATORS["supply_hours"]  # higher is better; good practice 24
    assert target(hours, 12, 36) == 18.0 and target(hours, 24, 36) == 24.0
    generic = area_of("water_safety_plans")
    assert generic.indicators[0].id == "water_safety_plans_plan_done_pct"
    assert target(generic.indicators[0], 0, 12) == 100.0


def test_the_workbook_has_a_plans_sheet_and_the_report_links_each_row(demo_plans, tmp_path):
    tmp, inst, sol = demo_plans
    runner = CliRunner()
    r = runner.invoke(cli, ["solve", str(DEMO), "-o", str(tmp_path / "r.xlsx"), "--quiet"])
    assert r.exit_code == 0, r.output
    sheet = openpyxl.load_workbook(tmp_path / "r.xlsx")["plans"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:6] == ("mentee", "mentee_name", "mentor", "mentor_name", "donor", "months")
    assert sorted(r[0] for r in rows[1:]) == sorted(p.mentee for p in sol.partnerships)
    report = tmp / "report.html"
    r = runner.invoke(cli, ["report", str(DEMO), str(tmp / "s.json"), "-o", str(report), "--plans", str(tmp / "plans")])
    assert r.exit_code == 0, r.output
    links = re.findall(r'<a class="plan" href="([^"]+)"', report.read_text())
    assert sorted(links) == sorted(f"plans/{page_name(p.mentee)}" for p in sol.partnerships)
    r = runner.invoke(cli, ["report", str(DEMO), str(tmp / "s.json"), "-o", str(tmp_path / "x.html"),
                            "--plans", str(tmp_path)])
    assert r.exit_code == 1 and "holds no work plans" in r.output and not (tmp_path / "x.html").exists()


def test_plans_of_an_invalid_solution_are_not_written(demo_plans, tmp_path):
    tmp, inst, sol = demo_plans
    bad = sol.model_copy(update={"partnerships": [sol.partnerships[0].model_copy(update={"cost": 1}),
                                                  *sol.partnerships[1:]]})
    (tmp_path / "bad.json").write_text(bad.model_dump_json())
    r = CliRunner().invoke(cli, ["plans", str(DEMO), str(tmp_path / "bad.json"), "-o", str(tmp_path / "p")])
    assert r.exit_code == 1 and "no plans written" in r.output and not (tmp_path / "p").exists()


def _round_of_36_months(tmp: Path, issues: int) -> Path:
    """The demo round with every partnership 36 months on ``issues`` issues, written to tmp."""
    raw = json.loads(DEMO.read_text())
    raw["costs"] = {**raw.get("costs", {}), "duration_rule": "fixed", "duration_months": 36}
    areas = raw.get("work_areas", list(AREAS))
    for op in raw["operators"]:
        if "mentee" in op:
            op["mentee"]["needs"] = {a: 5 for a in areas[:issues]}
        if "mentor" in op:
            op["mentor"]["strengths"] = {a: 5 for a in areas}
    path = tmp / f"r36-{issues}.json"
    path.write_text(json.dumps(raw))
    return path


@needs_browser
def test_a_plan_renders_offline_and_prints_on_two_a4_pages_or_three_for_four_or_five_issues(demo_plans, tmp_path):
    tmp, inst, sol = demo_plans
    longest = max(sol.partnerships, key=lambda p: (p.duration_months, len(p.issues)))
    cases = [(tmp / "plans" / page_name(longest.mentee), 2), (tmp / "plans" / "index.html", None)]
    runner = CliRunner()
    for issues, most in ((3, 2), (5, 3)):  # the longest partnerships: 36 months
        path = _round_of_36_months(tmp_path, issues)
        solved = tmp_path / f"s{issues}.json"
        assert runner.invoke(cli, ["solve", str(path), "-o", str(solved), "--quiet"]).exit_code == 0
        r = runner.invoke(cli, ["plans", str(path), str(solved), "-o", str(tmp_path / f"p{issues}")])
        assert r.exit_code == 0, r.output
        first = load_solution(solved).partnerships[0]
        assert first.duration_months == 36 and len(first.issues) == issues
        cases.append((tmp_path / f"p{issues}" / page_name(first.mentee), most))
    with offline_page() as (page, errors, requests):
        for path, most in cases:
            page.goto(path.as_uri(), wait_until="load")
            assert page.title().startswith("Draft work plan")
            pdf = page.pdf(format="A4", print_background=True)
            pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
            assert 1 <= pages <= (most or pages), (path.name, pages)
        page.goto((tmp / "plans" / page_name(longest.mentee)).as_uri(), wait_until="load")
        assert page.locator("h3").count() == len(longest.issues)
        assert page.locator("tr.trip").count() >= 2 and page.locator("tr.milestone").count() >= 3
    assert errors == []
    assert all(u.startswith("file:") for u in requests), requests


def test_the_service_serves_the_plans(tmp_path):
    pytest.importorskip("fastapi")
    import json

    from servicekit import Server, wait_for

    s = Server(tmp_path / "data", "--workers", "1").start()
    try:
        with s.client() as c:
            job = c.post("/v1/jobs", json={"instance": json.loads(DEMO.read_text()), "policy": "greedy"}).json()
            done = wait_for(c, job["id"])
            assert done["state"] == "done", done
            sol = c.get(f"/v1/jobs/{job['id']}/solution").json()
            z = zipfile.ZipFile(io.BytesIO(c.get(f"/v1/jobs/{job['id']}/plans").content))
            assert sorted(z.namelist()) == sorted(["plans/index.html"] + [f"plans/{page_name(p['mentee'])}"
                                                                          for p in sol["partnerships"]])
            first = page_name(sol["partnerships"][0]["mentee"])
            r = c.get(f"/v1/jobs/{job['id']}/plans/{first}")
            assert r.status_code == 200 and r.text == z.read(f"plans/{first}").decode()
            assert c.get(f"/v1/jobs/{job['id']}/plans/..%2Finput").status_code == 404
    finally:
        s.stop()


def test_a_second_run_removes_its_own_stale_pages_and_nothing_else(demo_plans, tmp_path):
    tmp, inst, sol = demo_plans
    folder = tmp_path / "plans"
    runner = CliRunner()
    assert runner.invoke(cli, ["plans", str(DEMO), str(tmp / "s.json"), "-o", str(folder)]).exit_code == 0
    (folder / "notes.html").write_text("<p>the facilitator's own page</p>")
    fewer = sol.model_copy(update={"partnerships": sol.partnerships[1:],
                                   "unmatched": sol.unmatched})  # as if the first mentee were not matched
    gone = page_name(sol.partnerships[0].mentee)
    from wopmatch.reports.plans import plan_files, stale_pages

    stale = stale_pages(folder, plan_files(inst, fewer))
    assert [p.name for p in stale] == [gone]
    r = runner.invoke(cli, ["plans", str(DEMO), str(tmp / "s.json"), "-o", str(folder)])
    assert r.exit_code == 0 and "removed" not in r.output  # the same solution: nothing stale
    (folder / "old-mentee.html").write_bytes((folder / gone).read_bytes())
    r = runner.invoke(cli, ["plans", str(DEMO), str(tmp / "s.json"), "-o", str(folder)])
    assert r.exit_code == 0 and "removed 1 page(s)" in r.output, r.output
    assert not (folder / "old-mentee.html").exists() and (folder / "notes.html").exists()


def test_page_names_never_collide_with_each_other_or_the_index():
    ids = ["BD-000041", "A/B", "A_B", "A?B", "index", "Index", "../x", "x"]
    names = [page_name(i) for i in ids]
    assert len(set(names)) == len(ids) and "index.html" not in names
    assert page_name("BD-000041") == "BD-000041.html"  # a plain id keeps its name
    assert all(re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]*\.html", n) for n in names)
