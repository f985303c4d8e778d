"""Ctrl-C (issue 33): a command stops within a moment with exit 130, one line, no output file and
no child process left; the Python API raises KeyboardInterrupt to its caller. Each test runs a
real process on a round that takes several seconds, and sends it SIGINT while it solves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import wopmatch as wm

WOPMATCH = str(Path(sys.executable).parent / "wopmatch")
#: Seconds from SIGINT to the process's end that count as "at once" on a busy 2-core machine.
PROMPT = 3.0


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    """A 1,500 x 400 round with 5 donors: the optimal policy works on it for several seconds."""
    path = tmp_path_factory.mktemp("interrupt") / "big.json"
    wm.write(wm.generate(1500, 400, donors=5, seed=1), path)
    return path


def _interrupt(cmd: list[str], started: str, cwd: Path) -> tuple[int, float, str, str]:
    """Run ``cmd``, wait for ``started`` on its stderr (or stdout), send SIGINT: (exit status,
    seconds from the signal to the end, stdout, stderr)."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    seen = ""
    deadline = time.monotonic() + 120
    kind, marker = started.split(":", 1)
    stream = proc.stderr if kind == "stderr" else proc.stdout
    if kind == "children":  # a pool's workers at work
        while len(_children(proc.pid)) < int(marker) and time.monotonic() < deadline:
            time.sleep(0.2)
    else:
        while marker not in seen and time.monotonic() < deadline:
            line = stream.readline()
            if not line:
                break
            seen += line
    time.sleep(1.0)  # well inside the solve
    children = _children(proc.pid)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    took = time.monotonic() - t0
    time.sleep(0.5)
    left = [pid for pid in children if _alive(pid)]
    assert left == [], f"children left running: {left}"
    return proc.returncode, took, (seen if stream is proc.stdout else "") + out, \
        (seen if stream is proc.stderr else "") + err


def _children(pid: int) -> list[int]:
    """The child processes of ``pid``, whichever of its threads started them."""
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_ctrl_c_stops_a_solve_at_once_with_exit_130_and_no_output(big, tmp_path):
    code, took, out, err = _interrupt([WOPMATCH, "solve", str(big), "-o", "x.json"], "stderr:coverage", tmp_path)
    assert code == 130 and took < PROMPT, (code, took, err[-500:])
    assert err.strip().splitlines()[-1].startswith("interrupted after ")
    assert err.strip().endswith("stopped, nothing written")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no output, no temporary file


def test_ctrl_c_stops_a_sweep_and_its_pool_workers(big, tmp_path):
    code, took, out, err = _interrupt([WOPMATCH, "scenarios", str(big), "--budget-scale", "0.5:1.5:0.5",
                                       "--workers", "2", "-o", "sweep"], "children:3", tmp_path)
    assert code == 130 and took < PROMPT, (code, took, err[-500:])
    assert "interrupted after " in err and "leaked" not in err and "Traceback" not in err
    assert "sweep/solutions" not in err  # stopped before any scenario was solved
    assert not any(p.name.endswith(".tmp") for p in tmp_path.rglob("*"))


def test_ctrl_c_in_the_python_api_raises_keyboard_interrupt_to_the_caller(big, tmp_path):
    script = ("import time, wopmatch as wm\n"
              "print('solving', flush=True)\n"
              "t0 = time.monotonic()\n"
              "try:\n"
              f"    wm.solve({str(big)!r})\n"
              "    print('finished')\n"
              "except KeyboardInterrupt:\n"
              "    print('KeyboardInterrupt', flush=True)\n")
    code, took, out, err = _interrupt([sys.executable, "-c", script], "stdout:solving", tmp_path)
    assert code == 0 and took < PROMPT, (code, took, out, err[-500:])
    assert out.strip().splitlines()[-1] == "KeyboardInterrupt", out
    assert "terminate called" not in err and "Fatal" not in err


def _readme_serve_line() -> list[str]:
    """The README's `serve` command, as a person copies it (its comment dropped)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    line = next(x for x in readme.splitlines() if x.startswith(".venv/bin/wopmatch serve"))
    return line.split("#")[0].split()


def _start(cmd: list[str], cwd: Path) -> tuple[subprocess.Popen, str, str]:
    """Start the service on a free port: (process, its URL, what it printed before listening)."""
    import re

    env = {k: v for k, v in os.environ.items() if k != "WOPMATCH_TOKENS"}
    proc = subprocess.Popen(cmd + ["--port", "0"], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    said = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        said += line
        found = re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", line)
        if found:
            return proc, found.group(1), said
        assert line or proc.poll() is None, said
    raise AssertionError(said)


def test_the_readme_serve_line_leaves_the_person_holding_a_working_token(tmp_path):
    pytest.importorskip("uvicorn")
    import httpx

    cmd = _readme_serve_line()
    assert cmd[:2] == [".venv/bin/wopmatch", "serve"]
    cmd = [WOPMATCH, *cmd[1:]]
    proc, url, said = _start(cmd, tmp_path)
    try:
        token = said.split("made a bearer token, kept in ")[1].split(": ", 1)[1].split()[0]
        assert token in (tmp_path / "wopmatch-data" / "tokens.txt").read_text()
        assert (tmp_path / "wopmatch-data" / "tokens.txt").stat().st_mode & 0o077 == 0  # its owner's only
        assert httpx.get(f"{url}/v1/jobs", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert httpx.get(f"{url}/v1/jobs").status_code == 401
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert proc.returncode == 0  # the service stops gracefully
    proc, url, said = _start(cmd, tmp_path)  # a second start uses the same token, and prints none
    try:
        assert "made a bearer token" not in said and "tokens.txt" in said
        assert httpx.get(f"{url}/v1/jobs", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
