"""The service's request and response bodies. The solve options come from
``SolveOptions`` (solver/options.py): the JSON request extends it, and the form
request's fields are derived from its fields, so neither can drift from the CLI."""

from __future__ import annotations

import inspect
from datetime import datetime, timezone
from typing import Annotated, Any, Callable, Literal, Optional

from fastapi import Form
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..solver import SolveOptions, option_fields
from .store import Job


class SolveRequest(SolveOptions):
    """A solve job: the options (as `wopmatch solve`'s), the instance, and for a
    later round the earlier round's solution."""

    instance: dict[str, Any] = Field(description="A wopmatch.instance/1 document (docs/format.md).")
    previous: Optional[dict[str, Any]] = Field(
        None, description="An earlier round's solution (wopmatch.solution/1) whose partnerships are still running "
                          "(docs/rounds.md); ended, forbid_repeat and keep_stable need it.")


class ScenariosRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

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
    warnings: list[str] = Field(default_factory=list, description="What is valid but probably not meant "
                                                                  "(as wopmatch validate lists it).")


class JobOut(BaseModel):
    id: str
    kind: Literal["solve", "scenarios", "propose"]
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


ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": ErrorOut}, 404: {"model": ErrorOut},
                                           413: {"model": ErrorOut}, 422: {"model": ErrorOut}}
#: Routes that queue a job also answer 409 (an Idempotency-Key reused) and 429 (a full queue).
QUEUE_ERRORS: dict[int | str, dict[str, Any]] = {**ERRORS, 409: {"model": ErrorOut}, 429: {"model": ErrorOut}}


def _iso(t: Optional[float]) -> Optional[str]:
    return None if t is None else datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="seconds")


def job_out(job: Job, base: str = "/v1/jobs") -> dict[str, Any]:
    links = {"self": f"{base}/{job.id}", "cancel": f"{base}/{job.id}/cancel"}
    if job.kind == "solve":
        links.update(solution=f"{base}/{job.id}/solution", xlsx=f"{base}/{job.id}/solution.xlsx",
                     report=f"{base}/{job.id}/report", input=f"{base}/{job.id}/input",
                     status=f"{base}/{job.id}/status", rematch=f"{base}/{job.id}/rematch",
                     plans=f"{base}/{job.id}/plans", progress_template=f"{base}/{job.id}/progress.xlsx",
                     monitoring=f"{base}/{job.id}/monitoring")
    elif job.kind == "propose":
        links.update(proposal=f"{base}/{job.id}/proposal", solution=f"{base}/{job.id}/solution")
    else:
        links.update(scenarios=f"{base}/{job.id}/scenarios")
    return {"id": job.id, "kind": job.kind, "state": job.state, "request": job.request, "created": _iso(job.created),
            "started": _iso(job.started), "finished": _iso(job.finished), "attempts": job.attempts,
            "progress": job.progress, "summary": job.summary, "error": job.error, "links": links}


def solve_form() -> Callable[..., SolveOptions]:
    """A FastAPI dependency reading SolveOptions from form fields, one per field
    (a list field: the field repeated), with its limits and description."""
    params = []
    for field in option_fields(SolveOptions):
        if field.kind == "list":
            annotation: Any = Annotated[Optional[list[str]], Form(description=field.description)]
        else:
            limits = {("gt" if field.low_open else "ge"): field.low} if field.low is not None else {}
            if field.high is not None:
                limits["lt" if field.high_open else "le"] = field.high
            kind = {"choice": Literal[field.choices], "int": int, "float": float, "bool": bool}[field.kind]
            annotation = Annotated[kind if field.default is not None else Optional[kind],
                                   Form(description=field.description, **limits)]
        default = None if field.kind == "list" else field.default
        params.append(inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                        annotation=annotation))

    def read(**values: Any) -> SolveOptions:
        try:
            return SolveOptions(**{k: v for k, v in values.items() if v is not None})
        except ValidationError as exc:  # limits across fields: the same 422 as a field's own
            raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None

    read.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return read
