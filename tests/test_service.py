"""The HTTP service against a real `wopmatch serve` on loopback (issue: the solver service)."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import openpyxl
import pytest
from servicekit import OTHER_TOKEN, TOKEN, Server, wait_for

from wopmatch.generator import generate
from wopmatch.models import Solution, load_instance, parse_instance
from wopmatch.models.problems import InputError
from wopmatch.solver.verify import verify_solution

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "instances" / "demo.json"
DEMO_XLSX = ROOT / "instances" / "demo.xlsx"

pytest.importorskip("fastapi")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("svc") / "data", "--workers", "2", "--max-body-mib", "1").start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def client(server):
    with server.client() as c:
        yield c


def _demo() -> dict:
    return json.loads(DEMO.read_text())


def _long() -> dict:
    """A round whose optimal solve takes about 12 s (1,000 x 250, 5 donors), while its
    greedy start takes a third of a second: what cancel and the time cap act on."""
    return generate(1000, 250, donors=5, seed=7, needs="legacy")


def _verified(client, job_id: str) -> Solution:
    sol = Solution.model_validate(client.get(f"/v1/jobs/{job_id}/solution").json())
    inst = parse_instance(client.get(f"/v1/jobs/{job_id}/input").json())
    assert verify_solution(inst, sol) == []
    return sol


def test_health_is_open_and_everything_else_needs_a_valid_token(server):
    with server.client(token=None) as anon:
        assert anon.get("/v1/health").json()["status"] == "ok"
        for method, path in [("POST", "/v1/validate"), ("POST", "/v1/jobs"), ("GET", "/v1/jobs"),
                             ("GET", "/v1/jobs/" + "0" * 32), ("POST", "/v1/scenarios")]:
            r = anon.request(method, path, json={})
            assert r.status_code == 401, (path, r.text)
            assert r.headers["www-authenticate"] == "Bearer"
    with server.client(token="not-a-token-of-this-service") as bad:
        assert bad.get("/v1/jobs").status_code == 401
    with server.client(token=TOKEN[:-1]) as almost:
        assert almost.get("/v1/jobs").status_code == 401


def test_the_guide_is_served_without_a_token(server):
    with server.client(token=None) as anon:
        topics = anon.get("/guide").json()
        assert "policies" in topics
        r = anon.get("/guide/policies")
        assert r.status_code == 200 and r.text.startswith("# Matching policies")
        assert r.headers["content-type"].startswith("text/markdown")
        assert anon.get("/guide/..%2F..%2Fpyproject.toml").status_code == 404
        page = anon.get("/").text
        assert 'href="/guide/policies"' in page and "docs/policies.md" not in page


def test_validation_errors_are_the_clis(client, tmp_path):
    raw = _demo()
    raw["operators"][3]["mentor"]["capacity"] = -2
    raw["operators"][5]["languages"] = "en"
    del raw["operators"][7]["region"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(raw))
    with pytest.raises(InputError) as cli:
        load_instance(bad)
    r = client.post("/v1/validate", json=raw)
    assert r.status_code == 422
    assert [(p["where"], p["message"]) for p in r.json()["problems"]] == \
        [(p.where, p.message) for p in cli.value.problems]
    assert len(r.json()["problems"]) >= 3
    ok = client.post("/v1/validate", json=_demo())
    assert ok.status_code == 200 and ok.json()["mentees"] == 46 and ok.json()["donors"] == 4
    from wopmatch.models import instance_warnings

    assert ok.json()["warnings"] == [w.message for w in instance_warnings(load_instance(DEMO).instance)] != []


def test_hostile_bodies_are_422_not_500(client):
    raw = _demo()
    raw["pinned"] = [{"mentee": ["x"], "mentor": {"id": 1}}]
    raw["donors"][0]["work_areas"] = [["septage"]]
    for body in (json.dumps(raw).encode(), b'{"operators": [], "donors": [{"id": "D", "budget": ' + b"9" * 5000
                 + b"}]}"):
        for route in ("/v1/validate", "/v1/jobs"):
            r = client.post(route, content=body, headers={"content-type": "application/json"})
            assert r.status_code == 422, (route, r.status_code, r.text[:300])


def test_an_upload_with_two_files_or_a_bad_option_is_refused(client):
    demo = DEMO.read_bytes()
    empty = json.dumps({"operators": []}).encode()
    for route in ("/v1/validate/upload", "/v1/jobs/upload"):
        r = client.post(route, files=[("file", ("a.json", empty)), ("file", ("demo.json", demo))])
        assert r.status_code == 422 and "sent 2 times" in r.text, (route, r.text)
    for field, value in (("policy", "magic"), ("time_limit", "-3"), ("seed", "x")):
        r = client.post("/v1/validate/upload", files={"file": ("demo.json", demo)}, data={field: value})
        assert r.status_code == 422 and field in r.text, (field, r.text)
    ok = client.post("/v1/validate/upload", files={"file": ("demo.json", demo)}, data={"policy": "greedy"})
    assert ok.status_code == 200


def test_an_uploaded_workbook_is_read_as_the_cli_reads_it(client, tmp_path):
    r = client.post("/v1/validate/upload", files={"file": ("demo.xlsx", DEMO_XLSX.read_bytes())})
    assert r.status_code == 200, r.text
    assert r.json()["operators"] == len(load_instance(DEMO_XLSX).instance.operators)
    wb = openpyxl.load_workbook(DEMO_XLSX)
    ws = wb["operators"]
    header = [c.value for c in ws[1]]
    ws.cell(row=4, column=header.index("mentor_capacity") + 1, value="many")
    broken = tmp_path / "broken.xlsx"
    wb.save(broken)
    with pytest.raises(InputError) as cli:
        load_instance(broken)
    r = client.post("/v1/validate/upload", files={"file": ("broken.xlsx", broken.read_bytes())})
    assert r.status_code == 422
    assert [p["message"] for p in r.json()["problems"]] == [p.message for p in cli.value.problems]
    assert any("mentor_capacity" in p["where"] for p in r.json()["problems"])


def test_a_solve_job_runs_to_a_verified_solution_in_every_format(client):
    r = client.post("/v1/jobs", json={"instance": _demo(), "policy": "optimal", "seed": 3})
    assert r.status_code == 202 and r.headers["location"] == f"/v1/jobs/{r.json()['id']}"
    job = wait_for(client, r.json()["id"])
    assert job["state"] == "done", job
    assert job["summary"]["status"] == "optimal" and job["summary"]["verified"]
    sol = _verified(client, job["id"])
    assert sol.stats.seed == 3 and sol.objective.coverage == job["summary"]["coverage"]
    wb = openpyxl.load_workbook(io.BytesIO(client.get(f"/v1/jobs/{job['id']}/solution.xlsx").content))
    assert "partnerships" in wb.sheetnames and wb["partnerships"].max_row == len(sol.partnerships) + 1
    html = client.get(f"/v1/jobs/{job['id']}/report")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert sol.partnerships[0].mentee in html.text
    assert job["id"] in [j["id"] for j in client.get("/v1/jobs").json()]


def test_an_uploaded_workbook_solves_like_its_json(client):
    r = client.post("/v1/jobs/upload", files={"file": ("demo.xlsx", DEMO_XLSX.read_bytes())},
                    data={"policy": "greedy"})
    assert r.status_code == 202, r.text
    job = wait_for(client, r.json()["id"])
    assert job["state"] == "done" and job["request"]["policy"] == "greedy"
    assert len(_verified(client, job["id"]).partnerships) == job["summary"]["matched"]


def test_options_a_solve_would_refuse_are_refused_before_queueing(client):
    free = generate(30, 10, seed=2)
    r = client.post("/v1/jobs", json={"instance": generate(30, 10, seed=2), "policy": "max-min", "method": "colgen"})
    assert r.status_code == 422 and r.json()["problems"][0]["where"] == "method"
    r = client.post("/v1/jobs", json={"instance": free, "policy": "greedy", "method": "flow"})
    assert r.status_code == 422 and r.json()["problems"][0]["where"] == "method"
    r = client.post("/v1/jobs", json={"instance": free, "policy": "nope"})
    assert r.status_code == 422 and r.json()["problems"][0]["where"] == "body.policy"
    r = client.post("/v1/jobs", json={"instance": free, "time_limit": -1})
    assert r.status_code == 422 and r.json()["problems"][0]["where"] == "body.time_limit"


def test_an_idempotency_key_returns_the_same_job(client):
    body = {"instance": generate(30, 10, seed=5), "policy": "greedy"}
    first = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": "round-2027-A"})
    again = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": "round-2027-A"})
    assert first.status_code == 202 and again.status_code == 200 and again.json()["id"] == first.json()["id"]
    other = client.post("/v1/jobs", json={**body, "seed": 1}, headers={"Idempotency-Key": "round-2027-A"})
    assert other.status_code == 409
    fresh = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": "round-2027-B"})
    assert fresh.status_code == 202 and fresh.json()["id"] != first.json()["id"]


def test_jobs_belong_to_their_token(server, client):
    job_id = client.post("/v1/jobs", json={"instance": generate(30, 10, seed=6), "policy": "greedy"}).json()["id"]
    with server.client(token=OTHER_TOKEN) as other:
        assert other.get(f"/v1/jobs/{job_id}").status_code == 404
        assert other.get(f"/v1/jobs/{job_id}/solution").status_code == 404
        assert other.post(f"/v1/jobs/{job_id}/cancel").status_code == 404
        assert job_id not in [j["id"] for j in other.get("/v1/jobs").json()]
    assert client.get(f"/v1/jobs/{job_id}").status_code == 200


def test_ids_and_names_from_a_request_never_reach_a_path_or_sql(client):
    for bad in ["' OR 1=1 --", "..%2F..%2Fetc%2Fpasswd", "0" * 31 + "g"]:
        assert client.get(f"/v1/jobs/{bad}").status_code == 404
    job_id = client.post("/v1/jobs", json={"instance": generate(30, 10, seed=8), "policy": "greedy"}).json()["id"]
    assert client.get(f"/v1/jobs/{job_id}/scenarios/..%2Finput/solution").status_code == 404


def test_bodies_over_the_limit_get_413(client):
    big = {"instance": {**_demo(), "name": "x" * (1024 * 1024)}}
    assert client.post("/v1/jobs", json=big).status_code == 413

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(20):
            yield b" " * 100_000
    r = client.post("/v1/validate", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_cancel_returns_the_best_solution_so_far_never_labelled_optimal(client):
    r = client.post("/v1/jobs", json={"instance": _long(), "policy": "optimal"})
    job = wait_for(client, r.json()["id"], states=("running",), phase="solving")
    assert job["progress"]["best"]["matched"] > 0 and job["progress"]["bound_coverage"] > 0
    cancelled = client.post(f"/v1/jobs/{job['id']}/cancel")
    assert cancelled.status_code == 200
    body = cancelled.json()
    assert body["state"] == "cancelled" and "best solution found before" in body["error"]
    assert body["solution"]["status"] == "feasible"
    sol = _verified(client, job["id"])
    assert sol.status != "optimal" and len(sol.partnerships) == job["progress"]["best"]["matched"]
    assert client.post(f"/v1/jobs/{job['id']}/cancel").status_code == 409  # already ended


def test_a_scenario_set_runs_as_one_job(client):
    body = {"instance": _demo(), "set": {"name": "budgets", "node_limit": 200, "scenarios": [
        {"name": "base"}, {"name": "half", "changes": [{"op": "scale_budget", "factor": 0.5}]}]}}
    r = client.post("/v1/scenarios", json=body)
    assert r.status_code == 202, r.text
    job = wait_for(client, r.json()["id"], timeout=300)
    assert job["state"] == "done" and job["summary"] == {"scenarios": 2, "failed": 0}
    rows = client.get(f"/v1/jobs/{job['id']}/scenarios").json()["rows"]
    assert [row["scenario"] for row in rows] == ["base", "half"]
    assert rows[1]["total_budget"] < rows[0]["total_budget"]
    half = Solution.model_validate(client.get(f"/v1/jobs/{job['id']}/scenarios/half/solution").json())
    assert half.objective.coverage == rows[1]["coverage"]
    bad = client.post("/v1/scenarios", json={**body, "set": {"scenarios": [
        {"name": "x", "changes": [{"op": "remove_donor", "donor": "NOPE"}]}]}})
    assert bad.status_code == 422 and bad.json()["problems"][0]["where"].startswith("scenarios[0] (x)")


def test_the_time_cap_ends_a_job_with_its_best_solution(tmp_path):
    s = Server(tmp_path / "data", "--workers", "1", "--time-cap", "4").start()
    try:
        with s.client() as c:
            # the cap is the solve's time limit: the donor engine stops its work there and says so,
            # or, when a step runs past the cap and its grace (2 s), the process is killed and the
            # job ends with its greedy start
            r = c.post("/v1/jobs", json={"instance": _long(), "policy": "optimal"})
            job = wait_for(c, r.json()["id"], timeout=120)
            assert job["state"] == "done" and job["summary"]["status"] == "feasible", job
            sol = _verified(c, job["id"])
            assert sol.status == "feasible"
            assert "time cap of 4 s" in (job["error"] or "") or "time limit" in (sol.message or ""), (job, sol.message)
    finally:
        s.stop()


def test_a_solve_over_its_memory_cap_fails_and_the_api_stays_up(tmp_path):
    s = Server(tmp_path / "data", "--workers", "1", "--memory-mib", "700").start()
    try:
        with s.client() as c:
            big = generate(8000, 2000, seed=1)  # its candidate graph alone needs well over 700 MiB
            r = c.post("/v1/jobs", json={"instance": big, "policy": "optimal", "method": "flow"})
            assert r.status_code == 202, r.text
            job = wait_for(c, r.json()["id"], timeout=300)
            assert job["state"] == "failed" and "memory cap of 700 MiB" in job["error"], job
            assert c.get("/v1/health").json()["status"] == "ok"
            small = c.post("/v1/jobs", json={"instance": generate(30, 10, seed=1), "policy": "greedy"})
            assert wait_for(c, small.json()["id"])["state"] == "done"
    finally:
        s.stop()


def test_a_full_queue_gets_429_with_retry_after(tmp_path):
    s = Server(tmp_path / "data", "--workers", "1", "--max-queued", "2").start()
    try:
        with s.client() as c:
            running = c.post("/v1/jobs", json={"instance": _long(), "policy": "optimal"}).json()
            wait_for(c, running["id"], states=("running",))
            codes = [c.post("/v1/jobs", json={"instance": generate(30, 10, seed=k), "policy": "greedy"}).status_code
                     for k in range(3)]
            assert codes == [202, 202, 429]
            r = c.post("/v1/jobs", json={"instance": generate(30, 10, seed=9), "policy": "greedy"})
            assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
            c.post(f"/v1/jobs/{running['id']}/cancel")
    finally:
        s.stop()


def test_after_sigkill_of_the_api_and_its_solves_every_job_ends(tmp_path):
    """Kill the API process (and with it the running solve) mid-job; after a restart
    every submitted job ends done, or failed with a reason: none lost, none left running."""
    s = Server(tmp_path / "data", "--workers", "1", "--max-attempts", "2").start()
    try:
        with s.client() as c:
            slow = c.post("/v1/jobs", json={"instance": _long(), "policy": "optimal", "time_limit": 3}).json()["id"]
            quick = [c.post("/v1/jobs", json={"instance": generate(40, 12, seed=k), "policy": "optimal"}).json()["id"]
                     for k in range(3)]
            wait_for(c, slow, states=("running",), phase="solving")  # mid-job: its greedy start is stored
        solve_pids = _children(s.process.pid)
        assert solve_pids, "no solve process was running"
    finally:
        s.kill()
    time.sleep(0.5)
    assert not [p for p in solve_pids if _alive(p)], "a solve process outlived the API"
    s2 = Server(tmp_path / "data", "--workers", "2", "--max-attempts", "2").start()
    try:
        with s2.client() as c:
            ended = [wait_for(c, j, timeout=180) for j in [slow, *quick]]
            for j in ended:
                assert j["state"] in ("done", "failed"), j
                assert j["state"] == "done" or j["error"], j
            assert ended[0]["attempts"] == 2 and ended[0]["state"] == "done"
            assert all(j["state"] == "done" for j in ended[1:])
            for j in ended:
                _verified(c, j["id"])
            assert c.get("/v1/health").json()["running"] == 0
    finally:
        s2.stop()


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from any of its threads)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"



def test_restart_recovery_requeues_then_fails_with_a_reason(tmp_path):
    from wopmatch.service.store import Store

    store = Store(tmp_path)
    job, _ = store.submit("me", "solve", {"policy": "greedy"}, "sha", {"input.json": b"{}"}, None, 10)
    for attempt in (1, 2):
        claimed = store.claim()
        assert claimed.id == job.id and claimed.attempts == attempt and claimed.state == "running"
        stale = claimed.lease
        assert store.recover(max_attempts=2) == ((1, 0) if attempt == 1 else (0, 1))
        assert not store.progress(job.id, stale, {"phase": "late"})  # an old process cannot write any more
    ended = store.get(job.id)
    assert ended.state == "failed" and "2 times" in ended.error
    assert store.recover(max_attempts=2) == (0, 0)


def test_a_job_ends_with_progress_and_summary_that_agree(tmp_path):
    from wopmatch.service.store import Store

    store = Store(tmp_path)
    best = {"status": "feasible", "matched": 18, "mentees": 46, "coverage": 20.0, "quality": 14.0, "cost": 5,
            "bound_coverage": None, "gap_coverage": None}
    for state in ("cancelled", "done"):
        job, _ = store.submit("me", "solve", {}, "sha", {}, None, 10)
        claimed = store.claim()
        store.progress(job.id, claimed.lease, {"phase": "solving: staged MIP", "bound_coverage": 25.0,
                                                "best": {"matched": 12, "coverage": 15.0}})
        final = best if state == "cancelled" else dict(best, matched=23, coverage=27.5, bound_coverage=27.5,
                                                       gap_coverage=0.0, status="optimal")
        assert store.finish(job.id, claimed.lease, state, summary=final)
        ended = store.get(job.id)
        # the last phase and its best give way to the final figures
        assert ended.progress["phase"] == state
        assert ended.progress["best"]["matched"] == ended.summary["matched"]
        assert ended.progress["bound_coverage"] == ended.summary["bound_coverage"]
        if state == "cancelled":  # the bound the progress had proven is kept
            assert ended.summary["bound_coverage"] == 25.0 and ended.summary["gap_coverage"] == 0.2
        else:
            assert ended.summary["bound_coverage"] == 27.5


def test_a_graceful_stop_does_not_count_the_attempt(tmp_path):
    from wopmatch.service.store import Store

    store = Store(tmp_path)
    job, _ = store.submit("me", "solve", {}, "sha", {}, None, 10)
    claimed = store.claim()
    store.release(job.id, claimed.lease)
    again = store.get(job.id)
    assert again.state == "queued" and again.attempts == 0
    assert not store.finish(job.id, claimed.lease, "done")  # the released lease is no longer valid


def test_tokens_are_checked_whole_and_fingerprinted(tmp_path, monkeypatch):
    from wopmatch.service.config import ConfigError, ServiceConfig, fingerprint, read_tokens

    path = tmp_path / "tokens"
    path.write_text(f"# ops team\n{TOKEN}\n\n{OTHER_TOKEN}\n")
    monkeypatch.delenv("WOPMATCH_TOKENS", raising=False)
    tokens = read_tokens(path)
    assert tokens == (TOKEN, OTHER_TOKEN)
    config = ServiceConfig(tmp_path, tokens)
    assert config.owner(TOKEN) == fingerprint(TOKEN) != config.owner(OTHER_TOKEN)
    for bad in ("", TOKEN[:-1], TOKEN + "x", TOKEN.upper()):
        assert config.owner(bad) is None
    monkeypatch.setenv("WOPMATCH_TOKENS", "short")
    with pytest.raises(ConfigError, match="shorter than 16"):
        read_tokens(None)
    monkeypatch.delenv("WOPMATCH_TOKENS")
    with pytest.raises(ConfigError, match="no bearer token"):
        read_tokens(None)


def test_serve_with_a_tokens_file_that_holds_none_or_is_missing_says_so_and_exits_1(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from wopmatch.cli.main import cli

    monkeypatch.delenv("WOPMATCH_TOKENS", raising=False)
    empty = tmp_path / "tokens.txt"
    empty.write_text("# nobody yet\n")
    r = CliRunner().invoke(cli, ["serve", "--data", str(tmp_path / "d"), "--tokens-file", str(empty)])
    assert r.exit_code == 1 and "no bearer token configured" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(cli, ["serve", "--data", str(tmp_path / "d"), "--tokens-file", str(tmp_path / "missing")])
    assert r.exit_code == 1 and "cannot read the tokens file" in r.output
    assert not (tmp_path / "d").exists()  # nothing created on a refused start


def test_a_solve_process_killed_alone_fails_its_job_with_the_reason(tmp_path):
    """The OOM killer (or anyone) SIGKILLs a solve: its job fails saying so; the API and the
    queue go on."""
    import os
    import signal

    s = Server(tmp_path / "data", "--workers", "1").start()
    try:
        with s.client() as c:
            slow = c.post("/v1/jobs", json={"instance": _long(), "policy": "optimal"}).json()["id"]
            after = c.post("/v1/jobs", json={"instance": generate(30, 10, seed=3), "policy": "greedy"}).json()["id"]
            wait_for(c, slow, states=("running",), phase="solving")
            (child,) = _children(s.process.pid)
            os.kill(child, signal.SIGKILL)
            job = wait_for(c, slow)
            assert job["state"] == "failed" and "killed (SIGKILL)" in job["error"], job
            assert "someone outside" in job["error"], job
            from wopmatch.service.supervisor import oom_kills
            if oom_kills() is not None:  # the kernel's count is readable here: the kill was not for memory
                assert "not for memory" in job["error"], job
            assert wait_for(c, after)["state"] == "done"
    finally:
        s.stop()


def test_an_out_of_memory_kill_is_told_from_a_kill_from_outside(monkeypatch):
    """The kernel's out-of-memory count decides which: up since the job started, or not."""
    from types import SimpleNamespace

    from wopmatch.service import supervisor

    sup = supervisor.Supervisor(SimpleNamespace(memory_mib=700), None)
    run = supervisor._Running(None, None, 0.0, oom_kills=4)
    monkeypatch.setattr(supervisor, "oom_kills", lambda: 5)
    assert "out-of-memory killer" in sup._kill_reason(run)
    monkeypatch.setattr(supervisor, "oom_kills", lambda: 4)
    assert "someone outside the service" in sup._kill_reason(run) and "not for memory" in sup._kill_reason(run)
    monkeypatch.setattr(supervisor, "oom_kills", lambda: None)
    assert "if it ran out of memory" in sup._kill_reason(run)


