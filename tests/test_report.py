"""``wopmatch report``: a self-contained HTML file, checked in headless Chromium."""

from __future__ import annotations

from html import escape
from pathlib import Path

from browser import needs_browser, offline_page
from click.testing import CliRunner
from markupsafe import escape as markup_escape

from wopmatch.cli.main import cli
from wopmatch.generator import generate
from wopmatch.models import load_instance, load_solution, parse_instance
from wopmatch.models.io import instance_bytes

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "instances" / "demo.json"


def _report(tmp_path: Path, instance: Path, *solve_args: str) -> tuple[Path, Path]:
    runner = CliRunner()
    sol = tmp_path / "solution.json"
    r = runner.invoke(cli, ["solve", str(instance), "-o", str(sol), "--quiet", *solve_args])
    assert r.exit_code == 0, r.output
    html = tmp_path / "report.html"
    r = runner.invoke(cli, ["report", str(instance), str(sol), "-o", str(html)])
    assert r.exit_code == 0, r.output
    return html, sol


def test_report_is_self_contained_and_escapes_instance_text(tmp_path):
    raw = generate(30, 8, donors=2, seed=4)
    raw["operators"][0]["name"] = "<script>alert('x')</script> & Co"
    src = tmp_path / "round.json"
    src.write_bytes(instance_bytes(parse_instance(raw)))
    html_path, sol_path = _report(tmp_path, src)
    html = html_path.read_text()
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    idle = [d for d in load_solution(sol_path).donors if d.idle_reason]
    assert idle and all(escape(d.idle_detail) in html for d in idle)  # "Money left unspent"
    warnings = load_solution(sol_path).warnings
    assert warnings and 'id="warnings"' in html and all(str(markup_escape(w)) in html for w in warnings)
    for needle in ("http://", "https://", "<script", "<link", "@import", "url("):
        if needle == "http://":  # only the SVG namespace, which is not fetched
            assert html.count(needle) == html.count('xmlns="http://www.w3.org/2000/svg"')
        else:
            assert needle not in html, needle


def test_report_refuses_a_solution_that_does_not_verify(tmp_path):
    _, sol = _report(tmp_path, DEMO)
    other = tmp_path / "other.json"
    other.write_bytes(instance_bytes(parse_instance(generate(10, 3, seed=9))))
    out = tmp_path / "wrong.html"
    r = CliRunner().invoke(cli, ["report", str(other), str(sol), "-o", str(out)])
    assert r.exit_code == 1 and "no report written" in r.output and not out.exists()
    assert f"{sol} belongs to a different round" in " ".join(r.output.split())  # not a list of violations
    r = CliRunner().invoke(cli, ["report", str(DEMO), str(sol), "-o", str(tmp_path / "r.pdf")])
    assert r.exit_code == 1 and ".html" in r.output


@needs_browser
def test_report_renders_in_headless_chromium_with_no_errors_and_no_network(tmp_path):
    html, sol_path = _report(tmp_path, DEMO)
    inst, sol = load_instance(DEMO).instance, load_solution(sol_path)
    ops = {op.id: op for op in inst.operators}
    located_ops = [op for op in inst.operators if op.location is not None and (op.mentee or op.mentor)]
    located_links = [p for p in sol.partnerships if ops[p.mentee].location and ops[p.mentor].location]

    with offline_page(1200, 900) as (page, errors, requests):
        page.goto(html.as_uri(), wait_until="load")
        assert page.title().startswith("WOP matching")
        assert page.inner_text("#fig-matched") == f"{len(sol.partnerships)} / " \
            f"{sum(op.mentee is not None for op in inst.operators)}"
        assert page.inner_text("#status") == sol.status
        assert page.locator("#partnership-table tbody tr").count() == len(sol.partnerships)
        assert page.locator("#unmatched-table tbody tr").count() == len(sol.unmatched)
        # the main map draws every located operator once (the inset draws its window again)
        assert page.locator("svg#world-map > g.dots circle").count() == len(located_ops)
        assert page.locator("svg#world-map > g.links path.link").count() == len(located_links)
        assert page.locator("svg#world-map svg.inset").count() == 1  # the demo's European mentors crowd
        assert page.locator("svg.chart").count() == 3  # regions, work areas, donors
        box = page.locator("svg#world-map").bounding_box()
        assert box is not None and box["width"] > 800 and box["height"] > 350  # drawn, at its 2:1 shape
        land = page.locator("svg#world-map > use.land").bounding_box()
        assert land is not None and land["width"] > 0.9 * box["width"]
        shot = page.screenshot(full_page=True, path=str(tmp_path / "report.png"))  # kept for a look
        assert len(shot) > 10_000
    assert errors == []
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    assert requests == [html.as_uri()]  # the page itself and nothing else


