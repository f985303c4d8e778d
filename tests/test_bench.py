"""``wopmatch bench run`` / ``report``: studies are complete, resumable and reported."""

from __future__ import annotations

import json

from click.testing import CliRunner

from wopmatch.bench.runner import cell_key, cells, load_config
from wopmatch.cli.main import cli

CONFIG = {"name": "tiny", "sizes": [[30, 8], [60, 15]], "donors": [0, 1], "policies": ["optimal", "random"],
          "seeds": [1], "time_limits": [10]}


def test_a_study_runs_every_cell_once_resumes_and_reports(tmp_path):
    cfg = tmp_path / "study.json"
    cfg.write_text(json.dumps(CONFIG))
    out = tmp_path / "results.jsonl"
    runner = CliRunner()
    r = runner.invoke(cli, ["bench", "run", str(cfg), "-o", str(out)])
    assert r.exit_code == 0, r.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    expected = cells(load_config(cfg))
    assert len(expected) == 2 * 2 * 2 and sorted(map(cell_key, expected)) == sorted(cell_key(r["cell"])
                                                                                     for r in records)
    for rec in records:
        assert rec["git"] and rec["versions"]["ortools"] and rec["machine"]["cpus"] and rec["date"]
        assert rec["outcome"] == "solved" and rec["verified"] and rec["peak_rss_mib"] > 0
        assert rec["metrics"]["matched"] == round(rec["metrics"]["match_rate"] * rec["metrics"]["mentees"])

    # a run cut short mid-line: that cell runs again, the others are skipped
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2])
    r = runner.invoke(cli, ["bench", "run", str(cfg), "-o", str(out)])
    assert r.exit_code == 0 and "1 cell(s) run, 7 already done" in r.output

    rep = tmp_path / "report"
    r = runner.invoke(cli, ["bench", "report", str(out), "-o", str(rep), "--title", "Tiny study"])
    assert r.exit_code == 0, r.output
    md = (rep / "report.md").read_text()
    assert md.startswith("# Tiny study")
    rows = [line for line in md.splitlines() if line.startswith("| 30x8") or line.startswith("| 60x15")]
    assert len(rows) == 8
    optimal_row = next(line for line in rows if line.startswith("| 60x15 | 0 | optimal"))
    assert "| 1.000 | 1.000 |" in optimal_row  # coverage and quality relative to itself
    for png in ("quality-coverage.png", "time.png", "regions.png"):
        assert (rep / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_cell_over_its_timeout_is_recorded_as_killed(tmp_path):
    cfg = tmp_path / "study.json"
    cfg.write_text(json.dumps({**CONFIG, "sizes": [[30, 8]], "donors": [0], "policies": ["optimal"],
                               "cell_timeout": 0.01}))
    out = tmp_path / "results.jsonl"
    r = CliRunner().invoke(cli, ["bench", "run", str(cfg), "-o", str(out)])
    assert r.exit_code == 0, r.output
    rec = json.loads(out.read_text())
    assert rec["outcome"] == "killed" and "timeout" in rec["reason"]


def test_a_bad_config_names_the_field(tmp_path):
    cfg = tmp_path / "study.json"
    cfg.write_text(json.dumps({**CONFIG, "policies": ["optimal", "fair"], "seeds": "one"}))
    r = CliRunner().invoke(cli, ["bench", "run", str(cfg), "-o", str(tmp_path / "r.jsonl")])
    assert r.exit_code == 1 and "seeds" in r.output and "fair" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "r.jsonl").exists()


def test_a_study_with_progress_grades_each_cell_s_partnerships_and_reports_them_by_policy(tmp_path):
    cfg = tmp_path / "study.json"
    cfg.write_text(json.dumps({**CONFIG, "sizes": [[60, 15]], "donors": [1], "progress_month": 12}))
    out = tmp_path / "results.jsonl"
    runner = CliRunner()
    r = runner.invoke(cli, ["bench", "run", str(cfg), "-o", str(out)])
    assert r.exit_code == 0, r.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 2 and all(rec["cell"]["progress_month"] == 12 for rec in records)
    for rec in records:
        mon = rec["monitoring"]
        assert mon["partnerships"] == rec["metrics"]["matched"] > 0
        assert abs(mon["on_track"] + mon["at_risk"] + mon["off_track"] - 1) < 1e-3
    # the same cells without progress are other cells: a study without it keeps its keys
    assert cell_key({**records[0]["cell"], "progress_month": 12}) != cell_key(
        {k: v for k, v in records[0]["cell"].items() if k != "progress_month"})
    rep = tmp_path / "report"
    r = runner.invoke(cli, ["bench", "report", str(out), "-o", str(rep)])
    assert r.exit_code == 0, r.output
    md = (rep / "report.md").read_text()
    assert "| on track | off track |" in md
    row = next(line for line in md.splitlines() if line.startswith("| 60x15 | 1 | random"))
    rand = next(rec for rec in records if rec["cell"]["policy"] == "random")["monitoring"]
    assert row.rstrip().endswith(f"| {rand['on_track']:,.3f} | {rand['off_track']:,.3f} |")
