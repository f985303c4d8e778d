"""Submit, list, follow and cancel jobs: solves (JSON or an upload) and scenario sets."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Annotated, Any, Optional

from fastapi import APIRouter, Depends, File, HTTPException, UploadFile

from ...models import Instance, Solution, parse_instance, parse_solution, solution_bytes
from ...models.io import decode_json, instance_bytes
from ...models.problems import InputError, Problem
from ...models.scenarios import parse_scenario_set
from ...solver import PreviousRound, SolveOptions, UnknownPolicyError, UnsupportedMethodError, check_request
from ..deps import ConfigDep, Key, OneFileEach, Owner, StoreDep, Upload, job_of, read_upload, submit
from ..requests import (
    ERRORS,
    QUEUE_ERRORS,
    CancelOut,
    ErrorOut,
    JobOut,
    ScenariosRequest,
    SolveRequest,
    job_out,
    solve_form,
)
from ..store import FINAL

router = APIRouter(prefix="/v1", tags=["jobs"])
PreviousUpload = Annotated[Optional[UploadFile], File(description="An earlier round's solution (.json) whose "
                                                                  "partnerships are still running")]


@router.post("/jobs", status_code=202, response_model=JobOut, responses=QUEUE_ERRORS)
def submit_solve(body: SolveRequest, who: Owner, store: StoreDep, config: ConfigDep, idempotency_key: Key = None):
    """Queue a solve: 202 with the job (or, for an Idempotency-Key already used, 200 with that job)."""
    instance = parse_instance(body.instance, "instance")
    previous = None if body.previous is None else parse_solution(body.previous, "previous")
    options = SolveOptions(**body.model_dump(include=set(SolveOptions.model_fields)))
    return _solve_job(store, config, who, instance, options, previous, idempotency_key)


@router.post("/jobs/upload", status_code=202, response_model=JobOut, responses=QUEUE_ERRORS,
             dependencies=[OneFileEach])
def submit_upload(file: Upload, who: Owner, store: StoreDep, config: ConfigDep,
                  options: Annotated[SolveOptions, Depends(solve_form())], previous: PreviousUpload = None,
                  idempotency_key: Key = None):
    """Queue a solve of an uploaded workbook or JSON file (the web page's route)."""
    instance = read_upload(file.file.read(), file.filename or "")
    earlier = None
    if previous is not None:
        source = previous.filename or "previous"
        earlier = parse_solution(decode_json(previous.file.read(), source), source)
    return _solve_job(store, config, who, instance, options, earlier, idempotency_key)


def _solve_job(store, config, who: str, instance: Instance, options: SolveOptions, previous: Optional[Solution],
               key: Optional[str]):
    """What `wopmatch solve` refuses before any work is refused here (422) before queueing."""
    files = {"input.json": instance_bytes(instance)}
    earlier = None
    if previous is not None:
        files["previous.json"] = solution_bytes(previous)
        earlier = PreviousRound.of_bytes(files["previous.json"], previous)
    try:
        check_request(instance, options, earlier)
    except (UnknownPolicyError, UnsupportedMethodError) as exc:
        raise InputError([Problem("method" if options.method != "auto" else "policy", str(exc))]) from None
    request = {**options.model_dump(mode="json"), "instance_sha256": hashlib.sha256(files["input.json"]).hexdigest(),
               "instance_name": instance.name}
    if earlier is not None:
        request["previous_sha256"] = earlier.sha256
    return submit(store, config, who, "solve", request, files, key)


@router.post("/scenarios", status_code=202, response_model=JobOut, responses=QUEUE_ERRORS)
def submit_scenarios(body: ScenariosRequest, who: Owner, store: StoreDep, config: ConfigDep,
                     idempotency_key: Key = None):
    """Queue a scenario set (docs/scenarios.md) on the given base instance; every scenario is checked first."""
    from ...scenarios.runner import build_tasks

    instance = parse_instance(body.instance, "instance")
    raw = {**body.set, "base": "(the request's instance)"}
    sset = parse_scenario_set(raw, "set")
    tasks = build_tasks(sset, instance)
    request = {"scenarios": len(tasks), "name": sset.name, "instance_name": instance.name}
    files = {"input.json": instance_bytes(instance),
             "set.json": (sset.model_dump_json(indent=2, exclude_unset=True) + "\n").encode()}
    return submit(store, config, who, "scenarios", request, files, idempotency_key)


@router.get("/jobs", response_model=list[JobOut], responses=ERRORS)
def jobs(who: Owner, store: StoreDep) -> list[dict[str, Any]]:
    """Your 50 latest jobs, newest first."""
    return [job_out(j) for j in store.jobs_of(who)]


@router.get("/jobs/{job_id}", response_model=JobOut, responses=ERRORS)
def job(job_id: str, who: Owner, store: StoreDep) -> dict[str, Any]:
    """State, progress (phase, best objective and bound so far) and, when ended, the headline figures."""
    return job_out(job_of(job_id, who, store))


@router.post("/jobs/{job_id}/cancel", response_model=CancelOut, responses={**ERRORS, 409: {"model": ErrorOut}})
def cancel(job_id: str, who: Owner, store: StoreDep, config: ConfigDep) -> dict[str, Any]:
    """Stop a job. A running solve ends with the best solution found so far (never labelled optimal)."""
    current = job_of(job_id, who, store)
    if current.state in FINAL:
        raise HTTPException(409, f"job {job_id} has already ended ({current.state})")
    store.request_cancel(job_id, who)
    deadline = time.monotonic() + 15 * config.poll_seconds + 5
    while time.monotonic() < deadline:
        current = job_of(job_id, who, store)
        if current.state in FINAL:
            break
        time.sleep(config.poll_seconds / 2)
    best = store.file(job_id, "solution.json") if current.state == "cancelled" else None
    return {**job_out(current), "solution": None if best is None else json.loads(best)}