def test_the_map_is_cropped_labelled_and_enlarges_where_partnerships_converge(tmp_path):
    import re

    from wopmatch.reports.html import INSET_MIN, MAP_LAT, world_map
    from wopmatch.solver import SolveOptions, solve

    inst = load_instance(Path(__file__).resolve().parent.parent / "instances" / "demo.json").instance
    s = solve(inst, "0" * 64, SolveOptions(policy="greedy"))
    svg = str(world_map(inst, s))
    x, y, w, h = (float(v) for v in re.search(r'id="world-map" viewBox="([^"]+)"', svg).group(1).split())
    assert y == 90 - MAP_LAT[1] > 0 and y + h == 90 - MAP_LAT[0] < 180  # no empty polar bands
    assert x < 0 and x + w > 360  # a dot at the date line is drawn whole
    mentors = [op.id for op in inst.operators if op.mentor is not None and op.location is not None]
    labelled = set(re.findall(r">([A-Z]{2}-\d{6})</text>", svg))
    assert len(labelled) >= len(mentors) * 0.8, (len(labelled), len(mentors))  # most ids are written
    assert labelled <= set(mentors)
    # the demo's European mentors crowd: an inset draws them again, enlarged, with their labels
    assert 'class="inset"' in svg and "the crowded area, enlarged" in svg
    inset = svg[svg.index('class="inset"'):]
    assert sum(1 for m in mentors if f">{m}</text>" in inset) >= 4
    assert INSET_MIN > 1
    # a large round's map is dots only: placing thousands of labels would cost more than it shows
    from wopmatch.reports.html import MAX_LABELS, _labels

    spread = [(f"M{k}", 10.0 * k + 10, 10.0 * k + 10) for k in range(MAX_LABELS + 1)]
    bounds = (0.0, 0.0, 1e5, 1e5)
    assert _labels(spread[:MAX_LABELS], 2.4, bounds).count("</text>") == MAX_LABELS
    assert _labels(spread, 2.4, bounds) == ""


def test_the_report_reads_in_names_says_when_it_was_made_and_keeps_the_recipe_in_details(tmp_path):
    import datetime
    import re

    from wopmatch.models.vocab import country_name, language_name
    from wopmatch.reports.html import render_report

    inst = load_instance(DEMO).instance
    html_path, sol_path = _report(tmp_path, DEMO)
    sol = load_solution(sol_path)
    html = render_report(inst, sol, [], made=datetime.date(2027, 2, 3))
    assert "Report made 3 February 2027; the partnerships start in March 2027." in html
    head, rest = html.split('<details class="muted" id="how-solved">', 1)
    assert sol.stats.method not in head and sol.stats.method in rest.split("</details>")[0]
    first = next(p for p in sol.partnerships)
    ops = {op.id: op for op in inst.operators}
    assert f"{first.mentee} · {country_name(ops[first.mentee].country)}" in html
    assert f"speak {language_name(sorted(set(ops[first.mentee].languages) & set(ops[first.mentor].languages))[0])}" \
        in html
    assert not re.search(r"\b0 of 0\b", html)  # no bar for a group without mentees
    assert "Report made" in html_path.read_text()  # the command line dates it too