def test_progress_shows_the_bounds_the_solver_proves_as_it_goes(client):
    from wopmatch.solver.api import coverage_bound

    raw = _long()
    budget_free = coverage_bound(parse_instance(raw))
    r = client.post("/v1/jobs", json={"instance": raw, "policy": "optimal"})
    mid = wait_for(client, r.json()["id"], states=("running",), phase="solving: coverage:")
    proven = mid["progress"]["bound_coverage"]
    assert proven < budget_free  # the donor engine's bound (budgets count), not the budget-free flow's
    # the best answer so far (the greedy start, which proves no bound) is within the bound the stage proved
    client.post(f"/v1/jobs/{r.json()['id']}/cancel")
    job = wait_for(client, r.json()["id"])
    sol = _verified(client, job["id"])
    assert job["state"] == "cancelled" and sol.objective.coverage <= proven


def test_a_graceful_stop_puts_running_jobs_back_without_counting_the_attempt(tmp_path):
    s = Server(tmp_path / "data", "--workers", "1").start()
    try:
        with s.client() as c:
            slow = c.post("/v1/jobs", json={"instance": _long(), "policy": "optimal"}).json()["id"]
            wait_for(c, slow, states=("running",), phase="solving")
    finally:
        s.stop()  # SIGTERM: uvicorn shuts down, the supervisor releases the job
    s2 = Server(tmp_path / "data", "--workers", "1").start()
    try:
        with s2.client() as c:
            job = wait_for(c, slow, states=("running",), phase="solving")
            assert job["attempts"] == 1  # the stopped run was not counted
            assert c.post(f"/v1/jobs/{slow}/cancel").json()["state"] == "cancelled"
    finally:
        s2.stop()


