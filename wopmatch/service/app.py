"""The HTTP API (FastAPI): validate instances, submit and follow solve jobs and
scenario sets, fetch results as JSON, XLSX or the HTML report, cancel.

A thin shell: requests are parsed with the same readers as the CLI (so a
validation error names the same field or cell, as 422), jobs go to the store,
and the supervisor runs them in processes of their own. docs/service.md has
the routes, the job life cycle and the threat model.
"""

import hashlib
import io
import json
import logging
import re
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from importlib import resources
from typing import Annotated, Any, Literal, Optional

from fastapi import Depends, FastAPI, File, Form, Header, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..models import Instance, Solution, parse_instance
from ..models.io import decode_json, instance_bytes
from ..models.problems import InputError, Problem, json_path
from ..models.scenarios import parse_scenario_set
from ..solver.policies import METHODS, POLICIES, SolveOptions, UnknownPolicyError, UnsupportedMethodError
from .config import ServiceConfig
from .limits import BodyLimit
from .store import FINAL, Job, KeyReused, QueueFull, Store
from .supervisor import Supervisor

log = logging.getLogger("wopmatch.service")

PolicyName = Literal[tuple(POLICIES)]  # type: ignore[valid-type]
MethodName = Literal[tuple(METHODS)]  # type: ignore[valid-type]
JOB_ID = r"^[0-9a-f]{32}$"
SCENARIO_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


# --- request and response bodies -------------------------------------------------
class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SolveOptionsBody(_Body):
    policy: PolicyName = Field("optimal", description="docs/policies.md")
    time_limit: Optional[float] = Field(None, gt=0, le=10**7, description="Seconds (the service's cap applies).")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    method: MethodName = Field("auto", description="How an exact policy solves (as `wopmatch solve --method`).")
    group_by: Literal["region", "country"] = "region"
    node_limit: Optional[int] = Field(None, ge=1, le=2**31 - 1)


class SolveRequest(SolveOptionsBody):
    instance: dict[str, Any] = Field(description="A wopmatch.instance/1 document (docs/format.md).")


class ScenariosRequest(_Body):
    set: dict[str, Any] = Field(description="A wopmatch.scenarios/1 set; its `base` is ignored (the instance "
                                            "below is the base).")
    instance: dict[str, Any]


class ProblemOut(BaseModel):
    where: str
    message: str


class ErrorOut(BaseModel):
    detail: str
    problems: list[ProblemOut] = []


class ValidationOut(BaseModel):
    valid: bool
    operators: int
    mentees: int
    mentors: int
    donors: int
    pinned: int
    forbidden: int
    sha256: str = Field(description="Of the instance as the service stores it (canonical JSON).")


class JobOut(BaseModel):
    id: str
    kind: Literal["solve", "scenarios"]
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    request: dict[str, Any]
    created: str
    started: Optional[str] = None
    finished: Optional[str] = None
    attempts: int
    progress: Optional[dict[str, Any]] = Field(None, description="phase; best objective and bound so far")
    summary: Optional[dict[str, Any]] = Field(None, description="headline figures of the result")
    error: Optional[str] = None
    links: dict[str, str]


class CancelOut(JobOut):
    solution: Optional[dict[str, Any]] = Field(None, description="The best solution found before the cancel "
                                                                 "(never labelled optimal), if any.")


class HealthOut(BaseModel):
    status: Literal["ok"]
    version: str
    queued: int
    running: int


ERRORS = {401: {"model": ErrorOut}, 404: {"model": ErrorOut}, 413: {"model": ErrorOut}, 422: {"model": ErrorOut}}


def _iso(t: Optional[float]) -> Optional[str]:
    return None if t is None else datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="seconds")


def job_out(job: Job, base: str = "/v1/jobs") -> dict[str, Any]:
    links = {"self": f"{base}/{job.id}", "cancel": f"{base}/{job.id}/cancel"}
    if job.kind == "solve":
        links.update(solution=f"{base}/{job.id}/solution", xlsx=f"{base}/{job.id}/solution.xlsx",
                     report=f"{base}/{job.id}/report", input=f"{base}/{job.id}/input")
    else:
        links.update(scenarios=f"{base}/{job.id}/scenarios")
    return {"id": job.id, "kind": job.kind, "state": job.state, "request": job.request, "created": _iso(job.created),
            "started": _iso(job.started), "finished": _iso(job.finished), "attempts": job.attempts,
            "progress": job.progress, "summary": job.summary, "error": job.error, "links": links}


#: The page's files (a fixed list: a request never names a path).
STATIC = {"index.html": "text/html; charset=utf-8", "page.js": "text/javascript; charset=utf-8",
          "page.css": "text/css; charset=utf-8"}
