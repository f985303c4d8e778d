"""Schemathesis against the service's OpenAPI description: no request, however
odd, gets a 5xx (issue: the solver service)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from servicekit import TOKEN, Server

pytest.importorskip("fastapi")
pytest.importorskip("schemathesis")


def _fuzz(tmp_path, examples: int, seed: int) -> None:
    server = Server(tmp_path / "data", "--workers", "1", "--max-queued", "20").start()
    try:
        run = subprocess.run(
            [sys.executable, "-c", "from schemathesis.cli import schemathesis; schemathesis()", "run",
             f"{server.url}/openapi.json", "-H", f"Authorization: Bearer {TOKEN}", "--checks", "not_a_server_error",
             "-n", str(examples), "--seed", str(seed), "--generation-database", "none", "--no-color"],
            capture_output=True, text=True, timeout=900, cwd=tmp_path)
        with server.client() as c:
            assert c.get("/v1/health").status_code == 200
    finally:
        server.stop()
    summary = run.stdout[-3000:]
    assert run.returncode == 0, summary + run.stderr[-2000:]
    generated = re.search(r"(\d+) generated", summary)
    selected = re.search(r"Selected: (\d+)/(\d+)", summary)
    tested = re.search(r"Tested: (\d+)", summary)
    assert generated and selected and tested, summary
    assert selected.group(1) == selected.group(2) == tested.group(1), summary  # every operation was exercised
    statuses = re.findall(r'HTTP/1\.1" (\d{3})', server.log())
    assert len(statuses) >= int(generated.group(1))
    assert not [s for s in statuses if s.startswith("5")], "a 5xx in the server's log"


def test_no_request_gets_a_server_error(tmp_path):
    _fuzz(tmp_path, examples=8, seed=1)


@pytest.mark.slow
def test_no_request_gets_a_server_error_longer(tmp_path):
    _fuzz(tmp_path, examples=200, seed=2)
