"""The Python API (issue 20, docs/python.md): the walk-through runs as written, every
public name is documented and typed, bad input raises the project's own errors, and a
missing optional extra says what to install."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import wopmatch as wm

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "python.md"


def _blocks() -> list[str]:
    walk = GUIDE.read_text().split("## Reference")[0]
    return re.findall(r"```python\n(.*?)```", walk, flags=re.S)


def test_the_walk_through_runs_as_written(tmp_path, monkeypatch):
    pytest.importorskip("pandas")
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    blocks = _blocks()
    assert len(blocks) >= 8
    scope: dict = {}
    for k, code in enumerate(blocks):
        exec(compile(code, f"docs/python.md block {k + 1}", "exec"), scope)
    for name in ("coverage-by-region.png", "frontier.png", "times.png", "round.json", "solution.json",
                 "result.xlsx", "report.html", "policies.csv", "plans/index.html", "progress.xlsx",
                 "monitoring.html"):
        assert (tmp_path / name).stat().st_size > 0, name
    table = scope["table"]
    assert list(table.index) == list(wm.POLICY_NAMES)
    assert set(table["policy"]) == set(wm.POLICY_NAMES)
    best = table.loc["optimal", "coverage"]
    assert all(table["coverage"] <= best + 1e-9)  # optimal covers at least as much as any other policy
    frontier = scope["frontier"].table()
    opt = frontier[frontier["policy"] == "optimal"].sort_values("factor")
    assert list(opt["coverage"]) == sorted(opt["coverage"])  # more money never covers less


def test_every_public_name_is_documented_and_typed():
    assert sorted(wm.__all__) == sorted(set(wm.__all__))
    guide = GUIDE.read_text()
    for name in wm.__all__:
        obj = getattr(wm, name)
        if name.isupper() or name == "__version__":
            continue
        assert (inspect.getdoc(obj) or "").strip(), f"wopmatch.{name} has no docstring"
        assert f"`{name}" in guide, f"docs/python.md does not list wopmatch.{name}"
        if inspect.isfunction(obj):
            sig = inspect.signature(obj)
            untyped = [p for p, v in sig.parameters.items() if v.annotation is inspect.Parameter.empty]
            assert not untyped, f"wopmatch.{name}: parameters without a type: {untyped}"
            assert sig.return_annotation is not inspect.Signature.empty, f"wopmatch.{name} has no return type"
            if name not in ("options", "sha256_of"):
                assert "Returns" in inspect.getdoc(obj), f"wopmatch.{name}: no Returns section"


def test_generate_and_write_give_the_bytes_of_the_command_line(tmp_path):
    wm.write(wm.generate(40, 12, donors=2, seed=5), tmp_path / "api.json")
    subprocess.run([str(Path(sys.executable).parent / "wopmatch"), "generate", "--mentees", "40", "--mentors", "12",
                    "--donors", "2", "--seed", "5", "-o", str(tmp_path / "cli.json")], check=True,
                   capture_output=True)
    assert (tmp_path / "api.json").read_bytes() == (tmp_path / "cli.json").read_bytes()


def test_bad_input_raises_the_projects_errors_with_located_problems(tmp_path):
    round_ = wm.generate(20, 6, seed=1)
    cases = [
        (lambda: wm.solve(round_, "optimal", time_limit=-5), "time_limit: must be more than 0, got -5"),
        (lambda: wm.solve(round_, "fastest"), "policy: "),
        (lambda: wm.load({"operators": 3}), "operators: expected a list, got 3"),
        (lambda: wm.load(tmp_path / "missing.json"), "no such file"),
        (lambda: wm.generate(-1, 3), "mentees: expected a whole number of 0 or more, got -1"),
        (lambda: wm.generate("10", 3), "got '10'"),
        (lambda: wm.solve(123), "expected an Instance, a dict or a path, got int 123"),
        (lambda: wm.explain(wm.solve(round_), "NOBODY"), "no mentee 'NOBODY'"),
        (lambda: wm.compare(round_, ["optimal", "best"]), "unknown policy 'best'"),
        (lambda: wm.compare(round_, ["greedy"], scenarios=[{"name": "x", "changes": [{"op": "set_budget",
                                                                                       "donor": "D", "budget": 1}]}]),
         "unknown donor 'D'"),
        (lambda: wm.solve(round_, keep_stable=True), "keep_stable: needs previous="),
        (lambda: wm.write(wm.solve(round_), tmp_path / "r.xlsx"), "needs instance="),
        (lambda: wm.write(wm.solve(round_), tmp_path / "out.txt"), "a solution is written as .json, .xlsx"),
        (lambda: wm.sweep_budgets(round_, [1, -1]), "got -1.0"),
        (lambda: wm.sweep_budgets(wm.generate(10, 3, seed=1), [0.5, 1]), "this round has no donors"),
        (lambda: wm.compare(round_, ["greedy"], timelimit=5), "timelimit: unknown option; did you mean 'time_limit'?"),
        (lambda: wm.compare(round_, ["greedy"], threads=0), "threads: must be at least 1, got 0"),
    ]
    for call, words in cases:
        with pytest.raises(wm.InputError) as caught:
            call()
        assert words in str(caught.value), (words, str(caught.value))
    assert not list(tmp_path.iterdir())  # nothing half-written
    for call in (lambda: wm.load(tmp_path / "missing.json"), lambda: wm.load_solution(tmp_path / "missing.json")):
        with pytest.raises(FileNotFoundError, match="no such file"):  # as open() and pandas raise
            call()


def test_a_table_without_pandas_says_what_to_install(monkeypatch):
    solution = wm.solve(wm.generate(20, 6, seed=1), "greedy")
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now fails
    with pytest.raises(wm.MissingExtraError, match=r"pip install 'wopmatch\[notebook\]'"):
        wm.partnerships(solution)


def test_solve_records_the_files_hash_or_the_json_it_would_write(tmp_path):
    round_ = wm.generate(20, 6, seed=1)
    wm.write(round_, tmp_path / "r.json")
    from_file = wm.solve(tmp_path / "r.json", "greedy")
    in_memory = wm.solve(round_, "greedy")
    assert from_file.instance.sha256 == in_memory.instance.sha256 == wm.sha256_of(round_)
    assert wm.verify(tmp_path / "r.json", from_file) == []
    assert json.loads((tmp_path / "r.json").read_text())["operators"]


def test_solve_defaults_are_the_command_lines():
    """wm.solve(round) runs what `wopmatch solve ROUND` runs: the same defaults."""
    from wopmatch.solver import SolveOptions

    defaults = SolveOptions()
    params = inspect.signature(wm.solve).parameters
    for name, field in (("threads", "workers"), ("seed", "seed"), ("method", "method"), ("policy", "policy"),
                        ("group_by", "group_by"), ("alternates", "alternates")):
        assert params[name].default == getattr(defaults, field), name


def test_bad_input_is_a_value_error_and_tables_name_donors_alike():
    """Habits from pandas and scikit-learn (issue 33): a bad argument is a ValueError; every table
    calls the donor's id column ``donor``."""
    pytest.importorskip("pandas")
    with pytest.raises(ValueError) as exc:
        wm.generate(-1, 5)
    assert isinstance(exc.value, wm.InputError)
    s = wm.solve(wm.generate(30, 8, donors=2, seed=1), "greedy")
    assert list(wm.donor_use(s).columns)[0] == "donor" and "donor" in wm.partnerships(s).columns


