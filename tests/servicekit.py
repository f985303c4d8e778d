"""A real `wopmatch serve` on loopback, for the service tests."""

from __future__ import annotations

import time
from typing import Any, Optional

import httpx

from wopmatch.service.local import Server as _Server

TOKEN = "test-token-" + "a1b2c3d4" * 4
OTHER_TOKEN = "other-token-" + "e5f6a7b8" * 4
FINAL = ("done", "failed", "cancelled")


class Server(_Server):
    """The service with the two test tokens."""

    def start(self, timeout: float = 60.0) -> "Server":  # type: ignore[override]
        super().start((TOKEN, OTHER_TOKEN), timeout)
        return self


def wait_for(client: httpx.Client, job_id: str, states=FINAL, timeout: float = 120.0, phase: Optional[str] = None,
             ) -> dict[str, Any]:
    """Poll a job until it is in one of ``states`` (and, if given, its progress phase starts with ``phase``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["state"] in states and (phase is None or
                                       str((job.get("progress") or {}).get("phase")).startswith(phase)):
            return job
        if job["state"] in FINAL and job["state"] not in states:
            raise AssertionError(f"job ended {job['state']}: {job.get('error')}")
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job['state']} after {timeout} s: {job}")
