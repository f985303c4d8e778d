"""Inputs that used to crash a reader (issue 19, item 1): each is a located problem, exit 1
on the command line, never a traceback."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from wopmatch.cli.main import cli
from wopmatch.generator import generate
from wopmatch.models import load_instance
from wopmatch.models.io import instance_files, write_folder_atomic

ROOT = Path(__file__).resolve().parent.parent


def _json(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "r.json"
    path.write_text(text)
    return path


def _damaged_workbook(tmp_path: Path) -> Path:
    out = tmp_path / "damaged.xlsx"
    with zipfile.ZipFile(ROOT / "instances" / "demo.xlsx") as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.endswith("sheet2.xml"):
                data = data[: len(data) // 2]  # its XML cut short
            zout.writestr(item, data)
    return out


def _huge_cell(tmp_path: Path) -> Path:
    folder = tmp_path / "csv"
    write_folder_atomic(folder, instance_files(load_instance(ROOT / "instances" / "demo.json").instance, "csv"))
    lines = (folder / "operators.csv").read_text().split("\n")
    lines[1] = lines[1].replace("Synthetic", "x" * 140_000, 1)
    (folder / "operators.csv").write_text("\n".join(lines))
    return folder


def _round(mutate) -> str:
    raw = generate(6, 3, donors=1, seed=2)
    mutate(raw)
    return json.dumps(raw)


CASES = {
    "a 5,000-digit integer": (lambda t: _json(t, '{"operators": [], "donors": [{"id": "D", "budget": '
                                                 + "9" * 5000 + "}]}"), "more than 4,300 digits"),
    "a list as a work area": (lambda t: _json(t, _round(lambda r: r["donors"][0].update(work_areas=[["septage"]]))),
                              "expected text, got ['septage']"),
    "a list as a pinned mentee": (lambda t: _json(t, _round(lambda r: r.update(
        pinned=[{"mentee": ["x"], "mentor": r["operators"][1]["id"]}]))), "expected text, got ['x']"),
    "an object as a forbidden mentor": (lambda t: _json(t, _round(lambda r: r.update(
        forbidden=[{"mentee": r["operators"][0]["id"], "mentor": {"id": "x"}}]))), "expected text"),
    "a damaged workbook sheet": (_damaged_workbook, "the sheet is damaged"),
    "a CSV cell over 131,072 characters": (_huge_cell, "longer than 131,072 characters"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_input_is_a_located_problem_not_a_traceback(tmp_path, case):
    make, words = CASES[case]
    path = make(tmp_path)
    runner = CliRunner()
    for args in (["validate", str(path)], ["solve", str(path), "-o", str(tmp_path / "s.json")]):
        r = runner.invoke(cli, args)
        assert r.exit_code == 1, r.output
        assert words in r.output and "Traceback" not in r.output, r.output
        assert not isinstance(r.exception, Exception) or isinstance(r.exception, SystemExit)
    assert not (tmp_path / "s.json").exists()
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_a_solve_past_its_time_limit_says_so(monkeypatch):
    from wopmatch.models import parse_instance
    from wopmatch.solver import SolveOptions, api, solve

    inst = parse_instance(generate(40, 12, seed=3))  # budget-free: the flow, which a limit does not stop
    quick = solve(inst, "0" * 64, SolveOptions(time_limit=5))
    assert quick.message is None  # within its limit: nothing to say
    real = api.solve_preferring

    def slow_solve(*args, **kw):  # the same answer, as if its solve had taken 100 s
        s = real(*args, **kw)
        return s.model_copy(update={"stats": s.stats.model_copy(update={"solve_seconds": 100.0})})

    monkeypatch.setattr(api, "solve_preferring", slow_solve)
    slow = solve(inst, "0" * 64, SolveOptions(time_limit=5))
    assert slow.status == "optimal" and "past the time limit of 5 s" in (slow.message or ""), slow.message
    assert solve(inst, "0" * 64, SolveOptions()).message is None  # no limit, nothing to say


def test_a_path_the_system_refuses_is_one_line_not_a_traceback(tmp_path):
    """A name too long for the file system, as an input, an output, a scenario set's base."""
    runner = CliRunner()
    long = str(tmp_path / ("x" * 300))
    demo = str(ROOT / "instances" / "demo.json")
    (tmp_path / "set.yaml").write_text(f"base: {'x' * 300}.json\nscenarios: [{{name: a}}]\n")
    for args in (["validate", long + ".json"], ["solve", demo, "-o", long + ".json"],
                 ["scenarios", demo, "--budget-scale", "1", "-o", long], ["validate", str(tmp_path / "set.yaml")]):
        r = runner.invoke(cli, args)
        assert r.exit_code == 1 and "File name too long" in r.output and "Traceback" not in r.output, (args, r.output)
        assert isinstance(r.exception, SystemExit), (args, repr(r.exception))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set.yaml"]  # nothing written
