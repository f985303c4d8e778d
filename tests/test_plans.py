"""Draft work plans (issue 21, item 3): ``wopmatch plans``, the workbook's plans sheet, the
report's links and the service's routes; the pages checked in headless Chromium."""

from __future__ import annotations

import io
import math
import os
import re
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from wopmatch.cli.main import cli
from wopmatch.models import load_instance, load_solution
from wopmatch.reports.plans import page_name, timeline

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "instances" / "demo.json"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REQUIRE_BROWSER = os.environ.get("WOPMATCH_REQUIRE_BROWSER") == "1"


@pytest.fixture(scope="module")
def demo_plans(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("plans")
    runner = CliRunner()
    assert runner.invoke(cli, ["solve", str(DEMO), "-o", str(tmp / "s.json"), "--quiet"]).exit_code == 0
    r = runner.invoke(cli, ["plans", str(DEMO), str(tmp / "s.json"), "-o", str(tmp / "plans")])
    assert r.exit_code == 0, r.output
    return tmp, load_instance(DEMO).instance, load_solution(tmp / "s.json")


def test_every_partnership_gets_a_page_with_its_issues_timeline_and_budget(demo_plans):
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
        for area in p.issues:
            assert f"<td>{area.replace('_', ' ')}</td>" in html
        trips = len(re.findall(r'<tr class="trip">', html))
        assert trips == c.mentor_visits_per_year * math.ceil(p.duration_months / 12) + c.mentee_visits
        assert f"{p.cost:,}" in html and f"Trips: {trips} x" in html
        assert f'href="{page_name(p.mentee)}"' in index
        assert "Commitments of the partners" in html and "Targeted outcomes" in html
        assert "<script" not in html and "http" not in html.replace("http-equiv", "")  # self-contained


def test_the_timeline_has_a_mentee_visit_first_a_mentor_visit_each_year_and_a_closing_review():
    for months in (12, 18, 24, 30, 36):
        steps = timeline(months, 1, 1, "A", "B")
        trips = [s for s in steps if s.trip]
        assert trips[0].months == "1-3" and "A's team to B" in trips[0].activity
        assert len(trips) == 1 + math.ceil(months / 12)
        starts = [int(s.months.split("-")[0]) for s in trips[1:]]
        assert [(x - 1) // 12 for x in starts] == list(range(math.ceil(months / 12)))  # one per started year
        assert steps[-1].months == str(months) and steps[-1].activity.startswith("Closing review")
        assert all(int(s.months.split("-")[-1]) <= months for s in steps)


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


@pytest.mark.skipif(CHROMIUM is None and not REQUIRE_BROWSER, reason="Debian's chromium is not installed")
def test_a_plan_renders_offline_and_prints_on_one_or_two_a4_pages(demo_plans):
    from playwright.sync_api import sync_playwright

    tmp, inst, sol = demo_plans
    longest = max(sol.partnerships, key=lambda p: (p.duration_months, len(p.issues)))
    errors, requests = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--no-first-run",
                                           "--disable-background-networking", "--disable-component-update"])
        try:
            page = browser.new_page(viewport={"width": 900, "height": 1200})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("request", lambda r: requests.append(r.url))
            for name in (page_name(longest.mentee), "index.html"):
                path = tmp / "plans" / name
                page.goto(path.as_uri(), wait_until="load")
                assert page.title().startswith("Draft work plan")
                pdf = page.pdf(format="A4", print_background=True)
                pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
                assert 1 <= pages <= 2 if name != "index.html" else pages >= 1, (name, pages)
            page.goto((tmp / "plans" / page_name(longest.mentee)).as_uri(), wait_until="load")
            assert page.locator("h2", has_text="Issues to address").count() == 1
            assert page.locator("tr.trip").count() >= 2
        finally:
            browser.close()
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
