"""What the partners report as a partnership runs (docs/monitoring.md): per partnership and
reporting period, the activities done and the money spent to date; indicator values; and
which milestones are done. Read from the progress workbook ``wopmatch template --progress``
writes, or from JSON (``"format": "wopmatch.progress/1"``), with every problem located by
sheet, row and column (or JSON path).

Only the form is checked here; whether a mentee, period or indicator belongs to the round's
plans is checked where the plans are known (reports/monitor.py), with the same locations.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .instance import MAX_MONEY, plain_message
from .io import decode_json, read_bytes
from .problems import InputError, Problem, json_path
from .tables import Kind, Table, _cell, _check_header, read_workbook, where_cell

PROGRESS_FORMAT = "wopmatch.progress/1"
#: A partnership reports at most this many periods (120 months / 6).
MAX_PERIODS = 20


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class PeriodReport(_Schema):
    mentee: str = Field(min_length=1, description="The partnership's mentee id.")
    period: int = Field(ge=1, le=MAX_PERIODS, description="1 for months 1-6, 2 for months 7-12, ...")
    activities_done: Optional[int] = Field(default=None, ge=0, le=1000,
                                           description="Activities of the plan done since the start.")
    spent: Optional[int] = Field(default=None, ge=0, le=MAX_MONEY,
                                 description="Cash spent since the start, whole currency units.")


class IndicatorValue(_Schema):
    mentee: str = Field(min_length=1)
    period: int = Field(ge=1, le=MAX_PERIODS)
    indicator: str = Field(min_length=1)
    value: float


class MilestoneDone(_Schema):
    mentee: str = Field(min_length=1)
    month: int = Field(ge=1, le=120, description="The month the plan sets for it.")
    milestone: str = Field(min_length=1)
    done: bool


class Progress(_Schema):
    format: Literal["wopmatch.progress/1"] = PROGRESS_FORMAT
    periods: list[PeriodReport] = Field(default_factory=list)
    indicators: list[IndicatorValue] = Field(default_factory=list)
    milestones: list[MilestoneDone] = Field(default_factory=list)


@dataclass
class ReadProgress:
    """A progress file as read, and where each of its records came from."""

    progress: Progress
    rows: dict[tuple[str, int], tuple[Table, int]] = field(default_factory=dict)  # (list, index) -> (table, row)

    def where(self, path: str) -> str:
        """``periods[3].spent`` -> ``sheet progress, row 5, column spent`` (a JSON path where the
        progress came from JSON)."""
        m = re.match(r"^(periods|indicators|milestones)\[(\d+)\]\.?(\w*)", path)
        if m is None or (m.group(1), int(m.group(2))) not in self.rows:
            return path
        table, row = self.rows[m.group(1), int(m.group(2))]
        return where_cell(table, row, m.group(3) or None)


#: Sheets of the progress workbook: (the list it fills, its columns, the ones read, the ones required).
#: The other columns are the plan's figures, written for the partners to read; they are not read back.
SHEETS: dict[str, tuple[str, dict[str, Kind], tuple[str, ...], tuple[str, ...]]] = {
    "progress": ("periods", {"mentee": "text", "mentor": "text", "period": "int", "months": "text", "when": "text",
                             "activities_planned": "int", "activities_done": "int", "spend_planned": "int",
                             "spent": "int"},
                 ("mentee", "period", "activities_done", "spent"), ("mentee", "period")),
    "indicators": ("indicators", {"mentee": "text", "period": "int", "indicator": "text", "name": "text",
                                  "unit": "text", "baseline": "float", "target": "float", "value": "float"},
                   ("mentee", "period", "indicator", "value"), ("mentee", "period", "indicator", "value")),
    "milestones": ("milestones", {"mentee": "text", "month": "int", "when": "text", "milestone": "text",
                                  "done": "text"},
                   ("mentee", "month", "milestone", "done"), ("mentee", "month", "milestone", "done")),
}
YES, NO = ("yes", "y", "x", "true", "1", "done"), ("no", "n", "false", "0")


def parse_progress(raw: Any, source: str = "progress") -> Progress:
    """Progress from JSON-like data; InputError names every problem by its path."""
    try:
        return Progress.model_validate(raw)
    except ValidationError as exc:
        raise InputError([Problem(json_path(e["loc"]) or "(progress)", plain_message(e))
                          for e in exc.errors(include_url=False)], source) from None


def read_progress_workbook(file: Any, source: str) -> ReadProgress:
    """The progress workbook's sheets as Progress, every problem located by sheet, row and column."""
    tables, problems = read_workbook(file, source, names=tuple(SHEETS))
    if any(p.where == "sheet operators" for p in problems):
        raise InputError([Problem("", "this is a round's workbook (it has an operators sheet), not a progress "
                                      "workbook; wopmatch template --progress ROUND SOLUTION -o progress.xlsx "
                                      "writes one")], source)
    raw: dict[str, Any] = {"format": PROGRESS_FORMAT}
    rows: dict[tuple[str, int], tuple[Table, int]] = {}
    for name, (key, kinds, read, required) in SHEETS.items():
        table = tables.get(name)
        if table is None:
            continue
        before = len(problems)
        columns = [(k, c) for k, c in _check_header(table, kinds, problems, required) if c in read]
        records = raw.setdefault(key, [])
        if any(p.message.startswith("missing column") for p in problems[before:]):
            continue  # said once for the sheet, not once per row
        for row, cells in table.rows:
            rec = {c: _cell(cells[k] if k < len(cells) else None, kinds[c]) for k, c in columns}
            if (key == "indicators" and rec.get("value") is None) or \
                    (key == "periods" and rec.get("activities_done") is None and rec.get("spent") is None):
                continue  # not reported (yet)
            if key == "milestones":
                done = str(rec.get("done") or "").strip().lower()
                if not done:
                    continue  # not reported: not done
                if done not in YES + NO:
                    problems.append(Problem(where_cell(table, row, "done"),
                                            f"done must be yes or no (empty: not done), got {rec.get('done')!r}"))
                    continue
                rec["done"] = done in YES
            rows[key, len(records)] = (table, row)
            records.append({c: v for c, v in rec.items() if v is not None})
    read_back = ReadProgress(Progress(), rows)
    progress = None
    try:
        progress = Progress.model_validate(raw)
    except ValidationError as exc:
        problems.extend(Problem(read_back.where(json_path(e["loc"])), plain_message(e))
                        for e in exc.errors(include_url=False))
    if problems or progress is None:
        raise InputError(problems, source)
    read_back.progress = progress
    return read_back


def progress_from_bytes(data: bytes, source: str) -> ReadProgress:
    """A progress workbook's bytes (told by the name ``source`` or its zip signature), else JSON's."""
    if data[:2] == b"PK" or source.lower().endswith(".xlsx"):
        return read_progress_workbook(io.BytesIO(data), source)
    return ReadProgress(parse_progress(decode_json(data, source), source))


def load_progress(path: Any) -> ReadProgress:
    """A progress workbook (``.xlsx``) or JSON file; InputError names every problem where it is."""
    p = Path(path)
    if p.suffix.lower() not in (".xlsx", ".json"):
        raise InputError([Problem("", f"a progress file is a workbook (.xlsx) or .json, got "
                                      f"{p.suffix or 'no suffix'!r}; wopmatch template --progress ROUND SOLUTION "
                                      "-o progress.xlsx writes one")], str(p))
    return progress_from_bytes(read_bytes(p), str(p))