#: The page loads nothing from elsewhere and is framed by nobody; the report it shows is a sandboxed blob.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "connect-src 'self'; img-src 'self' data: blob:; frame-src blob:; "
                               "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


def _static(name: str) -> Response:
    data = resources.files("wopmatch.service").joinpath("static", name).read_bytes()
    return Response(data, media_type=STATIC[name], headers=PAGE_HEADERS)


def _problems(exc: InputError) -> JSONResponse:
    return JSONResponse(status_code=422, content={
        "detail": f"{exc.source + ': ' if exc.source else ''}{len(exc.problems)} problem(s)",
        "problems": [{"where": p.where, "message": p.message} for p in exc.problems]})


#: A workbook may unpack to at most this many bytes (a small zip can unpack to gigabytes).
MAX_UNPACKED = 256 * 1024 * 1024


def _read_upload(data: bytes, filename: str) -> Instance:
    """A workbook (.xlsx, by its zip signature) or a JSON instance."""
    import zipfile

    from ..models.tables import read_workbook, tables_to_instance

    source = filename or "upload"
    if data[:2] == b"PK":
        try:
            unpacked = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist())
        except (zipfile.BadZipFile, ValueError):
            raise InputError([Problem("", "not a readable .xlsx workbook (a damaged zip file)")], source) from None
        if unpacked > MAX_UNPACKED:
            raise InputError([Problem("", f"the workbook unpacks to {unpacked:,} bytes, over the service's limit "
                                          f"of {MAX_UNPACKED:,}")], source)
        tables, problems = read_workbook(io.BytesIO(data), source)
        return tables_to_instance(tables, source, problems)
    return parse_instance(decode_json(data, source), source)


def _check_options(instance: Instance, options: SolveOptionsBody) -> None:
    """What `wopmatch solve` refuses before any work, refused here before queueing."""
    from ..solver.api import plan

    try:
        plan(instance, options.policy, SolveOptions(method=options.method, group_by=options.group_by))
    except (UnknownPolicyError, UnsupportedMethodError) as exc:
        raise InputError([Problem("method" if options.method != "auto" else "policy", str(exc))]) from None


# --- authentication and shared parameters ---------------------------------------------
bearer = HTTPBearer(auto_error=False, description="A token from the service's tokens file or $WOPMATCH_TOKENS.")


