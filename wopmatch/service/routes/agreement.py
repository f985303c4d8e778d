"""A solve job's agreement status (docs/rounds.md, docs/service.md): each partnership proposed,
then accepted or declined by the utilities; every answer kept with who recorded it and when;
and a re-match of the round after the answers, queued as a new job."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any, Optional

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from ...models import parse_solution
from ...models.io import decode_json
from ...models.problems import InputError, Problem
from ...models.status import Agreement, RoundStatus, next_status, status_bytes, status_counts
from ..deps import ConfigDep, Key, Owner, StoreDep, job_of, submit
from ..requests import ERRORS, QUEUE_ERRORS, ErrorOut, JobOut
from ..store import Job, Store

router = APIRouter(prefix="/v1", tags=["agreement"])


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mentee: str
    mentor: str
    status: Agreement
    note: Optional[str] = Field(None, max_length=2000)


class AnswersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    partnerships: list[Answer] = Field(min_length=1, max_length=100_000)


class HistoryOut(BaseModel):
    mentee: str
    mentor: str
    status: str
    note: Optional[str] = None
    by: str = Field(description="Fingerprint of the token that recorded it.")
    at: str


class StatusOut(BaseModel):
    job: str
    partnerships: list[dict[str, Any]] = Field(description="The current status, as a status file lists it.")
    counts: dict[str, int]
    history: list[HistoryOut] = Field(description="Every answer recorded, oldest first.")
    links: dict[str, str]


def _solved(job_id: str, who: str, store: Store) -> Job:
    job = job_of(job_id, who, store)
    if job.kind != "solve" or job.state != "done":
        raise HTTPException(409, f"job {job_id} is not a finished solve ({job.kind}, {job.state}): only the "
                                 "partnerships of a solution can be answered")
    return job


def current_status(store: Store, job: Job, history: Optional[list[dict[str, Any]]] = None) -> RoundStatus:
    """The job's status: what it started from (a re-match's status.json, else nothing), its
    solution's partnerships proposed (models/status.next_status), then every answer recorded
    (``history``: store.agreement_history of the job, when the caller has it already)."""
    base = store.file(job.id, "status.json")
    start = RoundStatus() if base is None else RoundStatus.model_validate_json(base)
    solution = parse_solution(decode_json(store.file(job.id, "solution.json") or b"", "solution"), "solution")
    status, _, _ = next_status(start, solution)
    entries = {(e.mentee, e.mentor): e for e in status.partnerships}
    for row in store.agreement_history(job.id) if history is None else history:
        key = (row["mentee"], row["mentor"])
        entries[key] = entries[key].model_copy(update={"status": row["status"], "note": row["note"]})
    return RoundStatus(partnerships=sorted(entries.values(), key=lambda e: (e.mentee, e.mentor)))


def _out(store: Store, job: Job) -> dict[str, Any]:
    history = store.agreement_history(job.id)
    status = current_status(store, job, history)
    base = f"/v1/jobs/{job.id}"
    return {"job": job.id, "partnerships": [e.model_dump(exclude_none=True) for e in status.partnerships],
            "counts": status_counts(status),
            "history": [{**{k: r[k] for k in ("mentee", "mentor", "status", "note")}, "by": r["who"],
                         "at": datetime.fromtimestamp(r["at"], timezone.utc).isoformat(timespec="seconds")}
                        for r in history],
            "links": {"self": f"{base}/status", "rematch": f"{base}/rematch", "job": base}}


@router.get("/jobs/{job_id}/status", response_model=StatusOut, responses={**ERRORS, 409: {"model": ErrorOut}})
def status(job_id: str, who: Owner, store: StoreDep) -> dict[str, Any]:
    """The agreement status of a finished solve's partnerships, and every answer recorded."""
    return _out(store, _solved(job_id, who, store))


@router.post("/jobs/{job_id}/status", response_model=StatusOut, responses={**ERRORS, 409: {"model": ErrorOut}})
def answer(job_id: str, body: AnswersIn, who: Owner, store: StoreDep) -> dict[str, Any]:
    """Record answers (accepted, declined, active, ended, or proposed again) for partnerships of the
    round; each is kept in the history with who recorded it. A pair the round's status does not
    list is refused (422), and then nothing is recorded."""
    job = _solved(job_id, who, store)
    listed = {(e.mentee, e.mentor) for e in current_status(store, job).partnerships}
    problems = [Problem(f"partnerships[{k}]", f"{a.mentee} - {a.mentor} is not a partnership of this round "
                                              f"(job {job_id})")
                for k, a in enumerate(body.partnerships) if (a.mentee, a.mentor) not in listed]
    if problems:
        raise InputError(problems, "status")
    store.record_agreement(job.id, who, [a.model_dump() for a in body.partnerships])
    return _out(store, job)


class ProposalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mentee: str = Field(min_length=1)
    mentor: str = Field(min_length=1)
    donor: Optional[str] = Field(None, description="The donor to fund it; default: each donor whose rules allow "
                                                   "the pair, the best round kept.")


@router.post("/jobs/{job_id}/propose", status_code=202, response_model=JobOut, responses=QUEUE_ERRORS)
def propose(job_id: str, body: ProposalIn, who: Owner, store: StoreDep, config: ConfigDep,
            idempotency_key: Key = None):
    """Queue a proposal on a finished solve (as `wopmatch propose`): whether the pair may be formed,
    its figures and donors, and the round re-solved with it pinned, with the diff. The job's
    `proposal` link holds the answer, its `solution` link the re-solved round."""
    job = _solved(job_id, who, store)
    raw = store.file(job.id, "input.json") or b""
    ops = {op["id"]: op for op in decode_json(raw, "input")["operators"]}
    problems = [Problem(role, f"{ident!r} is not an operator of this round with a {role} profile")
                for role, ident in (("mentee", body.mentee), ("mentor", body.mentor))
                if role not in ops.get(ident, {})]
    if problems:
        raise InputError(problems, "proposal")
    request = {**body.model_dump(), "proposal_on": job.id, "instance_sha256": job.request.get("instance_sha256"),
               "instance_name": job.request.get("instance_name")}
    files = {"input.json": raw, "given.json": store.file(job.id, "solution.json") or b""}
    return submit(store, config, who, "propose", request, files, idempotency_key)


@router.post("/jobs/{job_id}/rematch", status_code=202, response_model=JobOut, responses=QUEUE_ERRORS)
def rematch(job_id: str, who: Owner, store: StoreDep, config: ConfigDep, idempotency_key: Key = None):
    """Queue a re-match of the round after its answers (as `wopmatch solve --status`): the same
    instance and options, accepted and active partnerships kept, declined and ended pairs never
    proposed again, the proposals still waiting kept where possible. The new job's status starts
    from this one's."""
    job = _solved(job_id, who, store)
    if store.file(job.id, "previous.json") is not None:
        raise HTTPException(409, f"job {job_id} carried an earlier round (previous): a re-match after answers "
                                 "and a previous round together are not supported yet")
    agreed = status_bytes(current_status(store, job), ".json")
    files = {"input.json": store.file(job.id, "input.json") or b"", "status.json": agreed}
    request = {**{k: v for k, v in job.request.items() if k not in ("rematch_of", "status_sha256")},
               "rematch_of": job.id, "status_sha256": hashlib.sha256(agreed).hexdigest()}
    return submit(store, config, who, "solve", request, files, idempotency_key)
