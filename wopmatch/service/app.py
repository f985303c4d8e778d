"""The HTTP API (FastAPI): validate instances, submit and follow solve jobs and
scenario sets, fetch results as JSON, XLSX or the HTML report, cancel.

A thin shell: requests are parsed with the same readers as the CLI (so a
validation error names the same field or cell, as 422), the solve options are
the solver's own (requests.py), jobs go to the store, and the supervisor runs
them in processes of their own. The routes live in routes/, one router per
concern. docs/service.md has the routes, the job life cycle and the threat model.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..models.instance import plain_message
from ..models.problems import InputError, json_path
from .config import ServiceConfig
from .limits import BodyLimit
from .routes import agreement, instances, jobs, monitoring, page, results
from .store import Store
from .supervisor import Supervisor

log = logging.getLogger("wopmatch.service")


def create_app(config: ServiceConfig, supervise: bool = True) -> FastAPI:
    """The app, with its store (created in ``config.data_dir``) and, unless
    ``supervise`` is False, the supervisor that runs jobs while the app lives."""
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
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(InputError, _invalid_input)
    app.add_exception_handler(StarletteHTTPException, _http_error)  # ours, and the router's own 404 and 405
    for router in (page.router, instances.router, jobs.router, results.router, agreement.router,
                   monitoring.router):
        app.include_router(router)
    return app


async def _invalid_request(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [{"where": json_path(e.get("loc", ())),
                 "message": plain_message(e) if "type" in e and "loc" in e else e.get("msg", "invalid")}
                for e in exc.errors()]
    return JSONResponse(status_code=422, content={"detail": f"{len(problems)} problem(s) in the request",
                                                  "problems": problems})


async def _invalid_input(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InputError)
    return JSONResponse(status_code=422, content={
        "detail": f"{exc.source + ': ' if exc.source else ''}{len(exc.problems)} problem(s)",
        "problems": [{"where": p.where, "message": p.message} for p in exc.problems]})


#: What FastAPI answers (400) when a body is JSON that Python cannot read, such as an
#: integer of more than 4,300 digits: an input problem like any other (422).
_UNREADABLE_BODY = "There was an error parsing the body"


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == _UNREADABLE_BODY:
        return JSONResponse(status_code=422, content={"detail": "1 problem(s) in the request", "problems": [
            {"where": "body", "message": "the body cannot be read as JSON: a number with more than 4,300 "
                                         "digits, or text that is not UTF-8"}]})
    return JSONResponse(status_code=exc.status_code, content={"detail": str(exc.detail), "problems": []},
                        headers=exc.headers)
