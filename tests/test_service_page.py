"""The facilitators' page in headless Chromium, clicking through a real upload
to a real server (issue: the solver service)."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlparse

import openpyxl
import pytest
from servicekit import TOKEN, Server

from wopmatch.models import Solution, load_instance
from wopmatch.models.problems import InputError
from wopmatch.solver.verify import verify_solution

pytest.importorskip("fastapi")
ROOT = Path(__file__).resolve().parent.parent
DEMO_XLSX = ROOT / "instances" / "demo.xlsx"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REQUIRE_BROWSER = os.environ.get("WOPMATCH_REQUIRE_BROWSER") == "1"


@pytest.mark.skipif(CHROMIUM is None and not REQUIRE_BROWSER, reason="Debian's chromium is not installed")
def test_a_facilitator_uploads_a_workbook_solves_and_downloads(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    wb = openpyxl.load_workbook(DEMO_XLSX)  # a second workbook with one bad cell, for the problems list
    ws = wb["operators"]
    header = [c.value for c in ws[1]]
    ws.cell(row=3, column=header.index("mentor_capacity") + 1, value="lots")
    broken = tmp_path / "broken.xlsx"
    wb.save(broken)

    server = Server(tmp_path / "data", "--workers", "1").start()
    origin = urlparse(server.url).netloc
    errors, foreign = [], []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=["--no-sandbox", "--disable-gpu", "--no-first-run",
                                               "--disable-background-networking", "--disable-component-update"])
            try:
                context = browser.new_context(accept_downloads=True)
                page = context.new_page()
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.on("request", lambda r: foreign.append(r.url)
                        if urlparse(r.url).scheme in ("http", "https") and urlparse(r.url).netloc != origin else None)
                page.goto(server.url + "/", wait_until="load")
                page.fill("#token", TOKEN)

                # a bad cell: the page lists the problem by sheet, row and column, as the CLI does
                page.set_input_files("#file", str(broken))
                page.click("#validate")
                page.wait_for_selector("#problems li")
                problems = page.locator("#problems li").all_inner_texts()
                with pytest.raises(InputError) as cli:
                    load_instance(broken)
                assert problems == [str(p) for p in cli.value.problems]
                assert any("row 3, column mentor_capacity" in p for p in problems), problems

                # the real round: choose a policy from the list the API describes, solve, watch it end
                options = page.locator("#policy option").all_inner_texts()
                assert {"optimal", "greedy", "max-min", "min-cost"} <= set(options)
                page.set_input_files("#file", str(DEMO_XLSX))
                page.select_option("#policy", "optimal")
                page.click("#solve")
                expect(page.locator("#state")).to_have_text(re.compile("done|failed|cancelled"), timeout=120_000)
                assert page.inner_text("#state") == "done", page.inner_text("#job-error")
                job_id = page.inner_text("#job-id")
                with server.client() as c:
                    job = c.get(f"/v1/jobs/{job_id}").json()
                s = job["summary"]
                assert page.inner_text("#fig-matched") == f"{s['matched']} / {s['mentees']}"
                assert page.inner_text("#fig-status") == s["status"] == "optimal"
                assert page.inner_text("#fig-verified") == "yes"

                # the report, shown in a sandboxed frame
                frame = page.frame_locator("#report")
                frame.locator("#partnership-table tbody tr").first.wait_for(timeout=30_000)
                assert frame.locator("#partnership-table tbody tr").count() == s["matched"]

                # downloads: the solution verifies against the workbook; the sheets open
                with page.expect_download() as dl:
                    page.click("#download-json")
                sol = Solution.model_validate(json.loads(Path(dl.value.path()).read_text()))
                assert len(sol.partnerships) == s["matched"]
                assert verify_solution(load_instance(DEMO_XLSX).instance, sol) == []
                with page.expect_download() as dl:
                    page.click("#download-xlsx")
                assert dl.value.suggested_filename == f"wopmatch-{job_id}.xlsx"
                sheets = openpyxl.load_workbook(io.BytesIO(Path(dl.value.path()).read_bytes())).sheetnames
                assert "partnerships" in sheets
                page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
            finally:
                browser.close()
    finally:
        server.stop()
    # the only console error is the browser's note of the bad workbook's 422
    assert [e for e in errors if "the server responded with a status of 422" not in e] == []
    assert foreign == []  # nothing is fetched from anywhere but the service