def owner(request: Request, credentials: Annotated[Optional[HTTPAuthorizationCredentials], Depends(bearer)]) -> str:
    """The fingerprint of a valid bearer token (401 otherwise): whose jobs these are."""
    config: ServiceConfig = request.app.state.config
    who = config.owner(credentials.credentials) if credentials is not None else None
    if who is None:
        raise HTTPException(401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    return who


Owner = Annotated[str, Depends(owner)]
Key = Annotated[Optional[str], Header(max_length=200, description="The same key returns the same job.")]
Upload = Annotated[UploadFile, File(description="An .xlsx workbook or a .json instance")]


# --- the application ----------------------------------------------------------
def create_app(config: ServiceConfig, supervise: bool = True) -> FastAPI:
    config.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(config.data_dir)
    supervisor = Supervisor(config, store)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        if supervise:
            supervisor.start()
        try:
            yield
        finally:
            if supervise:
                supervisor.stop()

    app = FastAPI(title="wopmatch", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Match water and sanitation utilities into Water Operators' Partnerships. "
                              "Every route but /v1/health needs `Authorization: Bearer TOKEN`.")
    app.state.store, app.state.supervisor, app.state.config = store, supervisor, config
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"where": json_path(e.get("loc", ())), "message": e.get("msg", "invalid")} for e in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": f"{len(problems)} problem(s) in the request",
                                                      "problems": problems})

    @app.exception_handler(InputError)
    async def invalid_input(_request: Request, exc: InputError) -> JSONResponse:
        return _problems(exc)

    @app.exception_handler(StarletteHTTPException)  # ours, and the router's own 404 and 405
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={"detail": str(exc.detail), "problems": []},
                            headers=exc.headers)

    def _job(job_id: str, who: str) -> Job:
        job = store.get(job_id, who) if re.match(JOB_ID, job_id) else None
        if job is None:  # another owner's job is as unknown as a missing one
            raise HTTPException(404, f"no job {job_id}")
        return job

    def _submit(who: str, kind: str, request: dict[str, Any], files: dict[str, bytes], key: Optional[str]):
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

    def _solve_job(who: str, instance: Instance, options: SolveOptionsBody, key: Optional[str]):
        _check_options(instance, options)
        data = instance_bytes(instance)
        request = {**options.model_dump(), "instance_sha256": hashlib.sha256(data).hexdigest(),
                   "instance_name": instance.name}
        return _submit(who, "solve", request, {"input.json": data}, key)

    # --- routes -------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> Response:
        """The facilitators' page: static, no data; it calls the API with the token typed into it."""
        return _static("index.html")

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name not in STATIC:
            raise HTTPException(404, "no such file")
        return _static(name)

    @app.get("/v1/health", response_model=HealthOut, tags=["service"])
    def health() -> dict[str, Any]:
        counts = store.counts()
        return {"status": "ok", "version": __version__, "queued": counts.get("queued", 0),
                "running": counts.get("running", 0)}

    @app.post("/v1/validate", response_model=ValidationOut, responses=ERRORS, tags=["instances"])
    def validate(instance: dict[str, Any], who: Owner) -> dict[str, Any]:
        """Validate an instance (JSON) without solving: 422 lists every problem by its path."""
        return _validation(parse_instance(instance, "instance"))

    @app.post("/v1/validate/upload", response_model=ValidationOut, responses=ERRORS, tags=["instances"])
    def validate_upload(file: Upload,
                        who: Owner) -> dict[str, Any]:
        """Validate an uploaded workbook or JSON file: 422 names the sheet, row and column of every problem."""
        return _validation(_read_upload(file.file.read(), file.filename or ""))

    def _validation(inst: Instance) -> dict[str, Any]:
        return {"valid": True, "operators": len(inst.operators),
                "mentees": sum(op.mentee is not None for op in inst.operators),
                "mentors": sum(op.mentor is not None for op in inst.operators), "donors": len(inst.donors),
                "pinned": len(inst.pinned), "forbidden": len(inst.forbidden),
                "sha256": hashlib.sha256(instance_bytes(inst)).hexdigest()}

    @app.post("/v1/jobs", status_code=202, response_model=JobOut, responses={**ERRORS, 409: {"model": ErrorOut},
                                                                            429: {"model": ErrorOut}}, tags=["jobs"])
    def submit(body: SolveRequest, who: Owner,
               idempotency_key: Key = None):
        """Queue a solve: 202 with the job (or, for an Idempotency-Key already used, 200 with that job)."""
        instance = parse_instance(body.instance, "instance")
        return _solve_job(who, instance, SolveOptionsBody(**body.model_dump(exclude={"instance"})), idempotency_key)

    @app.post("/v1/jobs/upload", status_code=202, response_model=JobOut,
              responses={**ERRORS, 409: {"model": ErrorOut}, 429: {"model": ErrorOut}}, tags=["jobs"])
    def submit_upload(file: Upload,
                      who: Owner,
                      policy: Annotated[PolicyName, Form()] = "optimal",
                      time_limit: Annotated[Optional[float], Form(gt=0, le=10**7)] = None,
                      seed: Annotated[int, Form(ge=0, le=2**31 - 1)] = 0,
                      method: Annotated[MethodName, Form()] = "auto",
                      group_by: Annotated[Literal["region", "country"], Form()] = "region",
                      node_limit: Annotated[Optional[int], Form(ge=1, le=2**31 - 1)] = None,
                      idempotency_key: Key = None):
        """Queue a solve of an uploaded workbook or JSON file (the web page's route)."""
        instance = _read_upload(file.file.read(), file.filename or "")
        options = SolveOptionsBody(policy=policy, time_limit=time_limit, seed=seed, method=method,
                                   group_by=group_by, node_limit=node_limit)
        return _solve_job(who, instance, options, idempotency_key)

    @app.post("/v1/scenarios", status_code=202, response_model=JobOut,
              responses={**ERRORS, 409: {"model": ErrorOut}, 429: {"model": ErrorOut}}, tags=["jobs"])
    def submit_scenarios(body: ScenariosRequest, who: Owner,
                         idempotency_key: Key = None):
        """Queue a scenario set (docs/scenarios.md) on the given base instance; every scenario is checked first."""
        from ..scenarios.runner import build_tasks

        instance = parse_instance(body.instance, "instance")
        raw = {**body.set, "base": "(the request's instance)"}
        sset = parse_scenario_set(raw, "set")
        tasks = build_tasks(sset, instance)
        request = {"scenarios": len(tasks), "name": sset.name, "instance_name": instance.name}
        files = {"input.json": instance_bytes(instance),
                 "set.json": (sset.model_dump_json(indent=2, exclude_unset=True) + "\n").encode()}
        return _submit(who, "scenarios", request, files, idempotency_key)

    @app.get("/v1/jobs", response_model=list[JobOut], responses=ERRORS, tags=["jobs"])
    def jobs(who: Owner) -> list[dict[str, Any]]:
        """Your 50 latest jobs, newest first."""
        return [job_out(j) for j in store.jobs_of(who)]

    @app.get("/v1/jobs/{job_id}", response_model=JobOut, responses=ERRORS, tags=["jobs"])
    def job(job_id: str, who: Owner) -> dict[str, Any]:
        """State, progress (phase, best objective and bound so far) and, when ended, the headline figures."""
        return job_out(_job(job_id, who))

    @app.post("/v1/jobs/{job_id}/cancel", response_model=CancelOut, responses={**ERRORS, 409: {"model": ErrorOut}},
              tags=["jobs"])
    def cancel(job_id: str, who: Owner) -> dict[str, Any]:
        """Stop a job. A running solve ends with the best solution found so far (never labelled optimal)."""
        import time

        current = _job(job_id, who)
        if current.state in FINAL:
            raise HTTPException(409, f"job {job_id} has already ended ({current.state})")
        store.request_cancel(job_id, who)
        deadline = time.monotonic() + 15 * config.poll_seconds + 5
        while time.monotonic() < deadline:
            current = _job(job_id, who)
            if current.state in FINAL:
                break
            time.sleep(config.poll_seconds / 2)
        best = store.file(job_id, "solution.json") if current.state == "cancelled" else None
        return {**job_out(current), "solution": None if best is None else json.loads(best)}

    def _solution(job_id: str, who: str) -> tuple[Job, bytes]:
        current = _job(job_id, who)
        data = store.file(job_id, "solution.json") if current.kind == "solve" else None
        if data is None:
            raise HTTPException(409, f"job {job_id} has no solution ({current.state}"
                                     f"{': ' + current.error if current.error else ''})")
        return current, data

    @app.get("/v1/jobs/{job_id}/solution", responses={**ERRORS, 409: {"model": ErrorOut},
                                                      200: {"content": {"application/json": {}}}}, tags=["results"])
    def solution(job_id: str, who: Owner) -> Response:
        """The solution (wopmatch.solution/1, docs/format.md)."""
        return Response(_solution(job_id, who)[1], media_type="application/json")

    @app.get("/v1/jobs/{job_id}/input", responses={**ERRORS, 200: {"content": {"application/json": {}}}},
             tags=["results"])
    def input_instance(job_id: str, who: Owner) -> Response:
        """The instance as stored and solved (its sha256 is the one the solution names)."""
        _job(job_id, who)
        return Response(store.file(job_id, "input.json") or b"", media_type="application/json")

    @app.get("/v1/jobs/{job_id}/solution.xlsx", responses={**ERRORS, 409: {"model": ErrorOut}, 200: {
        "content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}}, tags=["results"])
    def solution_xlsx(job_id: str, who: Owner) -> Response:
        """The result sheets (as `wopmatch solve -o FILE.xlsx` writes them)."""
        from ..reports.results import results_workbook_bytes

        job_row, data = _solution(job_id, who)
        inst = parse_instance(json.loads(store.file(job_id, "input.json") or b"null"), "instance")
        return Response(results_workbook_bytes(inst, Solution.model_validate_json(data)),
                        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f'attachment; filename="wopmatch-{job_row.id}.xlsx"'})

    @app.get("/v1/jobs/{job_id}/report", response_class=HTMLResponse,
             responses={**ERRORS, 409: {"model": ErrorOut}}, tags=["results"])
    def report(job_id: str, who: Owner) -> HTMLResponse:
        """The self-contained HTML report (as `wopmatch report`), re-verified."""
        from ..reports.html import render_report
        from ..solver.verify import verify_solution

        job_row, data = _solution(job_id, who)
        inst = parse_instance(json.loads(store.file(job_id, "input.json") or b"null"), "instance")
        sol = Solution.model_validate_json(data)
        violations = verify_solution(inst, sol)
        return HTMLResponse(render_report(inst, sol, violations, job_row.request.get("instance_name") or job_row.id,
                                          sha_matches=True))

    @app.get("/v1/jobs/{job_id}/scenarios", responses={**ERRORS, 409: {"model": ErrorOut}}, tags=["results"])
    def scenarios(job_id: str, who: Owner) -> Response:
        """A scenario set's table (one row per scenario finished so far)."""
        current = _job(job_id, who)
        data = store.file(job_id, "scenarios.json") if current.kind == "scenarios" else None
        if data is None:
            raise HTTPException(409, f"job {job_id} has no scenario results ({current.state})")
        return Response(data, media_type="application/json")

    @app.get("/v1/jobs/{job_id}/scenarios/{name}/solution", responses={**ERRORS, 409: {"model": ErrorOut}},
             tags=["results"])
    def scenario_solution(job_id: str, name: str, who: Owner) -> Response:
        """One scenario's solution."""
        _job(job_id, who)
        data = store.file(job_id, f"solutions/{name}.json") if re.match(SCENARIO_NAME, name) else None
        if data is None:
            raise HTTPException(404, f"no solution of scenario {name!r} in job {job_id}")
        return Response(data, media_type="application/json")

    return app
