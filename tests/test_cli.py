"""The command line: exit codes, messages, atomic and non-destructive writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import BAD_CASES, base_instance

from wopmatch.cli.main import cli
from wopmatch.models import load_instance, load_solution
from wopmatch.solver.verify import verify_solution

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "instances" / "demo.json"
TIMING_KEYS = ("build_seconds", "solve_seconds", "verify_seconds")


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)

    return invoke


def test_validate_accepts_the_demo(run):
    r = run("validate", DEMO)
    assert r.exit_code == 0 and "valid" in r.output


def test_solve_writes_a_verified_solution(run, tmp_path):
    out = tmp_path / "s.json"
    r = run("solve", DEMO, "-o", out)
    assert r.exit_code == 0, r.output
    assert "coverage" in r.output and "unmatched mentees by reason" in r.output
    sol = load_solution(out)
    loaded = load_instance(DEMO)
    assert sol.instance.sha256 == loaded.sha256
    assert sol.stats.seed == 0 and sol.stats.workers == 1 and "9.15" in sol.stats.solver  # no CP-SAT ran
    assert verify_solution(loaded.instance, sol, sha256=loaded.sha256) == []
    r = run("verify", DEMO, out)
    assert r.exit_code == 0 and "valid" in r.output


def _strip_timings(data: bytes) -> dict:
    doc = json.loads(data)
    for key in TIMING_KEYS:
        doc["stats"].pop(key)
    for stage in doc["stats"]["stages"]:
        stage.pop("seconds")
    return doc


@pytest.mark.parametrize("policy", ["optimal", "greedy"])
def test_same_seed_same_solution(run, tmp_path, policy):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    for path in (a, b):
        assert run("solve", DEMO, "-o", path, "--policy", policy, "--seed", 3, "--quiet").exit_code == 0
    assert _strip_timings(a.read_bytes()) == _strip_timings(b.read_bytes())


def test_verify_rejects_a_tampered_solution(run, tmp_path):
    out = tmp_path / "s.json"
    assert run("solve", DEMO, "-o", out, "--quiet").exit_code == 0
    doc = json.loads(out.read_text())
    doc["partnerships"][0]["cost"] += 1000
    out.write_text(json.dumps(doc))
    r = run("verify", DEMO, out)
    assert r.exit_code == 1 and "cost" in r.output


BAD_INPUTS = {
    "truncated.json": (b'{"operators": [{"id": "A"', "malformed JSON"),
    "negative.json": (json.dumps({"operators": [{"id": "A", "country": "PH", "region": "x", "languages": ["en"],
                                                 "mentor": {"capacity": -2}}]}).encode(),
                      "operators[0].mentor.capacity"),
    "level.json": (json.dumps({"operators": [{"id": "A", "country": "PH", "region": "x", "languages": ["en"],
                                              "mentee": {"needs": {"septage": 8}}}]}).encode(),
                   "operators[0].mentee.needs.septage"),
    "role.json": (json.dumps({"operators": [{"id": "A", "country": "PH", "region": "x", "languages": ["en"],
                                             "mentee": {"needs": {"septage": 3}}}],
                              "forbidden": [{"mentee": "A", "mentor": "A"}]}).encode(),
                  "forbidden[0].mentor"),
    "empty.json": (b"", "empty"),
    "words.txt": (b"hello", "unsupported instance format"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
@pytest.mark.parametrize("command", ["validate", "solve"])
def test_bad_input_exits_1_names_the_field_and_writes_nothing(run, tmp_path, name, command):
    data, words = BAD_INPUTS[name]
    src = tmp_path / name
    src.write_bytes(data)
    out = tmp_path / "out.json"
    out.write_text("previous result")
    args = ["solve", src, "-o", out] if command == "solve" else ["validate", src]
    r = run(*args)
    assert r.exit_code == 1
    assert words in r.output
    assert "Traceback" not in r.output
    assert out.read_text() == "previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, "out.json"])  # no temp files left


@pytest.mark.parametrize("mutate, path, words", BAD_CASES, ids=[c[1] for c in BAD_CASES])
@pytest.mark.parametrize("existing_output", [False, True])
def test_every_invalid_instance_is_refused_by_solve(run, tmp_path, mutate, path, words, existing_output):
    raw = base_instance()
    mutate(raw)
    src, out = tmp_path / "bad.json", tmp_path / "out.json"
    src.write_text(json.dumps(raw))
    if existing_output:
        out.write_text("previous result")
    r = run("solve", src, "-o", out)
    assert r.exit_code == 1
    assert any(line.strip().startswith(path + ":") and words in line for line in r.output.splitlines()), r.output
    assert "Traceback" not in r.output
    if existing_output:
        assert out.read_text() == "previous result"
    else:
        assert not out.exists()
    assert run("validate", src).exit_code == 1


def test_missing_file_and_missing_output_folder(run, tmp_path):
    r = run("solve", tmp_path / "nope.json", "-o", tmp_path / "s.json")
    assert r.exit_code == 1 and "no such file" in r.output
    r = run("solve", DEMO, "-o", tmp_path / "no" / "s.json")
    assert r.exit_code == 1 and "does not exist" in r.output


def test_solve_refuses_to_overwrite_its_input(run, tmp_path):
    src = tmp_path / "round.json"
    src.write_bytes(DEMO.read_bytes())
    r = run("solve", src, "-o", src)
    assert r.exit_code == 1 and "is the input" in r.output
    assert src.read_bytes() == DEMO.read_bytes()


def test_infeasible_pins_exit_1_and_name_the_mentor(run, tmp_path):
    out = tmp_path / "s.json"
    r = run("solve", ROOT / "instances" / "golden" / "pinned-overrun.json", "-o", out)
    assert r.exit_code == 1
    assert "infeasible" in r.output and "mentor M1" in r.output
    assert load_solution(out).status == "infeasible"


def test_solve_without_output_prints_the_summary_and_writes_nothing(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run("solve", DEMO, "--quiet")
    assert r.exit_code == 0 and "matched" in r.output and "nothing written" in r.output
    # the figures say what they count
    assert "priority weight of the matched mentees" in r.output and "weight x match score" in r.output
    assert "would both rather be together" in r.output
    assert list(tmp_path.iterdir()) == []


def test_usage_errors_exit_2(run, tmp_path):
    r = run("solve", DEMO, "-o", tmp_path / "s.json", "--policy", "magic")
    assert r.exit_code == 2 and "optimal" in r.output and "greedy" in r.output
    assert run("schema", "other").exit_code == 2
    assert run("frobnicate").exit_code == 2


def test_generate_is_byte_identical_for_a_seed(run, tmp_path):
    a, b, c = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    for path, seed in ((a, 7), (b, 7), (c, 8)):
        assert run("generate", "--mentees", 40, "--mentors", 12, "--donors", 3, "--seed", seed, "-o", path
                   ).exit_code == 0
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    inst = load_instance(a).instance
    assert sum(op.mentee is not None for op in inst.operators) == 40
    assert sum(op.mentor is not None for op in inst.operators) == 12
    assert len(inst.donors) == 3


@pytest.mark.parametrize("kind, title", [("instance", "Instance"), ("solution", "Solution"),
                                         ("scenarios", "ScenarioSet")])
def test_schema(run, kind, title):
    r = run("schema", kind)
    assert r.exit_code == 0
    assert json.loads(r.output)["title"] == title


def test_time_limit_returns_a_verified_solution(run, tmp_path):
    src, out = tmp_path / "i.json", tmp_path / "s.json"
    assert run("generate", "--mentees", 300, "--mentors", 70, "--donors", 3, "--seed", 1, "-o", src).exit_code == 0
    r = run("solve", src, "-o", out, "--time-limit", 0.05, "--quiet")
    assert r.exit_code == 0
    sol = load_solution(out)
    assert sol.status in ("optimal", "feasible")
    if sol.status == "feasible":
        assert sol.gap.coverage is not None and sol.message
    loaded = load_instance(src)
    assert verify_solution(loaded.instance, sol, sha256=loaded.sha256) == []


def test_a_solution_the_verifier_rejects_is_not_written(run, tmp_path, monkeypatch):
    import wopmatch.solver.api as api

    monkeypatch.setattr(api, "verify_solution", lambda *a, **k: ["mentor X: 3 partnerships exceed capacity 2"])
    out = tmp_path / "s.json"
    r = run("solve", DEMO, "-o", out)
    assert r.exit_code == 1
    assert "verifier rejected" in r.output and "mentor X" in r.output
    assert not out.exists()


@pytest.mark.parametrize("instance, method, words", [
    (DEMO, "flow", "does not model donor budgets"),
    (DEMO, "flow-pricing", "does not model donor budgets"),
    (ROOT / "instances" / "golden" / "budget-free.json", "colgen", "has none"),
])
def test_a_forced_method_that_cannot_apply_is_an_error(run, tmp_path, instance, method, words):
    out = tmp_path / "s.json"
    r = run("solve", instance, "-o", out, "--method", method)
    assert r.exit_code == 1 and words in r.output
    assert not out.exists()


@pytest.mark.parametrize("method", ["mip", "lagrangian-mip", "lagrangian"])
def test_a_deprecated_method_warns_and_runs_as_auto(run, tmp_path, method):
    golden = ROOT / "instances" / "golden" / "budget-free.json"
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert run("solve", golden, "-o", a, "--quiet").exit_code == 0
    r = run("solve", golden, "-o", b, "--quiet", "--method", method)
    assert r.exit_code == 0 and f"--method {method} is deprecated and runs as 'auto'" in r.output
    sa, sb = load_solution(a), load_solution(b)
    assert sa.stats.method == sb.stats.method == "staged-min-cost-flow"
    assert sa.objective == sb.objective and sa.partnerships == sb.partnerships
    assert any("deprecated" in w for w in sb.warnings or [])


def test_written_files_get_ordinary_permissions(run, tmp_path):
    import os
    import stat

    out = tmp_path / "s.json"
    assert run("solve", DEMO, "-o", out, "--quiet").exit_code == 0
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask
    out.chmod(0o640)  # an existing file keeps its mode
    assert run("solve", DEMO, "-o", out, "--quiet").exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o640


def test_verbose_logs_each_pricing_round_to_stderr(tmp_path):
    from wopmatch.generator import generate

    inst = tmp_path / "round.json"
    inst.write_text(json.dumps(generate(200, 60, seed=2)))
    r = CliRunner().invoke(cli, ["solve", str(inst), "-o", str(tmp_path / "s.json"), "--policy", "min-cost",
                                 "--method", "flow-pricing", "--quiet", "--verbose"])
    assert r.exit_code == 0, r.output
    rounds = [line for line in r.stderr.splitlines() if "pricing: stage" in line]
    assert rounds and rounds[-1].endswith("0 pairs to add")  # the last round proves the stage
    quiet = CliRunner().invoke(cli, ["solve", str(inst), "-o", str(tmp_path / "t.json"), "--policy", "min-cost",
                                     "--method", "flow-pricing", "--quiet"])
    assert quiet.exit_code == 0 and "pricing:" not in quiet.stderr


def test_every_option_of_every_command_is_described():
    import click

    from wopmatch.cli.main import cli as root

    missing = []

    def walk(cmd, path):
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                walk(sub, f"{path} {name}")
            return
        for p in cmd.params:
            if isinstance(p, click.Option) and p.name != "help" and not (p.help or "").strip():
                missing.append(f"{path} {p.opts[-1]}")

    walk(root, "wopmatch")
    assert missing == []


def test_docs_are_readable_from_the_installed_package(run):
    from wopmatch import guide

    topics = guide.topics()
    assert {"format", "policies", "model", "scenarios", "spreadsheets"} <= set(topics)
    r = run("docs")
    assert r.exit_code == 0 and all(name in r.output for name in topics)
    r = run("docs", "docs/format.md")  # as messages name it
    assert r.exit_code == 0 and r.output.startswith("# File formats")
    r = run("docs", "../../etc/passwd")
    assert r.exit_code == 1 and "no topic" in r.output
    # every docs/NAME.md a message, help or page of the package names is a topic
    import re
    from pathlib import Path

    import wopmatch

    named = set()
    for path in Path(wopmatch.__file__).parent.rglob("*"):
        if path.suffix in (".py", ".html", ".js", ".j2") and "docs" not in path.parts[-2:-1]:
            named |= set(re.findall(r"docs/([a-z_]+)\.md", path.read_text(encoding="utf-8")))
    assert named and named <= set(topics), named - set(topics)


def test_help_lists_every_command_once_by_task_in_whole_sentences():
    from wopmatch.cli.main import COMMAND_GROUPS

    listed = [name for _, rows in COMMAND_GROUPS for name, _ in rows]
    assert sorted(listed) == sorted(cli.commands) and len(set(listed)) == len(listed)
    assert all(text.endswith((".", "?")) for _, rows in COMMAND_GROUPS for _, text in rows)
    r = CliRunner().invoke(cli, ["--help"], terminal_width=80)
    assert r.exit_code == 0 and "..." not in r.output.split("Options:")[1] and "Other:" not in r.output
    assert max(len(line) for line in r.output.splitlines()) <= 80
    heads = [line for line in r.output.splitlines() if line and not line.startswith(" ") and line.endswith(":")]
    assert heads == ["Options:"] + [f"{title}:" for title, _ in COMMAND_GROUPS]
    assert r.output.index("  template ") < r.output.index("  solve ") < r.output.index("  bench ")


def test_the_demo_summary_fits_80_columns_and_its_percentages_read_alike(tmp_path):
    import re

    r = CliRunner().invoke(cli, ["solve", str(ROOT / "instances" / "demo.json")], terminal_width=80)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()  # warnings (stderr) are soft-wrapped by the terminal, as a sentence is
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    assert lines[0].startswith("Illustrative WOP round") and any("│ policy " in line for line in lines)
    shares = re.findall(r"(\d+(?:\.\d+)?)%", r.stdout)
    assert shares and all(re.fullmatch(r"\d+\.\d", x) for x in shares), shares  # "58.3%", "0.0%": one decimal
