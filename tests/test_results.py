"""``solve -o result.xlsx`` and ``-o folder/``: result sheets a facilitator reads."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner
from openpyxl import load_workbook

from wopmatch.cli.main import cli
from wopmatch.models import load_instance, load_solution
from wopmatch.solver.verify import verify_solution

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "instances" / "demo.json"


def _rows(ws) -> list[dict]:
    it = ws.iter_rows(values_only=True)
    header = next(it)
    return [dict(zip(header, r, strict=True)) for r in it]


def _split(cell) -> list[str]:
    return cell.split("; ") if cell else []


def test_solve_to_a_workbook_writes_result_sheets_and_the_json_beside_it(tmp_path):
    out = tmp_path / "result.xlsx"
    r = CliRunner().invoke(cli, ["solve", str(DEMO), "-o", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    sol = load_solution(tmp_path / "result.json")
    inst = load_instance(DEMO).instance
    assert verify_solution(inst, sol) == []
    wb = load_workbook(out, read_only=True)
    assert wb.sheetnames == ["summary", "partnerships", "unmatched", "donors", "mentors", "plans"]
    ops = {op.id: op for op in inst.operators}
    partnerships = _rows(wb["partnerships"])
    assert [(p["mentee"], p["mentor"], p["donor"]) for p in partnerships] == \
        [(p.mentee, p.mentor, p.donor) for p in sol.partnerships]
    for row in partnerships:
        me, mo = ops[row["mentee"]], ops[row["mentor"]]
        assert row["mentee_name"] == me.name and row["mentor_country"] == mo.country
        assert set(_split(row["shared_languages"])) == set(me.languages) & set(mo.languages)
        assert _split(row["focus_areas"]) == next(p.focus for p in sol.partnerships if p.mentee == me.id)
    unmatched = _rows(wb["unmatched"])
    assert [(u["mentee"], u["reason"]) for u in unmatched] == [(u.mentee, u.reason) for u in sol.unmatched]
    donors = {d["donor"]: d for d in _rows(wb["donors"])}
    for d in sol.donors:
        assert donors[d.id]["committed"] == d.committed and donors[d.id]["remaining"] == d.budget - d.committed
        assert (donors[d.id]["idle_reason"], donors[d.id]["idle_detail"]) == (d.idle_reason, d.idle_detail or None)
    assert any(d.idle_reason for d in sol.donors)  # the demo leaves money with every donor
    load = {m["mentor"]: m["load"] for m in _rows(wb["mentors"])}
    assert sum(load.values()) == len(sol.partnerships)
    summary = {row["figure"]: row["value"] for row in _rows(wb["summary"])}
    wb.close()
    assert summary["status"] == sol.status and summary["mentees matched"] == len(sol.partnerships)
    assert summary["verified"] == "yes"


def test_solve_to_a_folder_writes_csv_files_and_solution_json(tmp_path):
    out = tmp_path / "results"
    r = CliRunner().invoke(cli, ["solve", str(DEMO), "-o", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["donors.csv", "mentors.csv", "partnerships.csv", "plans.csv", "solution.json", "summary.csv",
                     "unmatched.csv"]
    sol = json.loads((out / "solution.json").read_text())
    with open(out / "partnerships.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["mentee"] for r in rows] == [p["mentee"] for p in sol["partnerships"]]
    # Solving again into the existing folder replaces the files (and nothing else).
    (out / "notes.txt").write_text("mine")
    r = CliRunner().invoke(cli, ["solve", str(DEMO), "-o", str(out), "--quiet", "--seed", "1"])
    assert r.exit_code == 0, r.output
    assert (out / "notes.txt").read_text() == "mine"
    assert json.loads((out / "solution.json").read_text())["stats"]["seed"] == 1


def test_outputs_that_cannot_be_written_fail_before_solving(tmp_path):
    runner = CliRunner()
    afile = tmp_path / "taken"
    afile.write_text("x")
    r = runner.invoke(cli, ["solve", str(DEMO), "-o", str(afile)])
    assert r.exit_code == 1 and "is a file" in r.output and afile.read_text() == "x"
    r = runner.invoke(cli, ["solve", str(DEMO), "-o", str(tmp_path / "r.pdf")])
    assert r.exit_code == 1 and "cannot write a solution as '.pdf'" in r.output
    src = tmp_path / "round"
    assert runner.invoke(cli, ["convert", str(DEMO), "-o", str(src)]).exit_code == 0
    before = {p.name: p.read_bytes() for p in src.iterdir()}
    r = runner.invoke(cli, ["solve", str(src), "-o", str(tmp_path)])
    assert r.exit_code == 1
    r = runner.invoke(cli, ["solve", str(src / "operators.csv"), "-o", str(tmp_path / "s.json")])
    assert r.exit_code == 1 and "give the folder" in r.output
    assert {p.name: p.read_bytes() for p in src.iterdir()} == before


def test_an_xlsx_instance_solves_to_the_same_answer_as_its_json(tmp_path):
    runner = CliRunner()
    book = tmp_path / "demo.xlsx"
    assert runner.invoke(cli, ["convert", str(DEMO), "-o", str(book)]).exit_code == 0
    for src, out in ((DEMO, tmp_path / "a.json"), (book, tmp_path / "b.json")):
        assert runner.invoke(cli, ["solve", str(src), "-o", str(out), "--quiet"]).exit_code == 0
    a, b = load_solution(tmp_path / "a.json"), load_solution(tmp_path / "b.json")
    assert a.objective == b.objective and a.partnerships == b.partnerships
    assert a.instance.sha256 != b.instance.sha256  # each names the bytes it was solved from
    r = runner.invoke(cli, ["verify", str(book), str(tmp_path / "b.json")])
    assert r.exit_code == 0, r.output
