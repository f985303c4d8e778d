"""Donor scenarios: the set file, its checks, the sweep on a process pool and on a
Dask LocalCluster, with a worker killed mid-sweep (issue: donor scenarios)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from unittest import mock

import pytest
from click.testing import CliRunner
from helpers import parse

from wopmatch.cli.main import cli
from wopmatch.generator import generate
from wopmatch.models import InputError, Solution, load_instance
from wopmatch.models.scenarios import (
    Scenario,
    ScenarioSet,
    apply_changes,
    budget_grid,
    grid_scenarios,
    parse_scenario_set,
    read_scenario_set,
)
from wopmatch.scenarios.runner import build_tasks, run_sweep
from wopmatch.solver.verify import verify_solution

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def base():
    return parse(generate(40, 10, donors=3, seed=8))


def _set(**kw) -> ScenarioSet:
    return parse_scenario_set({"format": "wopmatch.scenarios/1", "base": "base.json", **kw})


def _problems(exc: pytest.ExceptionInfo) -> list[str]:
    return [str(p) for p in exc.value.problems]


def test_changes_apply_as_documented(base):
    d0, d1 = base.donors[0], base.donors[1]
    sc = Scenario.model_validate({"name": "all", "changes": [
        {"op": "scale_budget", "factor": 1.5, "donors": [d0.id]},
        {"op": "set_budget", "donor": d1.id, "budget": 7},
        {"op": "donor_rules", "donor": d0.id, "regions": None, "max_grant": 12345},
        {"op": "add_donor", "donor": {"id": "NEW", "budget": 100, "countries": ["KE"]}},
        {"op": "remove_donor", "donor": base.donors[2].id},
        {"op": "costs", "set": {"per_km": 2.0, "default_distance_km": {"same_region": 900}}},
        {"op": "rules", "set": {"language": "ignore"}}]})
    inst = apply_changes(base, sc, "scenarios[0]")
    donors = {d.id: d for d in inst.donors}
    assert donors[d0.id].budget == round(d0.budget * 1.5)
    assert donors[d0.id].regions is None and donors[d0.id].max_grant == 12345
    assert donors[d0.id].work_areas == d0.work_areas  # a field left out is kept
    assert donors[d1.id].budget == 7
    assert donors["NEW"].countries == ["KE"] and base.donors[2].id not in donors
    assert inst.costs.per_km == 2.0 and inst.costs.default_distance_km.same_region == 900
    assert inst.costs.default_distance_km.cross_region == base.costs.default_distance_km.cross_region
    assert inst.rules.language == "ignore"
    assert inst.operators == base.operators  # nothing else moved
    assert base.donors[0].budget == d0.budget  # the base is untouched
    # written out (set.json) and read back, a null still removes and a field left out is still kept
    again = Scenario.model_validate_json(sc.model_dump_json(exclude_unset=True))
    assert apply_changes(base, again, "scenarios[0]") == inst


def test_every_problem_is_named_by_scenario_change_and_field(base):
    with pytest.raises(InputError) as exc:
        _set(scenarios=[{"name": "ok"}, {"name": "ok"}, {"name": "../escape"},
                        {"name": "x", "changes": [{"op": "scale_budget", "factor": -1}]},
                        {"name": "y", "changes": [{"op": "no_such_op"}]}])
    got = _problems(exc)
    assert any(p.startswith("scenarios[2].name") for p in got)
    assert any(p.startswith("scenarios[3].changes[0].scale_budget.factor") for p in got)
    assert any(p.startswith("scenarios[4].changes[0]") and "no_such_op" in p for p in got)
    with pytest.raises(InputError) as exc:
        parse_scenario_set({"base": "b.json", "scenarios": [{"name": "a"}, {"name": "a"}]})
    assert _problems(exc) == ["scenarios[1].name: duplicate name 'a' (first at scenarios[0])"]
    sset = _set(scenarios=[
        {"name": "unknown-donor", "changes": [{"op": "set_budget", "donor": "NOPE", "budget": 1}]},
        {"name": "bad-cost", "changes": [{"op": "costs", "set": {"per_km": -3}}]},
        {"name": "bad-policy", "policy": "optimum"},
        {"name": "fine-max-min", "policy": "max-min"},
        {"name": "fine"}])
    with pytest.raises(InputError) as exc:
        build_tasks(sset, base)
    got = _problems(exc)
    assert len(got) == 3, got
    assert got[0].startswith("scenarios[0] (unknown-donor).changes[0].donor: unknown donor 'NOPE'")
    assert got[1].startswith("scenarios[1] (bad-cost) (the changed instance): costs.per_km")
    assert got[2].startswith("scenarios[2] (bad-policy).policy") and "valid policies" in got[2]


def test_yaml_sets_and_their_syntax_errors(tmp_path):
    good = tmp_path / "s.yaml"
    good.write_text("base: round.json\nscenarios:\n  - name: a\n    changes:\n      - {op: scale_budget, factor: 2}\n")
    s = read_scenario_set(good)
    assert s.scenarios[0].changes[0].factor == 2.0
    bad = tmp_path / "bad.yaml"
    bad.write_text("base: round.json\nscenarios:\n  - name: [a\n")
    with pytest.raises(InputError) as exc:
        read_scenario_set(bad)
    assert "malformed YAML at line" in _problems(exc)[0]


def test_budget_grid():
    assert budget_grid("0.25:2.0:0.25") == [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]
    assert budget_grid("1.5") == [1.5]
    for bad in ("1:0:0.5", "a:b:c", "0:1", "0:1:0", "-1:1:1", "0:1e9:1"):
        with pytest.raises(ValueError):
            budget_grid(bad)
    names = [s.name for s in grid_scenarios([0.5, 1.0], ["ADB WOP"])]
    assert names == ["ADB_WOP-x0.5", "ADB_WOP-x1"]


def test_a_sets_solves_are_limited_by_work_not_the_clock(base):
    """Without a method or node limit in the set, every task runs auto (the donor engine
    limits its own work) with no time limit; a set's node limit reaches every task."""
    sset = _set(scenarios=[{"name": "a"}, {"name": "b", "policy": "max-min"}])
    tasks = build_tasks(sset, base)
    assert [(t.method, t.node_limit) for t in tasks] == [("auto", None), ("auto", None)]
    assert all(t.options().time_limit is None for t in tasks)
    limited = build_tasks(sset.model_copy(update={"node_limit": 50}), base)
    assert {t.node_limit for t in limited} == {50}