def test_hostile_uploads_get_422_not_a_crash(client, tmp_path):
    import zipfile

    bomb = io.BytesIO()  # 300 KB that would unpack to 300 MiB
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/worksheets/sheet1.xml", b"\0" * (300 * 1024 * 1024))
    cases = {"deep.json": ("[" * 100_000 + "]" * 100_000).encode(), "cut.xlsx": DEMO_XLSX.read_bytes()[:5000],
             "bomb.xlsx": bomb.getvalue(), "empty.json": b"", "binary.json": bytes(range(256))}
    for name, data in cases.items():
        r = client.post("/v1/validate/upload", files={"file": (name, data)})
        assert r.status_code == 422 and r.json()["problems"], (name, r.text)
    assert "unpacks to 314,572,800 bytes" in client.post(
        "/v1/validate/upload", files={"file": ("b.xlsx", bomb.getvalue())}).json()["problems"][0]["message"]
    said = client.post("/v1/validate/upload", files={"file": ("r.xlsx", bytes(range(256)))}).json()
    assert said["problems"][0]["message"].startswith("not a readable .xlsx workbook"), said  # not "not UTF-8"


def test_a_solve_process_that_cannot_start_fails_its_job(tmp_path, monkeypatch):
    from wopmatch.service import supervisor as sup
    from wopmatch.service.config import ServiceConfig
    from wopmatch.service.store import Store

    store = Store(tmp_path)
    job, _ = store.submit("me", "solve", {}, "sha", {}, None, 10)
    monkeypatch.setattr(sup.sys, "executable", str(tmp_path / "no-such-python"))
    sup.Supervisor(ServiceConfig(tmp_path, (TOKEN,)), store).tick()
    ended = store.get(job.id)
    assert ended.state == "failed" and "could not start the solve process" in ended.error


