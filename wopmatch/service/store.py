"""The service's jobs, in SQLite (WAL mode): one file under the data directory.

Every statement is parameterised; nothing from a request is ever formatted into
SQL. The API process, its supervisor thread and every solve process open their
own connections; WAL lets readers run while a writer commits, and a busy
timeout makes concurrent writers wait rather than fail.

A job moves queued -> running -> done | failed | cancelled. A running job
carries a ``lease`` (a random token per attempt): a solve process writes its
progress and result only while the lease is still its own, so a process left
over from before a restart can never overwrite a re-queued job.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

SCHEMA_VERSION = 1
DB_NAME = "wopmatch.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,             -- fingerprint of the bearer token that submitted it
    kind TEXT NOT NULL,              -- 'solve' | 'scenarios' | 'propose'
    state TEXT NOT NULL,             -- queued | running | done | failed | cancelled
    request TEXT NOT NULL,           -- the options, JSON
    request_sha TEXT NOT NULL,       -- of the whole request (options and input): idempotency check
    idempotency_key TEXT,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease TEXT,
    pid INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    progress TEXT,                   -- JSON: phase, best objective and bound so far
    summary TEXT,                    -- JSON: headline figures of the result
    error TEXT,                      -- why it failed (or what stopped it)
    UNIQUE (owner, idempotency_key)
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, created);
CREATE TABLE IF NOT EXISTS files (
    job TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    name TEXT NOT NULL,              -- input.json, solution.json, best.json, scenarios.json, ...
    data BLOB NOT NULL,
    PRIMARY KEY (job, name)
);
CREATE TABLE IF NOT EXISTS agreements (  -- each answer recorded for a partnership of a solve job, in order
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    mentee TEXT NOT NULL,
    mentor TEXT NOT NULL,
    status TEXT NOT NULL,            -- proposed | accepted | declined | active | ended
    note TEXT,
    who TEXT NOT NULL,               -- fingerprint of the bearer token that recorded it
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS agreements_job ON agreements (job, seq);
"""

FINAL = ("done", "failed", "cancelled")


@dataclass(frozen=True)
class Job:
    id: str
    owner: str
    kind: str
    state: str
    request: dict[str, Any]
    created: float
    started: Optional[float]
    finished: Optional[float]
    attempts: int
    cancel_requested: bool
    progress: Optional[dict[str, Any]]
    summary: Optional[dict[str, Any]]
    error: Optional[str]
    lease: Optional[str]
    pid: Optional[int]

    @staticmethod
    def of(row: sqlite3.Row) -> "Job":
        return Job(row["id"], row["owner"], row["kind"], row["state"], json.loads(row["request"]), row["created"],
                   row["started"], row["finished"], row["attempts"], bool(row["cancel_requested"]),
                   _loads(row["progress"]), _loads(row["summary"]), row["error"], row["lease"], row["pid"])


def _loads(text: Optional[str]) -> Optional[dict[str, Any]]:
    return None if text is None else json.loads(text)


