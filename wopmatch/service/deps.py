"""What every route depends on: the store and settings of the app, the caller's
token, and the readers shared by the routes (uploads, job look-up, submission)."""

from __future__ import annotations

import hashlib
import io
import json
import re
from typing import Annotated, Any, Optional

from fastapi import Depends, File, Header, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..models import Instance, parse_instance
from ..models.io import decode_json
from ..models.problems import InputError, Problem
from .config import ServiceConfig
from .requests import job_out
from .store import Job, KeyReused, QueueFull, Store

JOB_ID = r"^[0-9a-f]{32}$"
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
#: A workbook may unpack to at most this many bytes (a small zip can unpack to gigabytes).
MAX_UNPACKED = 256 * 1024 * 1024

bearer = HTTPBearer(auto_error=False, description="A token from the service's tokens file or $WOPMATCH_TOKENS.")


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_config(request: Request) -> ServiceConfig:
    return request.app.state.config


def owner(config: Annotated[ServiceConfig, Depends(get_config)],
          credentials: Annotated[Optional[HTTPAuthorizationCredentials], Depends(bearer)]) -> str:
    """The fingerprint of a valid bearer token (401 otherwise): whose jobs these are."""
    who = config.owner(credentials.credentials) if credentials is not None else None
    if who is None:
        raise HTTPException(401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    return who


StoreDep = Annotated[Store, Depends(get_store)]
ConfigDep = Annotated[ServiceConfig, Depends(get_config)]
Owner = Annotated[str, Depends(owner)]
Key = Annotated[Optional[str], Header(max_length=200, description="The same key returns the same job.")]
Upload = Annotated[UploadFile, File(description="An .xlsx workbook or a .json instance")]


async def one_file_each(request: Request) -> None:
    """A form with a file part sent twice (two ``file`` parts) is refused: only one of them
    would be read, silently. (A list option, such as ``ended``, is repeated on purpose.)"""
    form = await request.form()  # parsed once; FastAPI reuses it for the route's fields
    twice = [key for key in ("file", "previous") if len(form.getlist(key)) > 1]
    if twice:
        raise InputError([Problem(key, f"sent {len(form.getlist(key))} times; send it once") for key in twice],
                         "upload")


OneFileEach = Depends(one_file_each)


def job_of(job_id: str, who: str, store: Store) -> Job:
    """The caller's job (404 for a missing one and for another owner's alike)."""
    job = store.get(job_id, who) if re.match(JOB_ID, job_id) else None
    if job is None:
        raise HTTPException(404, f"no job {job_id}")
    return job


def checked_workbook(data: bytes, source: str) -> io.BytesIO:
    """An uploaded workbook, once its zip unpacks to no more than MAX_UNPACKED bytes."""
    import zipfile

    try:
        unpacked = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist())
    except (zipfile.BadZipFile, ValueError):
        raise InputError([Problem("", "not a readable .xlsx workbook (a damaged zip file)")], source) from None
    if unpacked > MAX_UNPACKED:
        raise InputError([Problem("", f"the workbook unpacks to {unpacked:,} bytes, over the service's limit "
                                      f"of {MAX_UNPACKED:,}")], source)
    return io.BytesIO(data)


def read_upload(data: bytes, filename: str) -> Instance:
    """A workbook (.xlsx, by its zip signature) or a JSON instance."""
    from ..models.tables import read_workbook, tables_to_instance

    source = filename or "upload"
    if source.lower().endswith(".xlsx") and data[:2] != b"PK":
        raise InputError([Problem("", "not a readable .xlsx workbook (a workbook is a zip file, and this is not "
                                      "one); save it again from a spreadsheet program")], source)
    if data[:2] == b"PK":
        tables, problems = read_workbook(checked_workbook(data, source), source)
        return tables_to_instance(tables, source, problems)
    return parse_instance(decode_json(data, source), source)


def submit(store: Store, config: ServiceConfig, who: str, kind: str, request: dict[str, Any],
           files: dict[str, bytes], key: Optional[str]) -> JSONResponse:
    """Queue a job (202), or return the job of a reused Idempotency-Key (200); 409, 429."""
    if key is not None and not IDEMPOTENCY_KEY.match(key):
        raise InputError([Problem("Idempotency-Key", "1 to 200 printable ASCII characters, no spaces")])
    digest = hashlib.sha256(json.dumps([kind, request], sort_keys=True).encode())
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    try:
        job, created = store.submit(who, kind, request, digest.hexdigest(), files, key, config.max_queued)
    except QueueFull as exc:
        return JSONResponse(status_code=429, headers={"Retry-After": str(config.retry_after)},
                            content={"detail": f"the queue is full ({exc.queued} jobs waiting); retry later",
                                     "problems": []})
    except KeyReused as exc:
        return JSONResponse(status_code=409, content={"detail": str(exc), "problems": []})
    return JSONResponse(status_code=202 if created else 200, content=job_out(job),
                        headers={"Location": f"/v1/jobs/{job.id}"})
