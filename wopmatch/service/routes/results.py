"""A job's results: the solution (JSON, result workbook, HTML report, work plans), its
input, and a scenario set's table and solutions."""

from __future__ import annotations

import json
import re

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, Response

from ...models import Instance, Solution, parse_instance
from ..deps import Owner, StoreDep, job_of
from ..requests import ERRORS, ErrorOut
from ..store import Job, Store

router = APIRouter(prefix="/v1/jobs", tags=["results"])
SCENARIO_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
CONFLICT = {**ERRORS, 409: {"model": ErrorOut}}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _solution(job_id: str, who: str, store: Store, kinds: tuple[str, ...] = ("solve",)) -> tuple[Job, bytes]:
    current = job_of(job_id, who, store)
    data = store.file(job_id, "solution.json") if current.kind in kinds else None
    if data is None:
        raise HTTPException(409, f"job {job_id} has no solution ({current.state}"
                                 f"{': ' + current.error if current.error else ''})")
    return current, data


def _solved_instance(job_id: str, store: Store, solution: Solution) -> Instance:
    """The instance the job solved: the stored input, with an earlier round's partnerships carried, or
    the pins and bans of its agreement status (both recorded in the solution)."""
    from ...solver import PreviousRound, rebuild_round

    instance = parse_instance(json.loads(store.file(job_id, "input.json") or b"null"), "instance")
    earlier = store.file(job_id, "previous.json")
    previous = None if earlier is None else PreviousRound.of_bytes(earlier, Solution.model_validate_json(earlier))
    return rebuild_round(instance, solution, previous)[0]


@router.get("/{job_id}/solution", responses={**CONFLICT, 200: {"content": {"application/json": {}}}})
def solution(job_id: str, who: Owner, store: StoreDep) -> Response:
    """The solution (wopmatch.solution/1, docs/format.md); of a proposal, the round re-solved with the pair pinned."""
    return Response(_solution(job_id, who, store, ("solve", "propose"))[1], media_type="application/json")


@router.get("/{job_id}/proposal", responses={**CONFLICT, 200: {"content": {"application/json": {}}}})
def proposal(job_id: str, who: Owner, store: StoreDep) -> Response:
    """A proposal's answer (wopmatch.proposal/1, as `wopmatch propose -o` writes it)."""
    return _json_of(job_id, who, store, "propose", "proposal.json", "proposal")


@router.get("/{job_id}/input", responses={**ERRORS, 200: {"content": {"application/json": {}}}})
def input_instance(job_id: str, who: Owner, store: StoreDep) -> Response:
    """The instance as stored and solved (its sha256 is the one the solution names)."""
    job_of(job_id, who, store)
    return Response(store.file(job_id, "input.json") or b"", media_type="application/json")


@router.get("/{job_id}/solution.xlsx", responses={**CONFLICT, 200: {"content": {XLSX: {}}}})
def solution_xlsx(job_id: str, who: Owner, store: StoreDep) -> Response:
    """The result sheets (as `wopmatch solve -o FILE.xlsx` writes them)."""
    from ...reports.results import results_workbook_bytes

    job_row, data = _solution(job_id, who, store)
    sol = Solution.model_validate_json(data)
    return Response(results_workbook_bytes(_solved_instance(job_id, store, sol), sol), media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="wopmatch-{job_row.id}.xlsx"'})


@router.get("/{job_id}/report", response_class=HTMLResponse, responses=CONFLICT)
def report(job_id: str, who: Owner, store: StoreDep) -> HTMLResponse:
    """The self-contained HTML report (as `wopmatch report`), re-verified."""
    from ...reports.html import render_report
    from ...solver import verify_solution

    job_row, data = _solution(job_id, who, store)
    sol = Solution.model_validate_json(data)
    inst = _solved_instance(job_id, store, sol)
    return HTMLResponse(render_report(inst, sol, verify_solution(inst, sol),
                                      job_row.request.get("instance_name") or job_row.id, sha_matches=True))


def _plans(job_id: str, who: str, store: Store) -> tuple[Job, dict[str, bytes]]:
    from ...reports.plans import plan_files

    job_row, data = _solution(job_id, who, store)
    sol = Solution.model_validate_json(data)
    return job_row, plan_files(_solved_instance(job_id, store, sol), sol)


@router.get("/{job_id}/plans", responses={**CONFLICT, 200: {"content": {"application/zip": {}}}})
def plans_zip(job_id: str, who: Owner, store: StoreDep) -> Response:
    """Every partnership's draft work plan and their index, as the folder `wopmatch plans` writes, zipped."""
    import io
    import zipfile

    job_row, files = _plans(job_id, who, store)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in sorted(files.items()):
            z.writestr(f"plans/{name}", body)
    return Response(buf.getvalue(), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="wopmatch-{job_row.id}-plans.zip"'})


@router.get("/{job_id}/plans/{page}", response_class=HTMLResponse, responses=CONFLICT)
def plan_page(job_id: str, page: str, who: Owner, store: StoreDep) -> HTMLResponse:
    """One page of the work plans (``index.html``, or a partnership's, named by its mentee)."""
    _, files = _plans(job_id, who, store)
    if page not in files:
        raise HTTPException(404, f"no work plan {page!r} in job {job_id}")
    return HTMLResponse(files[page])


@router.get("/{job_id}/scenarios", responses=CONFLICT)
def scenarios(job_id: str, who: Owner, store: StoreDep) -> Response:
    """A scenario set's table (one row per scenario finished so far)."""
    return _json_of(job_id, who, store, "scenarios", "scenarios.json", "scenario results")


def _json_of(job_id: str, who: str, store: Store, kind: str, name: str, what: str) -> Response:
    """A JSON file of a job of ``kind`` (409 when the job is of another kind, or has none yet)."""
    current = job_of(job_id, who, store)
    data = store.file(job_id, name) if current.kind == kind else None
    if data is None:
        raise HTTPException(409, f"job {job_id} has no {what} ({current.kind}, {current.state})")
    return Response(data, media_type="application/json")


@router.get("/{job_id}/scenarios/{name}/solution", responses=CONFLICT)
def scenario_solution(job_id: str, name: str, who: Owner, store: StoreDep) -> Response:
    """One scenario's solution."""
    job_of(job_id, who, store)
    data = store.file(job_id, f"solutions/{name}.json") if re.match(SCENARIO_NAME, name) else None
    if data is None:
        raise HTTPException(404, f"no solution of scenario {name!r} in job {job_id}")
    return Response(data, media_type="application/json")