def _grid_tasks(base, n=6):
    sset = ScenarioSet(base="b.json", scenarios=[Scenario(name="base"),
                                                 *grid_scenarios([0.25 * k for k in range(1, n)], None),
                                                 Scenario(name="greedy", policy="greedy")])
    return build_tasks(sset, base)


def _answers(outdir: Path, tasks) -> dict[str, tuple]:
    """Each scenario's answer, re-checked by the verifier against its own instance file."""
    out = {}
    for t in tasks:
        inst = load_instance(outdir / "instances" / f"{t.name}.json")
        sol = Solution.model_validate_json((outdir / "solutions" / f"{t.name}.json").read_bytes())
        assert sol.instance.sha256 == inst.sha256
        assert verify_solution(inst.instance, sol) == []
        out[t.name] = (sol.status, sol.objective, sol.bound, [(p.mentee, p.mentor, p.donor) for p in sol.partnerships])
    return out


def _kill_one_child(pids_seen: list[int]) -> None:
    """SIGKILL one worker process: a child of this process started by multiprocessing's
    spawn (not its resource tracker)."""
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if ppid == me and b"spawn_main" in cmd:
            os.kill(int(entry), signal.SIGKILL)
            pids_seen.append(int(entry))
            return


def test_local_pool_sweep_writes_verifiable_files_and_survives_a_killed_worker(base, tmp_path):
    tasks = _grid_tasks(base)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "scenarios.csv").write_text("an earlier sweep's table\n")
    first = run_sweep(tasks, tmp_path / "a", workers=2)
    assert not (tmp_path / "a" / "scenarios.csv").exists()  # the table comes after, from these answers
    assert first.retried == 0 and all(o.error is None for o in first.outcomes.values())
    killed: list[int] = []

    def on_done(o):
        if not killed:
            _kill_one_child(killed)

    again = run_sweep(tasks, tmp_path / "b", workers=2, on_done=on_done)
    assert killed, "no worker process was found to kill"
    assert all(o.error is None for o in again.outcomes.values())
    assert _answers(tmp_path / "a", tasks) == _answers(tmp_path / "b", tasks)


def test_dask_local_cluster_gives_the_same_answers_with_a_worker_killed(base, tmp_path):
    pytest.importorskip("distributed")
    tasks = _grid_tasks(base)
    run_sweep(tasks, tmp_path / "pool", workers=2)
    killed: list[int] = []

    def on_done(o):
        if not killed:
            _kill_one_child(killed)

    res = run_sweep(tasks, tmp_path / "dask", workers=2, dask="local", on_done=on_done)
    assert killed, "no Dask worker process was found to kill"
    assert "LocalCluster" in res.executor
    assert all(o.error is None for o in res.outcomes.values()) and len(res.outcomes) == len(tasks)
    assert _answers(tmp_path / "pool", tasks) == _answers(tmp_path / "dask", tasks)


