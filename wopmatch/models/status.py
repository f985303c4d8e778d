"""Agreement after the match (docs/rounds.md, "From proposals to signed partnerships"): each
partnership of a round is proposed, then accepted or declined by the two utilities, then
active and finally ended. A status file keeps that record: JSON (``wopmatch.status/1``), a
CSV file, or a workbook's ``status`` sheet, one row per partnership.

``solve --status FILE`` reads it (an absent file is a round with no answer yet), re-matches
the round (solver/rounds.py, ``agree``), and writes it back with :func:`next_status`.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Literal, Optional, get_args

from pydantic import Field, ValidationError

from .instance import plain_message
from .problems import InputError, Problem, json_path
from .solution import Solution, _Schema

STATUS_FORMAT = "wopmatch.status/1"
Agreement = Literal["proposed", "accepted", "declined", "active", "ended"]
AGREEMENTS: tuple[str, ...] = get_args(Agreement)
#: The statuses that keep a partnership (pinned, with its donor) when the round is re-matched.
KEPT = ("accepted", "active")
STATUS_COLUMNS = ("mentee", "mentor", "donor", "status", "note")


class StatusEntry(_Schema):
    mentee: str = Field(min_length=1, pattern=r"\S")
    mentor: str = Field(min_length=1, pattern=r"\S")
    donor: Optional[str] = None
    status: Agreement
    note: Optional[str] = Field(default=None, description="Free text: who answered, when, why.")


class RoundStatus(_Schema):
    format: Literal["wopmatch.status/1"] = STATUS_FORMAT
    partnerships: list[StatusEntry] = Field(default_factory=list)


def read_status(path: Path) -> RoundStatus:
    """A status file: ``.json``, ``.csv`` or an ``.xlsx`` workbook's ``status`` sheet. InputError
    with every problem located (row and column for the tables)."""
    suffix = path.suffix.lower()
    if suffix not in (".json", ".csv", ".xlsx"):
        raise InputError([Problem("", f"a status file is .json, .csv or .xlsx, got {path.suffix or '(none)'!r}")],
                         str(path))
    data = path.read_bytes()
    if suffix == ".json":
        from .io import decode_json

        return _validated(decode_json(data, str(path)), str(path), json_path)
    rows = _csv_rows(data, str(path)) if suffix == ".csv" else _sheet_rows(data, str(path))
    header = [("" if c is None else str(c)).strip().lower() for c in (rows[0] if rows else [])]
    missing = [c for c in ("mentee", "mentor", "status") if c not in header]
    unknown = [c for c in header if c and c not in STATUS_COLUMNS]
    if missing or unknown:
        raise InputError([Problem("header", f"missing column {c!r}") for c in missing]
                         + [Problem("header", f"unknown column {c!r}; expected {', '.join(STATUS_COLUMNS)}")
                            for c in unknown], str(path))
    records, lines = [], []
    for number, cells in enumerate(rows[1:], start=2):
        values = {h: _text(cells[k]) if k < len(cells) else None for k, h in enumerate(header) if h}
        if all(v is None for v in values.values()):
            continue  # blank rows are skipped (they still count in row numbers)
        records.append({k: v for k, v in values.items() if v is not None})
        lines.append(number)

    def where(loc: tuple) -> str:
        if len(loc) >= 2 and loc[0] == "partnerships" and isinstance(loc[1], int):
            return f"row {lines[loc[1]]}" + (f", column {loc[2]}" if len(loc) > 2 else "")
        return json_path(loc)

    return _validated({"partnerships": records}, str(path), where)


def _validated(raw: Any, source: str, where) -> RoundStatus:
    try:
        status = RoundStatus.model_validate(raw)
    except ValidationError as exc:
        raise InputError([Problem(where(e["loc"]), plain_message(e) + (
            f" (one of {', '.join(AGREEMENTS)})" if e["loc"][-1:] == ("status",) else ""))
            for e in exc.errors(include_url=False)], source) from None
    seen: dict[tuple[str, str], int] = {}
    problems = []
    for k, e in enumerate(status.partnerships):
        if (e.mentee, e.mentor) in seen:
            first = where(("partnerships", seen[e.mentee, e.mentor]))
            problems.append(Problem(where(("partnerships", k)),
                                    f"the pair {e.mentee} - {e.mentor} is listed twice (first at {first})"))
        seen.setdefault((e.mentee, e.mentor), k)
    kept = [e.mentee for e in status.partnerships if e.status in KEPT]
    for mentee in sorted({m for m in kept if kept.count(m) > 1}):
        problems.append(Problem("partnerships", f"mentee {mentee} has more than one accepted or active partnership"))
    if problems:
        raise InputError(problems, source)
    return status


def _text(value: Any) -> Optional[str]:
    if value is None:
        return None
    text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    return text.strip() or None


def _csv_rows(data: bytes, source: str) -> list[list[Any]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError([Problem("", f"not UTF-8 text (byte {exc.start})")], source) from None
    return list(csv.reader(io.StringIO(text, newline="")))


def _sheet_rows(data: bytes, source: str) -> list[list[Any]]:
    import zipfile

    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InputError([Problem("", f"not a readable .xlsx workbook ({exc.__class__.__name__})")], source) from None
    try:
        sheet = next((ws for ws in wb.worksheets if ws.title.strip().lower() == "status"), None)
        if sheet is None:
            raise InputError([Problem("", "the workbook has no sheet named status")], source)
        return [list(r) for r in sheet.iter_rows(values_only=True)]
    finally:
        wb.close()


def status_counts(status: RoundStatus) -> dict[str, int]:
    """Partnerships per status, every status listed (in AGREEMENTS' order)."""
    return {s: sum(e.status == s for e in status.partnerships) for s in AGREEMENTS}


def status_bytes(status: RoundStatus, suffix: str) -> bytes:
    """The status file's bytes in the format of ``suffix`` (.json, .csv or .xlsx)."""
    rows = [[e.mentee, e.mentor, e.donor, e.status, e.note] for e in status.partnerships]
    if suffix == ".json":
        return (json.dumps(status.model_dump(mode="json", exclude_none=True), indent=1) + "\n").encode("utf-8")
    if suffix == ".csv":
        from .tables import csv_text

        return csv_text(list(STATUS_COLUMNS), rows).encode("utf-8")
    from .tables import workbook_bytes

    return workbook_bytes({"status": (list(STATUS_COLUMNS), rows)})


def next_status(before: RoundStatus, solution: Solution) -> tuple[RoundStatus, list[StatusEntry], list[StatusEntry]]:
    """The status after a re-match: accepted, active, declined and ended entries as they were;
    proposed ones still in ``solution`` kept (with its donor), the others withdrawn; and every
    new partnership of ``solution`` proposed. Returns (the status, the new proposals, the
    withdrawn ones)."""
    chosen = {(p.mentee, p.mentor): p for p in solution.partnerships}
    kept, withdrawn = [], []
    for e in before.partnerships:
        if e.status != "proposed":
            kept.append(e)
        elif (e.mentee, e.mentor) in chosen:
            kept.append(e.model_copy(update={"donor": chosen[e.mentee, e.mentor].donor}))
        else:
            withdrawn.append(e)
    listed = {(e.mentee, e.mentor) for e in kept}
    new = [StatusEntry(mentee=p.mentee, mentor=p.mentor, donor=p.donor, status="proposed")
           for p in solution.partnerships if (p.mentee, p.mentor) not in listed]
    entries = sorted([*kept, *new], key=lambda e: (e.mentee, e.mentor))
    return RoundStatus(partnerships=entries), new, withdrawn