def test_pandas_habits_seed_none_draws_one_and_missing_numbers_are_nan(capsys, monkeypatch):
    pytest.importorskip("pandas")
    import math

    r = wm.generate(20, 6, donors=2, seed=None)
    drawn = int(r.name.rsplit("seed ", 1)[1])
    assert wm.generate(20, 6, donors=2, seed=drawn) == r  # the drawn seed repeats the round
    a, b = wm.solve(r, "random", seed=None), wm.solve(r, "random", seed=None)
    assert {a.stats.seed, b.stats.seed} != {0} and wm.solve(r, "random", seed=a.stats.seed).partnerships == \
        a.partnerships
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # stderr taken for a terminal: the bar is drawn
    table = wm.compare(r, ["greedy", "optimal"]).table()
    assert "compare" in capsys.readouterr().err
    assert table["gap_quality"].dtype.kind == "f" and math.isnan(table.loc["greedy", "gap_quality"])
    assert table.loc["optimal", "gap_quality"] == 0.0
    wm.compare(r, ["greedy"], progress=False)
    assert "compare" not in capsys.readouterr().err


def test_plot_times_labels_each_size_once_even_for_one_size():
    pytest.importorskip("matplotlib")
    pytest.importorskip("pandas")
    table = wm.compare(wm.generate(30, 8, seed=2), ["greedy", "stable"], progress=False).table()
    fig = wm.plot_times(table)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    minor = [t.get_text() for t in ax.get_xticklabels(minor=True) if t.get_text()]
    assert labels == ["30"] and not minor