def test_cli_grid_and_set_and_bad_input(tmp_path):
    inst = tmp_path / "round.json"
    inst.write_text(json.dumps(generate(30, 8, donors=2, seed=3)))
    runner = CliRunner()
    out = tmp_path / "out"
    r = runner.invoke(cli, ["scenarios", str(inst), "--budget-scale", "0.5:1.5:0.5", "-o", str(out), "--workers", "2",
                            "--quiet"])
    assert r.exit_code == 0, r.output
    lines = (out / "scenarios.csv").read_text().splitlines()
    assert len(lines) == 1 + 3 and lines[1].startswith("budget-x0.5,")
    assert (out / "frontier.png").stat().st_size > 0 and (out / "donors.png").stat().st_size > 0
    assert "| budget-x1 |" in (out / "scenarios.md").read_text()
    r = runner.invoke(cli, ["verify", str(out / "instances" / "budget-x1.5.json"),
                            str(out / "solutions" / "budget-x1.5.json")])
    assert r.exit_code == 0, r.output

    bad = tmp_path / "set.json"
    bad.write_text(json.dumps({"base": "round.json", "scenarios": [
        {"name": "a", "changes": [{"op": "remove_donor", "donor": "NOPE"}]}]}))
    out2 = tmp_path / "out2"
    r = runner.invoke(cli, ["scenarios", str(bad), "-o", str(out2)])
    assert r.exit_code == 1 and "scenarios[0] (a).changes[0].donor: unknown donor 'NOPE'" in r.output
    assert not out2.exists()  # nothing is written before every scenario checks out
    r = runner.invoke(cli, ["scenarios", str(inst), "--budget-scale", "2:1:1", "-o", str(out2)])
    assert r.exit_code == 2 and "--budget-scale" in r.output
    r = runner.invoke(cli, ["scenarios", str(inst), "-o", str(out2)])
    assert r.exit_code == 1 and "no scenario" in r.output
    r = runner.invoke(cli, ["scenarios", str(inst), "--donor", "X", "-o", str(out2)])
    assert r.exit_code == 2
    with mock.patch("wopmatch.scenarios.runner.DASK_CONNECT_SECONDS", 1.0):  # not the 10 s a user gets
        r = runner.invoke(cli, ["scenarios", str(inst), "--budget-scale", "1", "-o", str(out2), "--dask",
                                "tcp://127.0.0.1:9"])  # nothing listens there
    assert r.exit_code == 1 and "cannot reach the Dask scheduler" in r.output
    assert not out2.exists()


def test_shipped_example_set_is_valid():
    sset = read_scenario_set(ROOT / "instances" / "demo-scenarios.yaml")
    base = load_instance(ROOT / "instances" / sset.base).instance
    tasks = build_tasks(sset, base)
    assert len(tasks) == len(sset.scenarios) >= 8


def test_the_sweep_table_fits_80_columns_without_cutting_names():
    from rich.console import Console

    from wopmatch.scenarios.cli import _print_table

    rows = [{"scenario": name, "policy": policy, "status": "feasible", "matched": 1041, "coverage": 1315.5,
             "quality": 1029.123, "cost": 31_700_123, "total_budget": 53_900_000, "budget_used": 0.589,
             "gap_coverage": 0.0017} for name, policy in (("plus-100k-donor-03", "optimal"),
                                                          ("language-ignored", "optimal"), ("base", "greedy"))]
    for width in (80, 120):
        console = Console(width=width, record=True, color_system=None)
        _print_table(console, rows)
        text = console.export_text()
        assert max(len(line) for line in text.splitlines()) <= width and "…" not in text
        assert "policy optimal" in text and "(greedy)" in text
        assert ("total budget" in text) == (width >= 100)
        first = "".join(line.replace("│", " ").split()[0] for line in text.splitlines() if line.strip())
        assert "plus-100k-donor-03" in first and "language-ignored" in first  # folded at 80 columns, not cut
        # one rule for every figure: thousands separators on counts and weights, one decimal on shares
        assert "1,315.5" in text and "1,041" in text and "58.9%" in text and "0.2%" in text
    proven = [dict(r, status="optimal", gap_coverage=0.0) for r in rows]
    console = Console(width=80, record=True, color_system=None)
    _print_table(console, proven)
    text = console.export_text()
    assert "every answer proven optimal" in text and "feasible" not in text and " gap" not in text


def test_a_budget_sweep_of_a_round_without_donors_is_refused_before_solving(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(generate(10, 3, seed=2)))
    r = CliRunner().invoke(cli, ["scenarios", str(path), "--budget-scale", "0.5:1.5:0.5", "-o", str(tmp_path / "o")])
    assert r.exit_code == 1 and "this round has no donors" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "o").exists()
