"""No process outlives its parent (issue 19): kill a scenario sweep (process pool and Dask), a
service job or the API, or cancel a job, and every descendant it had is gone within a few
seconds. (A `wopmatch solve` runs in one process: its solvers are libraries, not children.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

from wopmatch.generator import generate

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")

WOPMATCH = str(Path(sys.executable).parent / "wopmatch")
#: Seconds a killed tree has to end (PR_SET_PDEATHSIG acts at once; a pipe's EOF ends
#: multiprocessing's resource tracker a moment later).
ENDS_WITHIN = 5.0


def _parents() -> dict[int, int]:
    out: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                out[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
    return out


def descendants(pid: int) -> set[int]:
    parents = _parents()
    out, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - out
        out |= frontier
    return out


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def cpu_seconds(pid: int) -> float:
    try:
        fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def solver_children(pid: int, busy: float = 1.0) -> set[int]:
    """Descendants of ``pid`` that multiprocessing spawned (a sweep's pool workers) and
    have worked ``busy`` CPU-seconds: past reading their task from the parent's pipe, whose
    end would stop them without any death signal."""
    found = set()
    for p in descendants(pid):
        try:
            if b"spawn_main" in (Path("/proc") / str(p) / "cmdline").read_bytes() and cpu_seconds(p) >= busy:
                found.add(p)
        except OSError:
            continue
    return found


def wait_until(what: Callable[[], object], timeout: float, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(step)
    return what()


def assert_all_end(pids: set[int], who: str) -> None:
    assert pids, f"{who}: no process to watch"
    left = wait_until(lambda: not [p for p in pids if alive(p)], ENDS_WITHIN) or [p for p in pids if alive(p)]
    if left is not True:
        for p in left:
            os.kill(p, signal.SIGKILL)
        raise AssertionError(f"{who}: {len(left)} process(es) outlived it: {left}")


def _end_tree(proc: subprocess.Popen) -> None:
    """After a failed check: the process and whatever it left, killed."""
    left = descendants(proc.pid)
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    for pid in left:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def big_round(tmp_path_factory) -> Path:
    """2,000 x 500 x 5: its optimal solve works for half a minute."""
    path = tmp_path_factory.mktemp("orphans") / "round.json"
    path.write_text(json.dumps(generate(2000, 500, donors=5, seed=7, needs="legacy")))
    return path


@pytest.mark.parametrize("executor", ["pool", "dask"])
def test_a_killed_sweep_leaves_no_worker_running(tmp_path, executor):
    if executor == "dask":
        pytest.importorskip("distributed")
    path = tmp_path / "round.json"
    path.write_text(json.dumps(generate(200, 60, donors=5, seed=1)))  # each scenario solves for seconds
    extra = ["--dask", "local"] if executor == "dask" else []
    proc = subprocess.Popen([WOPMATCH, "scenarios", str(path), "--budget-scale", "0.8:1.2:0.1", "-o",
                             str(tmp_path / "out"), "--workers", "2", "--quiet", *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: len(solver_children(proc.pid)) >= 2, 60), "the workers never started solving"
        tree = descendants(proc.pid)
        proc.kill()
        proc.wait()
        assert_all_end(tree, f"a SIGKILLed sweep ({executor})")
    finally:
        _end_tree(proc)


def _busy_jobs(api: int) -> dict[str, tuple[int, set[int]]]:
    """The service's job processes that have solved for a CPU-second: job id -> (pid, it and its tree)."""
    parents = _parents()
    out = {}
    for pid in (p for p, parent in parents.items() if parent == api):
        try:
            argv = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"wopmatch.service.job" in argv and cpu_seconds(pid) >= 1.0:
            out[argv[argv.index(b"wopmatch.service.job") + 2].decode()] = (pid, {pid} | descendants(pid))
    return out


def _two(jobs: dict) -> dict:
    return jobs if len(jobs) == 2 else {}


def test_cancel_a_job_kill_a_job_kill_the_api_leave_nothing_running(big_round, tmp_path):
    """Four jobs, two at a time: once two are solving, cancel the first and SIGKILL the
    second's job process; then SIGKILL the API while the other two run."""
    pytest.importorskip("fastapi")
    from servicekit import Server

    s = Server(tmp_path / "data", "--workers", "2").start()
    body = json.dumps({"instance": json.loads(big_round.read_text()), "policy": "optimal", "time_limit": 120})
    try:
        with s.client() as c:
            for _ in range(4):
                assert c.post("/v1/jobs", content=body, headers={"content-type": "application/json"}).status_code == 202
            first = wait_until(lambda: _two(_busy_jobs(s.process.pid)), 90)
            assert first, "two jobs never started solving"
            cancelled, killed = sorted(first)
            assert c.post(f"/v1/jobs/{cancelled}/cancel").json()["state"] == "cancelled"
            pid, tree = first[cancelled]
            assert_all_end(tree, "a cancelled job")
            pid, tree = first[killed]
            os.kill(pid, signal.SIGKILL)
            assert_all_end(tree, "a SIGKILLed job process")
            assert wait_until(lambda: c.get(f"/v1/jobs/{killed}").json()["state"] == "failed", 10)
            second = wait_until(lambda: _two(_busy_jobs(s.process.pid)), 90)
            assert second and not set(second) & set(first), "the other two jobs never started solving"
        tree = descendants(s.process.pid)
        s.kill()
        assert_all_end(tree, "a SIGKILLed API")
    finally:
        if s.process is not None and s.process.poll() is None:
            left = descendants(s.process.pid)
            s.kill()
            for pid in left:  # a failed check above leaves no load on the rest of the suite
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