def test_every_error_has_the_same_shape(client):
    for method, path in [("GET", "/v1/nope"), ("DELETE", "/v1/jobs"), ("GET", "/v1/jobs/" + "0" * 32)]:
        r = client.request(method, path)
        assert r.status_code in (404, 405) and set(r.json()) == {"detail", "problems"}, (path, r.text)


def test_a_later_round_carries_the_previous_solution_as_the_cli_does(client, tmp_path):
    """A previous round's solution in the request (JSON, then an upload): the same
    carry-over, changes and verification as `wopmatch solve --previous`."""
    from click.testing import CliRunner

    from wopmatch.cli.main import cli
    from wopmatch.models import load_solution
    from wopmatch.solver import PreviousRound, rebuild_round

    first = wait_for(client, client.post("/v1/jobs", json={"instance": _demo()}).json()["id"])
    earlier_bytes = client.get(f"/v1/jobs/{first['id']}/solution").content
    earlier = Solution.model_validate_json(earlier_bytes)
    ended = earlier.partnerships[0].mentee
    options = {"ended": [ended], "forbid_repeat": True}
    r = client.post("/v1/jobs", json={"instance": _demo(), "previous": json.loads(earlier_bytes), **options})
    assert r.status_code == 202, r.text
    job = wait_for(client, r.json()["id"])
    assert job["state"] == "done", job
    sol = Solution.model_validate(client.get(f"/v1/jobs/{job['id']}/solution").json())
    assert sol.round is not None and sol.round.ended == [ended] and sol.round.forbid_repeat
    assert sol.round.carried == sum(not p.pinned for p in earlier.partnerships) - 1
    solved, problems = rebuild_round(parse_instance(_demo()), sol, PreviousRound.of_bytes(earlier_bytes, earlier))
    assert problems == [] and verify_solution(solved, sol) == []
    # the CLI, given the same files, gives the same partnerships and changes
    (tmp_path / "r1.json").write_bytes(earlier_bytes)
    out = tmp_path / "r2.json"
    run = CliRunner().invoke(cli, ["solve", str(DEMO), "-o", str(out), "--previous", str(tmp_path / "r1.json"),
                                   "--ended", ended, "--forbid-repeat", "--quiet"])
    assert run.exit_code == 0, run.output
    mine = load_solution(out)
    assert [(p.mentee, p.mentor, p.donor) for p in mine.partnerships] == \
        [(p.mentee, p.mentor, p.donor) for p in sol.partnerships]
    assert mine.round == sol.round
    # as an upload (the page's route): the options as form fields, the earlier solution as a second file
    r = client.post("/v1/jobs/upload", files={"file": ("demo.json", DEMO.read_bytes()),
                                              "previous": ("r1.json", earlier_bytes)},
                    data={"keep_stable": "true", "change_penalty": "1000"})
    assert r.status_code == 202, r.text
    stable = wait_for(client, r.json()["id"])
    kept = Solution.model_validate(client.get(f"/v1/jobs/{stable['id']}/solution").json())
    assert kept.round is not None and kept.round.mode == "keep_stable" and kept.stats.method.endswith("+keep-stable")
    assert kept.round.changes and all(c.change == "kept" for c in kept.round.changes)  # nothing forced a change