class Store:
    """Jobs and their files in ``data_dir/wopmatch.sqlite3`` (created with its schema)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / DB_NAME
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")  # persistent: set once, outside any transaction
            db.executescript(SCHEMA)
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        finally:
            db.close()

    @contextmanager
    def connect(self, write: bool = True) -> Iterator[sqlite3.Connection]:
        """A connection in one transaction: committed on success, rolled back on error.
        A writer takes the write lock at once (BEGIN IMMEDIATE: no upgrade deadlock); a
        reader never takes it, so in WAL mode readers wait for nobody."""
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at each checkpoint, never corrupt
        try:
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    # --- submission -------------------------------------------------------
    def submit(self, owner: str, kind: str, request: dict[str, Any], request_sha: str,
               files: dict[str, bytes], idempotency_key: Optional[str], max_queued: int) -> tuple[Job, bool]:
        """(job, created). With a key already used by ``owner``: that job, not a
        new one (``created`` False); KeyReused when its request differs.
        QueueFull when ``max_queued`` jobs are already waiting."""
        with self.connect() as db:
            if idempotency_key is not None:
                row = db.execute("SELECT * FROM jobs WHERE owner = ? AND idempotency_key = ?",
                                 (owner, idempotency_key)).fetchone()
                if row is not None:
                    if row["request_sha"] != request_sha:
                        raise KeyReused(row["id"])
                    return Job.of(row), False
            queued = db.execute("SELECT COUNT(*) FROM jobs WHERE state = 'queued'").fetchone()[0]
            if queued >= max_queued:
                raise QueueFull(queued)
            job_id = uuid.uuid4().hex
            db.execute("INSERT INTO jobs (id, owner, kind, state, request, request_sha, idempotency_key, created) "
                       "VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)",
                       (job_id, owner, kind, json.dumps(request), request_sha, idempotency_key, time.time()))
            db.executemany("INSERT INTO files (job, name, data) VALUES (?, ?, ?)",
                           [(job_id, name, data) for name, data in files.items()])
            return Job.of(db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()), True

    # --- reading ------------------------------------------------------------
    def get(self, job_id: str, owner: Optional[str] = None) -> Optional[Job]:
        with self.connect(write=False) as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None or (owner is not None and row["owner"] != owner):
            return None
        return Job.of(row)

    def jobs_of(self, owner: str, limit: int = 50) -> list[Job]:
        with self.connect(write=False) as db:
            rows = db.execute("SELECT * FROM jobs WHERE owner = ? ORDER BY created DESC LIMIT ?",
                              (owner, limit)).fetchall()
        return [Job.of(r) for r in rows]

    def file(self, job_id: str, name: str) -> Optional[bytes]:
        with self.connect(write=False) as db:
            row = db.execute("SELECT data FROM files WHERE job = ? AND name = ?", (job_id, name)).fetchone()
        return None if row is None else bytes(row[0])

    def file_names(self, job_id: str) -> list[str]:
        with self.connect(write=False) as db:
            return [r[0] for r in db.execute("SELECT name FROM files WHERE job = ? ORDER BY name", (job_id,))]

    def counts(self) -> dict[str, int]:
        with self.connect(write=False) as db:
            rows = db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
        return {r[0]: r[1] for r in rows}

    # --- the supervisor's side ---------------------------------------------------
    def claim(self) -> Optional[Job]:
        """The oldest queued job, now running under a new lease (None if none waits)."""
        with self.connect() as db:
            row = db.execute("SELECT id FROM jobs WHERE state = 'queued' ORDER BY created, id LIMIT 1").fetchone()
            if row is None:
                return None
            db.execute("UPDATE jobs SET state = 'running', started = ?, attempts = attempts + 1, lease = ?, "
                       "pid = NULL WHERE id = ?", (time.time(), uuid.uuid4().hex, row["id"]))
            return Job.of(db.execute("SELECT * FROM jobs WHERE id = ?", (row["id"],)).fetchone())

    def set_pid(self, job_id: str, lease: str, pid: int) -> None:
        with self.connect() as db:
            db.execute("UPDATE jobs SET pid = ? WHERE id = ? AND lease = ?", (pid, job_id, lease))

    def recover(self, max_attempts: int) -> tuple[int, int]:
        """After a restart: every job left running is queued again, or failed once
        it has started ``max_attempts`` times. Returns (re-queued, failed)."""
        with self.connect() as db:
            rows = db.execute("SELECT id, attempts, cancel_requested FROM jobs WHERE state = 'running'").fetchall()
            requeued = failed = 0
            for r in rows:
                if r["cancel_requested"]:
                    db.execute("UPDATE jobs SET state = 'cancelled', finished = ?, lease = NULL, pid = NULL, "
                               "error = 'cancelled; the service stopped before the cancel took effect' "
                               "WHERE id = ?", (time.time(), r["id"]))
                    failed += 1
                elif r["attempts"] >= max_attempts:
                    why = f"the service stopped while this job ran, {r['attempts']} times (the limit); not retried"
                    db.execute("UPDATE jobs SET state = 'failed', finished = ?, lease = NULL, pid = NULL, error = ? "
                               "WHERE id = ?", (time.time(), why, r["id"]))
                    failed += 1
                else:
                    db.execute("UPDATE jobs SET state = 'queued', lease = NULL, pid = NULL, progress = ? "
                               "WHERE id = ?", (json.dumps({"phase": "queued again after a restart"}), r["id"]))
                    requeued += 1
            return requeued, failed

    def release(self, job_id: str, lease: str) -> None:
        """Put a running job back in the queue, its attempt not counted (the service is stopping)."""
        with self.connect() as db:
            db.execute("UPDATE jobs SET state = 'queued', attempts = MAX(attempts - 1, 0), lease = NULL, pid = NULL, "
                       "progress = ? WHERE id = ? AND lease = ? AND state = 'running'",
                       (json.dumps({"phase": "queued again: the service was stopped"}), job_id, lease))

    def request_cancel(self, job_id: str, owner: str) -> Optional[Job]:
        """A queued job is cancelled at once; a running one is flagged for the supervisor."""
        with self.connect() as db:
            db.execute("UPDATE jobs SET state = 'cancelled', finished = ?, error = 'cancelled before it started' "
                       "WHERE id = ? AND owner = ? AND state = 'queued'", (time.time(), job_id, owner))
            db.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND owner = ? AND state = 'running'",
                       (job_id, owner))
            row = db.execute("SELECT * FROM jobs WHERE id = ? AND owner = ?", (job_id, owner)).fetchone()
        return None if row is None else Job.of(row)

    def cancel_requests(self) -> list[Job]:
        with self.connect(write=False) as db:
            rows = db.execute("SELECT * FROM jobs WHERE state = 'running' AND cancel_requested = 1").fetchall()
        return [Job.of(r) for r in rows]

    # --- a solve process's side (all guarded by its lease) -------------------------
    def progress(self, job_id: str, lease: str, progress: dict[str, Any]) -> bool:
        with self.connect() as db:
            cur = db.execute("UPDATE jobs SET progress = ? WHERE id = ? AND lease = ? AND state = 'running'",
                             (json.dumps(progress), job_id, lease))
            return cur.rowcount == 1

    def put_file(self, job_id: str, lease: str, name: str, data: bytes) -> bool:
        with self.connect() as db:
            if db.execute("SELECT 1 FROM jobs WHERE id = ? AND lease = ? AND state = 'running'",
                          (job_id, lease)).fetchone() is None:
                return False
            db.execute("INSERT OR REPLACE INTO files (job, name, data) VALUES (?, ?, ?)", (job_id, name, data))
            return True

    def attach(self, job_id: str, name: str, data: bytes, replacing: tuple[str, ...] = ()) -> None:
        """Store (or replace) a file of a finished job, what its owner adds later such as progress,
        and remove the files ``replacing`` names, in one transaction."""
        with self.connect() as db:
            db.executemany("DELETE FROM files WHERE job = ? AND name = ?", [(job_id, n) for n in replacing])
            db.execute("INSERT OR REPLACE INTO files (job, name, data) VALUES (?, ?, ?)", (job_id, name, data))

    # --- agreement (docs/rounds.md) -----------------------------------------
    def record_agreement(self, job_id: str, who: str, entries: list[dict[str, Any]]) -> None:
        """Append answers (mentee, mentor, status, note) for a job's partnerships, in one transaction."""
        now = time.time()
        with self.connect() as db:
            db.executemany("INSERT INTO agreements (job, mentee, mentor, status, note, who, at) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?)",
                           [(job_id, e["mentee"], e["mentor"], e["status"], e.get("note"), who, now) for e in entries])

    def agreement_history(self, job_id: str) -> list[dict[str, Any]]:
        """Every answer recorded for the job, oldest first."""
        with self.connect(write=False) as db:
            rows = db.execute("SELECT mentee, mentor, status, note, who, at FROM agreements WHERE job = ? "
                              "ORDER BY seq", (job_id,)).fetchall()
        return [dict(r) for r in rows]

    def finish(self, job_id: str, lease: str, state: str, summary: Optional[dict[str, Any]] = None,
               error: Optional[str] = None, files: Optional[dict[str, bytes]] = None) -> bool:
        """End a running job (once: a second finish, or a stale lease, changes nothing)."""
        assert state in FINAL
        with self.connect() as db:
            row = db.execute("SELECT progress FROM jobs WHERE id = ? AND lease = ? AND state = 'running'",
                             (job_id, lease)).fetchone()
            before = json.loads(row["progress"]) if row is not None and row["progress"] else {}
            summary, progress = _final(state, summary, before if isinstance(before, dict) else {})
            cur = db.execute("UPDATE jobs SET state = ?, finished = ?, summary = ?, error = ?, lease = NULL, "
                             "pid = NULL, progress = ? WHERE id = ? AND lease = ? AND state = 'running'",
                             (state, time.time(), None if summary is None else json.dumps(summary), error,
                              json.dumps(progress), job_id, lease))
            if cur.rowcount != 1:
                return False
            for name, data in (files or {}).items():
                db.execute("INSERT OR REPLACE INTO files (job, name, data) VALUES (?, ?, ?)", (job_id, name, data))
            return True


class QueueFull(Exception):
    def __init__(self, queued: int) -> None:
        super().__init__(f"{queued} jobs are waiting")
        self.queued = queued


class KeyReused(Exception):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"this idempotency key was used for job {job_id} with another request")
        self.job_id = job_id


def _final(state: str, summary: Optional[dict[str, Any]],
           progress: dict[str, Any]) -> tuple[Optional[dict[str, Any]], dict[str, Any]]:
    """The summary and the progress a job ends with, consistent with each other: the
    progress's last phase and best give way to the final figures, and a summary made
    from the best solution before a cancel or the time cap keeps the bound the
    progress had proven."""
    if summary is not None and "coverage" in summary:
        bound = summary.get("bound_coverage")
        if bound is None and progress.get("bound_coverage") is not None:
            bound = progress["bound_coverage"]
            coverage = summary.get("coverage")
            summary = dict(summary, bound_coverage=bound, gap_coverage=None if coverage is None or not bound
                           else round(max(0.0, (bound - coverage) / bound), 6))
        best = {k: summary.get(k) for k in ("coverage", "quality", "cost", "matched")}
        return summary, {"phase": state, "bound_coverage": bound, "best": best}
    return summary, dict(progress, phase=state)
