"""Validate an instance without solving it."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from ...models import Instance, instance_warnings, parse_instance
from ...models.io import instance_bytes
from ...solver import SolveOptions
from ..deps import OneFileEach, Owner, Upload, read_upload
from ..requests import ERRORS, ValidationOut, solve_form

router = APIRouter(prefix="/v1", tags=["instances"])


@router.post("/validate", response_model=ValidationOut, responses=ERRORS)
def validate(instance: dict[str, Any], who: Owner) -> dict[str, Any]:
    """Validate an instance (JSON) without solving: 422 lists every problem by its path."""
    return _validation(parse_instance(instance, "instance"))


@router.post("/validate/upload", response_model=ValidationOut, responses=ERRORS, dependencies=[OneFileEach])
def validate_upload(file: Upload, who: Owner,
                    options: Annotated[SolveOptions, Depends(solve_form())]) -> dict[str, Any]:
    """Validate an uploaded workbook or JSON file: 422 names the sheet, row and column of every problem.
    The solve options the page sends with it (policy, time_limit, seed, ...) are checked as a solve
    would check them, so that "check only" catches a bad one before "solve"."""
    return _validation(read_upload(file.file.read(), file.filename or ""))


def _validation(inst: Instance) -> dict[str, Any]:
    return {"valid": True, "operators": len(inst.operators),
            "mentees": sum(op.mentee is not None for op in inst.operators),
            "mentors": sum(op.mentor is not None for op in inst.operators), "donors": len(inst.donors),
            "pinned": len(inst.pinned), "forbidden": len(inst.forbidden),
            "sha256": hashlib.sha256(instance_bytes(inst)).hexdigest(),
            "warnings": [w.message for w in instance_warnings(inst)]}
