"""Monitoring a finished solve's partnerships (docs/monitoring.md, docs/service.md): the progress
workbook to fill in, the progress sent back (checked, then kept with the job), and the graded
partnerships as JSON, CSV or the donors' HTML report."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from ...models import Solution
from ...models.progress import ReadProgress, progress_from_bytes
from ...reports.monitor import Monitoring, monitor, monitoring_csv, monitoring_html, monitoring_json, \
    progress_workbook
from ..deps import OneFileEach, Owner, StoreDep, Upload, checked_workbook
from ..requests import ERRORS, ErrorOut
from ..store import Store
from .results import XLSX, _solution, _solved_instance

router = APIRouter(prefix="/v1/jobs", tags=["monitoring"])
CONFLICT = {**ERRORS, 409: {"model": ErrorOut}}
#: The job's files that hold its progress, the newest kept: a workbook or JSON as sent.
PROGRESS_FILES = ("progress.xlsx", "progress.json")


class MonitoringOut(BaseModel):
    job: str
    period: int = Field(description="The round's latest reported period.")
    counts: dict[str, int] = Field(description="Partnerships on track, at risk and off track.")
    links: dict[str, str]


def _round(job_id: str, who: str, store: Store) -> tuple[Any, Solution]:
    job_row, data = _solution(job_id, who, store)
    sol = Solution.model_validate_json(data)
    return _solved_instance(job_id, store, sol), sol


def _read(data: bytes, name: str) -> ReadProgress:
    if data[:2] == b"PK":
        checked_workbook(data, name)  # not a zip bomb
    return progress_from_bytes(data, name)


def _graded(job_id: str, who: str, store: Store) -> Monitoring:
    instance, sol = _round(job_id, who, store)
    for name in PROGRESS_FILES:
        data = store.file(job_id, name)
        if data is not None:
            return monitor(instance, sol, _read(data, name), name)
    raise HTTPException(409, f"job {job_id} has no progress yet: PUT /v1/jobs/{job_id}/progress first")


@router.get("/{job_id}/progress.xlsx", responses={**CONFLICT, 200: {"content": {XLSX: {}}}})
def progress_template(job_id: str, who: Owner, store: StoreDep) -> Response:
    """The progress workbook of the solution's partnerships, to fill in (as `wopmatch template --progress`)."""
    instance, sol = _round(job_id, who, store)
    return Response(progress_workbook(instance, sol), media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="wopmatch-{job_id}-progress.xlsx"'})


@router.put("/{job_id}/progress", response_model=MonitoringOut, responses=CONFLICT, dependencies=[OneFileEach])
def put_progress(job_id: str, file: Upload, who: Owner, store: StoreDep) -> dict[str, Any]:
    """Send the filled progress workbook (or a wopmatch.progress/1 JSON file). It is checked against the
    partnerships' plans (422 locates every problem by sheet, row and column, and nothing is kept),
    then kept with the job, replacing the progress sent before."""
    data = file.file.read()
    name = "progress.xlsx" if data[:2] == b"PK" else "progress.json"
    instance, sol = _round(job_id, who, store)
    m = monitor(instance, sol, _read(data, file.filename or name), file.filename or name)
    store.attach(job_id, name, data, replacing=tuple(n for n in PROGRESS_FILES if n != name))
    return _out(job_id, m)


def _out(job_id: str, m: Monitoring) -> dict[str, Any]:
    base = f"/v1/jobs/{job_id}"
    return {"job": job_id, "period": m.period, "counts": m.counts,
            "links": {"monitoring": f"{base}/monitoring", "csv": f"{base}/monitoring.csv",
                      "report": f"{base}/monitoring.html", "template": f"{base}/progress.xlsx"}}


@router.get("/{job_id}/monitoring", responses={**CONFLICT, 200: {"content": {"application/json": {}}}})
def monitoring(job_id: str, who: Owner, store: StoreDep) -> Response:
    """Every partnership graded against its plan (wopmatch.monitoring/1, as `wopmatch monitor -o x.json`)."""
    return Response(monitoring_json(_graded(job_id, who, store)), media_type="application/json")


@router.get("/{job_id}/monitoring.csv", responses={**CONFLICT, 200: {"content": {"text/csv": {}}}})
def monitoring_table(job_id: str, who: Owner, store: StoreDep) -> Response:
    """One row per partnership (as `wopmatch monitor -o x.csv`)."""
    return Response(monitoring_csv(_graded(job_id, who, store)), media_type="text/csv")


@router.get("/{job_id}/monitoring.html", response_class=HTMLResponse, responses=CONFLICT)
def monitoring_report(job_id: str, who: Owner, store: StoreDep) -> HTMLResponse:
    """The donors' monitoring report (as `wopmatch monitor -o x.html`)."""
    return HTMLResponse(monitoring_html(_graded(job_id, who, store)))
