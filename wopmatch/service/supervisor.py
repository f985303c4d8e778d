"""Starts, watches and stops the solve processes (one per job), from a thread
of the API process.

Each tick it: ends the jobs whose process has exited without ending them (a
crash, the memory cap); stops the ones asked to cancel or past the time cap,
ending them with the best solution found so far (``best.json``, never labelled
optimal) when there is one; and starts queued jobs while fewer than
``workers`` run. At start-up, before any of this, jobs left running by a
service that died are queued again (store.recover).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Optional

from ..models import Solution
from .config import ServiceConfig
from .job import summary_of
from .store import Job, Store

log = logging.getLogger("wopmatch.service")

#: Seconds past the time cap before a solve process is killed (it is given the cap
#: as its time limit, so a MIP stops by itself; a flow cannot be interrupted):
#: this, or half the cap if less.
GRACE = 10.0


#: Where Linux counts the processes its out-of-memory killer ended in this service's
#: cgroup (v2, then v1): a SIGKILL with the count unchanged came from someone else.
OOM_COUNTERS = (("/sys/fs/cgroup/memory.events", "oom_kill"), ("/sys/fs/cgroup/memory/memory.oom_control", "oom_kill"))


def oom_kills() -> Optional[int]:
    """The out-of-memory killer's count for this cgroup, or None where it cannot be read."""
    for path, key in OOM_COUNTERS:
        try:
            with open(path) as f:
                for line in f:
                    name, _, value = line.partition(" ")
                    if name == key:
                        return int(value)
        except (OSError, ValueError):
            continue
    return None


@dataclass
class _Running:
    job: Job
    process: subprocess.Popen
    started: float
    oom_kills: Optional[int] = None


class Supervisor:
    def __init__(self, config: ServiceConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self.running: dict[str, _Running] = {}
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        requeued, failed = self.store.recover(self.config.max_attempts)
        if requeued or failed:
            log.warning("after a restart: %d job(s) queued again, %d ended", requeued, failed)
        self._thread = threading.Thread(target=self._loop, name="wopmatch-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and every solve process; their jobs go back to the queue
        (a stop is not the job's fault: the attempt is not counted)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for job_id, r in self.running.items():
            r.process.kill()
            r.process.wait()
            assert r.job.lease is not None
            self.store.release(job_id, r.job.lease)
        self.running.clear()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # the API must stay up; the next tick tries again
                log.exception("supervisor tick failed")
            self._stop.wait(self.config.poll_seconds)

    def tick(self) -> None:
        self._reap()
        self._stop_requested()
        while len(self.running) < self.config.workers and not self._stop.is_set():
            job = self.store.claim()
            if job is None:
                break
            self._spawn(job)

    def _spawn(self, job: Job) -> None:
        assert job.lease is not None
        cmd = [sys.executable, "-m", "wopmatch.service.job", str(self.config.data_dir), job.id, job.lease,
               str(self.config.memory_mib), str(self.config.time_cap), str(os.getpid())]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        try:
            process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, env=env)  # no shell; every argument ours
        except OSError as exc:  # never leave a claimed job running with no process
            self.store.finish(job.id, job.lease, "failed", error=f"could not start the solve process: {exc}")
            log.error("job %s: could not start the solve process: %s", job.id, exc)
            return
        self.store.set_pid(job.id, job.lease, process.pid)
        self.running[job.id] = _Running(job, process, time.monotonic(), oom_kills())
        log.info("job %s started (attempt %d, pid %d)", job.id, job.attempts, process.pid)

    def _reap(self) -> None:
        for job_id, r in list(self.running.items()):
            code = r.process.poll()
            if code is None:
                continue
            del self.running[job_id]
            assert r.job.lease is not None
            current = self.store.get(job_id)
            if current is None or current.state != "running" or current.lease != r.job.lease:
                continue  # it ended itself
            if code == -signal.SIGKILL:
                why = self._kill_reason(r)
            elif code < 0:
                why = f"the solve process was stopped by signal {-code} before finishing, from outside the service"
            else:
                why = (f"the solve process exited with code {code} before finishing (with a memory cap of "
                       f"{self.config.memory_mib} MiB, a failed allocation ends it so)")
            self.store.finish(job_id, r.job.lease, "failed", error=why)

    def _kill_reason(self, r: _Running) -> str:
        now = oom_kills()
        if r.oom_kills is not None and now is not None and now > r.oom_kills:
            return ("the solve process was killed by the kernel's out-of-memory killer: the machine (or the "
                    "service's memory limit) ran out of memory; the job's own cap is "
                    f"{self.config.memory_mib} MiB (--memory-mib)")
        if r.oom_kills is not None and now is not None:
            return ("the solve process was killed (SIGKILL) by someone outside the service before finishing; "
                    "not for memory (the kernel's out-of-memory count did not change)")
        return (f"the solve process was killed (SIGKILL) before finishing: by the kernel if it ran out of "
                f"memory (the job's cap is {self.config.memory_mib} MiB), or by someone outside the service")

    def _stop_requested(self) -> None:
        cancels = {j.id for j in self.store.cancel_requests()}
        now = time.monotonic()
        for job_id, r in list(self.running.items()):
            cancel = job_id in cancels
            if not cancel and now - r.started <= self.config.time_cap + min(GRACE, self.config.time_cap / 2):
                continue
            r.process.kill()
            r.process.wait()
            del self.running[job_id]
            assert r.job.lease is not None
            reason = "cancelled" if cancel else f"stopped at the service's time cap of {self.config.time_cap:g} s"
            best = self.store.file(job_id, "best.json") if r.job.kind == "solve" else None
            if r.job.kind == "scenarios":
                state, note, files, summary = "cancelled" if cancel else "failed", \
                    "; the scenarios that finished before are kept", {}, None
            elif best is not None:
                state, note, files = "cancelled" if cancel else "done", \
                    "; the result is the best solution found before (not proven optimal)", {"solution.json": best}
                summary = summary_of(Solution.model_validate_json(best))
            else:
                state, note, files, summary = "cancelled" if cancel else "failed", \
                    "; no solution had been found yet", {}, None
            self.store.finish(job_id, r.job.lease, state, summary=summary, error=reason + note, files=files)
            log.info("job %s %s", job_id, reason)