def test_round_options_without_a_previous_round_or_with_a_stranger_are_refused(client):
    r = client.post("/v1/jobs", json={"instance": _demo(), "keep_stable": True})
    assert r.status_code == 422 and r.json()["problems"][0]["where"] == "previous"
    first = wait_for(client, client.post("/v1/jobs", json={"instance": _demo(), "policy": "greedy"}).json()["id"])
    earlier = client.get(f"/v1/jobs/{first['id']}/solution").json()
    r = client.post("/v1/jobs", json={"instance": _demo(), "previous": earlier, "ended": ["NOBODY"]})
    assert r.status_code == 422 and "'NOBODY' has no partnership in the previous round" in r.text
    r = client.post("/v1/jobs", json={"instance": _demo(), "previous": {"format": "nonsense"}})
    assert r.status_code == 422 and r.json()["problems"]


def test_the_cli_and_both_requests_offer_the_same_solve_options(client):
    """One definition (SolveOptions): every field is a `wopmatch solve` option, a
    field of the JSON request and a form field of the upload route, with the same
    choices and limits."""
    from click.testing import CliRunner

    from wopmatch.cli.main import cli
    from wopmatch.solver import SolveOptions, option_fields

    helptext = CliRunner().invoke(cli, ["solve", "--help"], terminal_width=200).output
    spec = client.get("/openapi.json").json()
    json_fields = spec["components"]["schemas"]["SolveRequest"]["properties"]
    form_ref = spec["paths"]["/v1/jobs/upload"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    form_fields = spec["components"]["schemas"][form_ref["$ref"].rsplit("/", 1)[1]]["properties"]
    fields = option_fields(SolveOptions)
    assert [f.name for f in fields] == list(SolveOptions.model_fields)
    for f in fields:
        from wopmatch.cli.options import flag_of

        assert flag_of(f.name) in helptext, f.name
        assert f.name in json_fields and f.name in form_fields, f.name
        if f.kind == "choice":
            assert json_fields[f.name]["enum"] == list(f.choices)
            form = form_fields[f.name]
            assert (form.get("enum") or next(a["enum"] for a in form["anyOf"] if "enum" in a)) == list(f.choices)


def test_answers_are_kept_with_their_history_and_a_rematch_honours_them(client):
    """docs/service.md, agreement: answer a finished solve's partnerships, read them back with who
    answered and when, and re-match: accepted kept, declined never proposed again."""
    job = client.post("/v1/jobs", json={"instance": generate(40, 12, seed=3), "policy": "optimal"}).json()
    assert job["links"]["status"] == f"/v1/jobs/{job['id']}/status"
    wait_for(client, job["id"])
    assert client.get(job["links"]["plans"]).content[:2] == b"PK"  # the work plans, zipped
    assert client.get(job["links"]["progress_template"]).content[:2] == b"PK"
    status = client.get(job["links"]["status"]).json()
    pairs = status["partnerships"]
    assert status["counts"]["proposed"] == len(pairs) > 3 and status["history"] == []
    accepted, declined = pairs[0], pairs[1]
    r = client.post(job["links"]["status"], json={"partnerships": [
        {"mentee": accepted["mentee"], "mentor": accepted["mentor"], "status": "accepted", "note": "signed"},
        {"mentee": declined["mentee"], "mentor": declined["mentor"], "status": "declined"}]})
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["counts"]["accepted"] == 1 and after["counts"]["declined"] == 1
    assert [(h["status"], h["note"]) for h in after["history"]] == [("accepted", "signed"), ("declined", None)]
    assert all(h["by"] and h["at"] for h in after["history"])
    r = client.post(job["links"]["status"], json={"partnerships": [
        {"mentee": "NOBODY", "mentor": accepted["mentor"], "status": "accepted"}]})
    assert r.status_code == 422 and "is not a partnership of this round" in r.text
    assert len(client.get(job["links"]["status"]).json()["history"]) == 2  # nothing recorded
    again = client.post(job["links"]["rematch"])
    assert again.status_code == 202, again.text
    done = wait_for(client, again.json()["id"])
    sol = _verified_with_agreement(client, done["id"])
    got = {(p.mentee, p.mentor): p for p in sol.partnerships}
    assert got[accepted["mentee"], accepted["mentor"]].pinned
    assert (declined["mentee"], declined["mentor"]) not in got
    later = client.get(f"/v1/jobs/{done['id']}/status").json()
    kept = {(e["mentee"], e["mentor"]): e["status"] for e in later["partnerships"]}
    assert kept[accepted["mentee"], accepted["mentor"]] == "accepted"
    assert kept[declined["mentee"], declined["mentor"]] == "declined"
    assert client.get(f"/v1/jobs/{done['id']}/report").status_code == 200


def _verified_with_agreement(client, job_id: str) -> Solution:
    """A re-matched job's solution, verified against its input with the pins and bans it records."""
    from wopmatch.solver import rebuild_round

    sol = Solution.model_validate(client.get(f"/v1/jobs/{job_id}/solution").json())
    inst, problems = rebuild_round(parse_instance(client.get(f"/v1/jobs/{job_id}/input").json()), sol, None)
    assert problems == [] and verify_solution(inst, sol) == []
    return sol


def test_a_proposal_runs_as_a_job_and_answers_as_the_command_line_does(client):
    import wopmatch as wm

    raw = generate(40, 12, seed=4)
    job = client.post("/v1/jobs", json={"instance": raw, "policy": "optimal"}).json()
    wait_for(client, job["id"])
    sol = Solution.model_validate(client.get(f"/v1/jobs/{job['id']}/solution").json())
    first = sol.partnerships[0]
    other = next(p.mentor for p in sol.partnerships if p.mentor != first.mentor)
    r = client.post(f"/v1/jobs/{job['id']}/propose", json={"mentee": first.mentee, "mentor": other})
    assert r.status_code == 202, r.text
    done = wait_for(client, r.json()["id"])
    answer = client.get(done["links"]["proposal"]).json()
    local = wm.propose(wm.load(client.get(f"/v1/jobs/{job['id']}/input").json()), sol, first.mentee, other)
    assert (answer["outcome"], answer["detail"]) == (local.outcome, local.detail)
    assert done["summary"]["outcome"] == local.outcome
    r = client.post(f"/v1/jobs/{job['id']}/propose", json={"mentee": other, "mentor": "NOBODY"})
    assert r.status_code == 422 and "'NOBODY' is not an operator of this round" in r.text
