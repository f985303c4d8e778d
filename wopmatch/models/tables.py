"""Instances as tables: an ``.xlsx`` workbook or a folder of CSV files (docs/spreadsheets.md).

Both hold the same seven tables: ``operators``, ``donors``, ``pinned``,
``forbidden``, ``interests``, ``indicators`` and ``settings``. Reading turns the tables into the JSON-like
data of an instance file and validates it with :func:`parse_instance`; every
problem found there is mapped back to the sheet (or file), row and column it
came from, so a facilitator sees all of them at once, where they are.

A table row becomes one JSON record:

* operators: ``id, name, country, region, languages, lat, lon, role,
  mentor_capacity, mentee_weight, mentor_offers, in_kind``, then ``strength_<area>`` and
  ``need_<area>`` for every work area. ``role`` is ``mentor``, ``mentee``, ``both`` or ``none``.
* donors: ``id, name, budget, regions, countries, work_areas,
  max_partnerships, max_grant``; pinned: ``mentee, mentor, donor``;
  forbidden: ``mentee, mentor``.
* interests: ``operator, partner, level``: one row per stated interest, added to the
  operator's ``interests``.
* indicators: ``operator, indicator, value``: one row per indicator's current value, added
  to the operator's ``indicators``.
* settings: two columns, ``setting`` and ``value``, one row per setting
  (``name``, ``currency``, ``work_areas``, ``costs.base``, ``rules.language``...).

An empty cell is an absent field (its default applies). Lists are one cell,
items separated by ``;`` (a ``,`` also separates). Whitespace around a cell
or an item is ignored.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Optional, Union, get_args, get_origin

from pydantic import BaseModel

from .instance import DEFAULT_WORK_AREAS, Costs, Instance, Rules, parse_instance
from .vocab import closest
from .problems import InputError, Problem

TABLE_NAMES = ("operators", "donors", "pinned", "forbidden", "interests", "indicators", "settings")
#: Sheets a reader skips: the template's explanations.
IGNORED_SHEETS = ("notes",)
LIST_SEPARATORS = re.compile(r"[;,]")
ROLES = ("mentor", "mentee", "both", "none")

Kind = Literal["text", "int", "float", "list"]

OPERATOR_COLUMNS: tuple[tuple[str, Kind], ...] = (
    ("id", "text"), ("name", "text"), ("country", "text"), ("region", "text"), ("languages", "list"),
    ("lat", "float"), ("lon", "float"), ("role", "text"), ("mentor_capacity", "int"), ("mentee_weight", "float"),
    ("mentor_offers", "list"), ("in_kind", "int"),
)
DONOR_COLUMNS: tuple[tuple[str, Kind], ...] = (
    ("id", "text"), ("name", "text"), ("budget", "int"), ("regions", "list"), ("countries", "list"),
    ("work_areas", "list"), ("max_partnerships", "int"), ("max_grant", "int"),
)
PINNED_COLUMNS: tuple[tuple[str, Kind], ...] = (("mentee", "text"), ("mentor", "text"), ("donor", "text"))
FORBIDDEN_COLUMNS: tuple[tuple[str, Kind], ...] = (("mentee", "text"), ("mentor", "text"))
INTEREST_COLUMNS: tuple[tuple[str, Kind], ...] = (("operator", "text"), ("partner", "text"), ("level", "int"))
INDICATOR_COLUMNS: tuple[tuple[str, Kind], ...] = (("operator", "text"), ("indicator", "text"), ("value", "float"))
SETTINGS_COLUMNS: tuple[tuple[str, Kind], ...] = (("setting", "text"), ("value", "text"))
STRENGTH, NEED = "strength_", "need_"


def _kind_of(annotation: Any) -> Kind:
    """The cell kind of a settings field, from its pydantic annotation."""
    if get_origin(annotation) is Union:
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    if annotation is int:
        return "int"
    if annotation is float:
        return "float"
    return "text"


def _settings_keys() -> dict[str, Kind]:
    keys: dict[str, Kind] = {"name": "text", "currency": "text", "start": "text", "work_areas": "list"}

    def walk(prefix: str, model: type[BaseModel]) -> None:
        for name, f in model.model_fields.items():
            ann = f.annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                walk(f"{prefix}{name}.", ann)
            else:
                keys[f"{prefix}{name}"] = _kind_of(ann)

    walk("costs.", Costs)
    walk("rules.", Rules)
    return keys


#: Every setting, in the order the settings table lists them.
SETTINGS: dict[str, Kind] = _settings_keys()


@dataclass
class Table:
    """One sheet or CSV file as read: the header and the non-empty rows."""

    name: str  # one of TABLE_NAMES
    where: str  # how problems name it: "sheet operators" or "operators.csv"
    header: list[str]
    rows: list[tuple[int, list[Any]]] = field(default_factory=list)  # (row number in the file, cells)
    decimal_comma: bool = False  # a ';'-separated CSV file: "12,5" in a number column is 12.5


def where_cell(table: Table, row: Optional[int] = None, column: Optional[str] = None) -> str:
    parts = [table.where]
    if row is not None:
        parts.append(f"row {row}")
    if column is not None:
        parts.append(f"column {column}")
    return ", ".join(parts)


# --------------------------------------------------------------------- reading


def _cell(value: Any, kind: Kind, decimal_comma: bool = False) -> Any:
    """A cell as the JSON value it stands for (None: empty). Values that do not
    convert are returned as read, so validation names them in place."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if value == "":
            return None
        if decimal_comma and kind in ("int", "float") and value.count(",") == 1 and "." not in value:
            value = value.replace(",", ".")
    if kind == "list":
        text = _number_text(value) if not isinstance(value, str) else value
        return [item.strip() for item in LIST_SEPARATORS.split(text) if item.strip()]
    if kind == "text":
        return value if isinstance(value, str) else _number_text(value)
    if isinstance(value, bool):
        return value
    if kind == "int":
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                try:
                    f = float(value)
                except ValueError:
                    return value
                return int(f) if f.is_integer() else value
        return value
    # float
    if isinstance(value, (int, float)):
        return float(value)
    try:
        f = float(value)
    except (TypeError, ValueError):
        return value
    return f if math.isfinite(f) else value


def _number_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass
class _Located:
    """Where each record of the JSON-like instance came from."""

    records: dict[str, list[tuple[Table, int]]] = field(default_factory=dict)  # table -> [(table, row)]
    settings: dict[str, tuple[Table, int]] = field(default_factory=dict)  # setting key -> (table, row)
    interests: dict[tuple[int, int], tuple[Table, int]] = field(default_factory=dict)  # (operator, entry) -> row
    indicators: dict[tuple[int, str], tuple[Table, int]] = field(default_factory=dict)  # (operator, id) -> row

    def rows_in(self, message: str) -> str:
        """``duplicate id 'X' (first at operators[0])`` -> ``... (first at row 2)``."""
        def row(m: re.Match[str]) -> str:
            rows = self.records.get(m.group(1), [])
            k = int(m.group(2))
            return f"row {rows[k][1]}" if k < len(rows) else m.group(0)

        return re.sub(r"\b(operators|donors|pinned|forbidden)\[(\d+)\]", row, message)

    def cell(self, path: str) -> Optional[str]:
        """The sheet/row/column of a JSON path, or None when it names no cell."""
        m = re.match(r"^operators\[(\d+)\]\.interests\[(\d+)\]\.?(.*)$", path)
        if m and (int(m.group(1)), int(m.group(2))) in self.interests:
            t, row = self.interests[int(m.group(1)), int(m.group(2))]
            return where_cell(t, row, {"operator": "partner", "level": "level"}.get(m.group(3)))
        m = re.match(r"^operators\[(\d+)\]\.indicators\.(.+)$", path)
        if m and (int(m.group(1)), m.group(2)) in self.indicators:
            t, row = self.indicators[int(m.group(1)), m.group(2)]
            return where_cell(t, row)  # the message names the indicator, or its value
        m = re.match(r"^(operators|donors|pinned|forbidden)\[(\d+)\](.*)$", path)
        if m:
            table, index, rest = m.group(1), int(m.group(2)), m.group(3)
            rows = self.records.get(table, [])
            if index >= len(rows):
                return None
            t, row = rows[index]
            return where_cell(t, row, _column_of(table, rest))
        for key in sorted(self.settings, key=len, reverse=True):
            if path == key or path.startswith(key + ".") or path.startswith(key + "["):
                t, row = self.settings[key]
                return where_cell(t, row, "value")
        return None


def _column_of(table: str, rest: str) -> Optional[str]:
    """``.mentor.strengths.septage`` -> ``strength_septage`` (operators), and so on."""
    rest = re.sub(r"\[\d+\]$", "", rest).lstrip(".")
    if not rest:
        return None
    if table != "operators":
        return rest.split(".")[0].split("[")[0]
    parts = rest.split(".")
    head = parts[0]
    if head == "location":
        return {"lat": "lat", "lon": "lon"}.get(parts[1] if len(parts) > 1 else "", "lat, lon")
    if head == "mentor":
        if len(parts) == 1:
            return "role"
        if parts[1] in ("capacity", "offers"):
            return "mentor_" + parts[1]
        if parts[1] == "strengths":
            return STRENGTH + parts[2] if len(parts) > 2 else None
    if head == "mentee":
        if len(parts) == 1:
            return "role"
        if parts[1] == "weight":
            return "mentee_weight"
        if parts[1] == "needs":
            return NEED + parts[2] if len(parts) > 2 else None
    return head.split("[")[0]


def tables_to_instance(tables: dict[str, Table], source: str, problems: Optional[list[Problem]] = None) -> Instance:
    """Validate tables as an instance; raise :class:`InputError` naming every
    problem's sheet (or file), row and column. ``problems`` holds those the
    reader found already (unknown sheets, unreadable cells)."""
    problems = list(problems or [])
    located = _Located()
    raw: dict[str, Any] = {}
    settings = tables.get("settings")
    if settings is not None:
        _read_settings(settings, raw, located, problems)
    areas = raw.get("work_areas", list(DEFAULT_WORK_AREAS))
    areas = areas if isinstance(areas, list) else list(DEFAULT_WORK_AREAS)
    if "operators" not in tables:
        problems.append(Problem("", "no operators table (a sheet named operators, or operators.csv)"))
    specs: dict[str, tuple[tuple[str, Kind], ...]] = {
        "operators": OPERATOR_COLUMNS, "donors": DONOR_COLUMNS, "pinned": PINNED_COLUMNS,
        "forbidden": FORBIDDEN_COLUMNS, "interests": INTEREST_COLUMNS, "indicators": INDICATOR_COLUMNS,
    }
    for name, spec in specs.items():
        table = tables.get(name)
        if table is None:
            continue
        kinds = dict(spec)
        if name == "operators":
            kinds.update({prefix + a: "int" for prefix in (STRENGTH, NEED) for a in areas if isinstance(a, str)})
        columns = _check_header(table, kinds, problems, required=_REQUIRED.get(name, ("mentee", "mentor")))
        has_role = any(c == "role" for _, c in columns)
        records = []
        located.records[name] = []
        for row, cells in table.rows:
            values = {c: _cell(cells[k] if k < len(cells) else None, kinds[c], table.decimal_comma)
                      for k, c in columns}
            record = _operator(values, table, row, problems, has_role) if name == "operators" else \
                {k: v for k, v in values.items() if v is not None}
            records.append(record)
            located.records[name].append((table, row))
        raw[name] = records
    _attach_interests(raw, located, problems)
    _attach_indicators(raw, located, problems)
    try:
        instance = parse_instance(raw, source)
    except InputError as exc:
        headers = {t.where: {c if c in dict(spec) else c.lower() for c in t.header}
                   for t, spec in ((tables.get(n), s) for n, s in specs.items()) if t is not None}
        missing: set[tuple[str, str]] = set()
        for p in exc.problems:
            cell = located.cell(p.where)
            where, column = _sheet_and_column(cell) if cell else (None, None)
            if where is not None and column and p.message.startswith("missing") and \
                    column not in headers.get(where, {column}):
                # a column the sheet lacks: once for the sheet, not once per row
                if (where, column) not in missing:
                    missing.add((where, column))
                    problems.append(Problem(where, f"missing column {column!r}: every row needs it"))
                continue
            problems.append(Problem(cell or p.where, located.rows_in(p.message)))
        raise InputError(_in_file_order(problems), source) from None
    if problems:
        raise InputError(_in_file_order(problems), source)
    return instance


#: The columns a table must have.
_REQUIRED = {"operators": ("id", "role"), "donors": ("id", "budget"), "interests": ("operator", "partner", "level"),
             "indicators": ("operator", "indicator", "value")}


def _operator_rows(raw: dict[str, Any]) -> dict[str, int]:
    at: dict[str, int] = {}
    for k, op in enumerate(raw.get("operators", [])):
        if isinstance(op.get("id"), str):
            at.setdefault(op["id"], k)
    return at


def _unknown_operator(table: Table, row: int, who: Any, at: dict[str, int], what: str) -> Problem:
    like = closest(who, list(at)) if who is not None else None
    return Problem(where_cell(table, row, "operator"), f"missing: every row names the operator {what}" if who is None
                   else f"unknown operator {who!r}" + (f"; did you mean {like!r}?" if like else ""))


def _attach_indicators(raw: dict[str, Any], located: _Located, problems: list[Problem]) -> None:
    """The indicators table's rows, moved into their operators' ``indicators``."""
    rows = raw.pop("indicators", [])
    table_rows = located.records.pop("indicators", [])
    at = _operator_rows(raw)
    for rec, (table, row) in zip(rows, table_rows, strict=True):
        who, ident = rec.get("operator"), rec.get("indicator")
        if who not in at:
            problems.append(_unknown_operator(table, row, who, at, "whose indicator it is"))
            continue
        if ident is None or rec.get("value") is None:
            problems.append(Problem(where_cell(table, row, "indicator" if ident is None else "value"),
                                    "missing: every row names an indicator and its value"))
            continue
        values = raw["operators"][at[who]].setdefault("indicators", {})
        if ident in values:
            first = located.indicators[at[who], ident][1]
            problems.append(Problem(where_cell(table, row, "indicator"),
                                    f"{who}'s {ident} is given twice (first at row {first})"))
            continue
        located.indicators[at[who], ident] = (table, row)
        values[ident] = rec["value"]


def _attach_interests(raw: dict[str, Any], located: _Located, problems: list[Problem]) -> None:
    """The interests table's rows, moved into their operators' ``interests`` (an instance file
    keeps them there); a row naming no operator of the operators table is a problem of its own."""
    rows = raw.pop("interests", [])
    table_rows = located.records.pop("interests", [])
    at = _operator_rows(raw)
    for rec, (table, row) in zip(rows, table_rows, strict=True):
        who = rec.get("operator")
        if who not in at:
            problems.append(_unknown_operator(table, row, who, at, "stating the interest"))
            continue
        stated = raw["operators"][at[who]].setdefault("interests", [])
        located.interests[at[who], len(stated)] = (table, row)
        stated.append({("operator" if key == "partner" else key): v for key, v in rec.items() if key != "operator"})


def _sheet_and_column(where: str) -> tuple[Optional[str], Optional[str]]:
    """"sheet operators, row 3, column region" -> ("sheet operators", "region")."""
    m = re.match(r"^(.*?)(?:, row \d+)?(?:, column (.+))?$", where)
    return (m.group(1), m.group(2)) if m else (None, None)


def _in_file_order(problems: list[Problem]) -> list[Problem]:
    """Sheet by sheet (in the template's order), then row by row; a sheet's own problems
    (a missing column) before its rows'."""
    order = {name: k for k, name in enumerate(TABLE_NAMES)}

    def key(p: Problem) -> tuple[int, int]:
        m = re.match(r"^(?:sheet )?([a-z_]+)(?:\.csv)?(?:, row (\d+))?", p.where)
        if not m or m.group(1) not in order:
            return (-1 if p.where == "" or not m else len(order), 0)
        return (order[m.group(1)], int(m.group(2) or 0))

    return sorted(problems, key=key)


def _check_header(table: Table, kinds: dict[str, Kind], problems: list[Problem],
                  required: tuple[str, ...]) -> list[tuple[int, str]]:
    """(position, column) of the known columns; unknown, repeated and missing
    ones are problems."""
    seen: dict[str, int] = {}
    columns = []
    for k, name in enumerate(table.header):
        if name == "":
            continue
        if name not in kinds and name.lower() in kinds:
            name = name.lower()  # "ID", "Role": the fixed columns in any case
        if name not in kinds:
            if table.name == "operators" and name.startswith((STRENGTH, NEED)):
                area = name.split("_", 1)[1]
                message = (f"unknown work area {area!r}; the settings' work_areas are "
                           f"{', '.join(c[len(NEED):] for c in kinds if c.startswith(NEED))}")
            else:
                message = f"unknown column {name!r}; expected {', '.join(kinds)}"
            problems.append(Problem(where_cell(table, column=name), message))
            continue
        if name in seen:
            problems.append(Problem(where_cell(table, column=name), f"column {name!r} appears twice"))
            continue
        seen[name] = k
        columns.append((k, name))
    for name in required:
        if name not in seen:
            problems.append(Problem(table.where, f"missing column {name!r}"))
    return columns


def _of(ident: Any) -> str:
    """`` (operator X)`` for a row whose id is known."""
    return f" (operator {ident})" if isinstance(ident, str) and ident else ""


def _operator(v: dict[str, Any], table: Table, row: int, problems: list[Problem],
              has_role: bool) -> dict[str, Any]:
    rec: dict[str, Any] = {k: v[k] for k in ("id", "name", "country", "region", "languages", "in_kind")
                           if v.get(k) is not None}
    if v.get("lat") is not None and v.get("lon") is not None:
        rec["location"] = {k: v[k] for k in ("lat", "lon")}
    elif v.get("lat") is not None or v.get("lon") is not None:
        given, missing = ("lat", "lon") if v.get("lat") is not None else ("lon", "lat")
        problems.append(Problem(where_cell(table, row, missing), f"{given} is given but {missing} is empty: a "
                                                                 "location needs both (or neither)"
                                + _of(v.get("id"))))
    role = v.get("role")
    strengths = {c[len(STRENGTH):]: x for c, x in v.items() if c.startswith(STRENGTH) and x is not None}
    needs = {c[len(NEED):]: x for c, x in v.items() if c.startswith(NEED) and x is not None}
    if role not in ROLES:
        if has_role:  # else the missing column is reported once
            got = "empty" if role is None else repr(role)
            problems.append(Problem(where_cell(table, row, "role"),
                                    f"role must be one of {', '.join(ROLES)}, got {got}" + _of(v.get("id"))))
        return rec
    if role in ("mentor", "both"):
        mentor: dict[str, Any] = {"strengths": strengths}
        if v.get("mentor_capacity") is not None:
            mentor["capacity"] = v["mentor_capacity"]
        if v.get("mentor_offers") is not None:
            mentor["offers"] = v["mentor_offers"]
        rec["mentor"] = mentor
    else:
        for c in ["mentor_capacity", "mentor_offers", *(STRENGTH + a for a in strengths)]:
            if v.get(c) is not None:
                problems.append(Problem(where_cell(table, row, c), f"{c} is given but role is {role}"))
    if role in ("mentee", "both"):
        mentee: dict[str, Any] = {"needs": needs}
        if v.get("mentee_weight") is not None:
            mentee["weight"] = v["mentee_weight"]
        rec["mentee"] = mentee
    else:
        for c in ["mentee_weight", *(NEED + a for a in needs)]:
            if v.get(c) is not None:
                problems.append(Problem(where_cell(table, row, c), f"{c} is given but role is {role}"))
    return rec


def _read_settings(table: Table, raw: dict[str, Any], located: _Located, problems: list[Problem]) -> None:
    columns = dict((name, k) for k, name in _check_header(table, dict(SETTINGS_COLUMNS), problems,
                                                           required=("setting", "value")))
    if "setting" not in columns:
        return
    for row, cells in table.rows:
        at = {name: cells[k] if k < len(cells) else None for name, k in columns.items()}
        key = _cell(at.get("setting"), "text")
        if key is None:
            problems.append(Problem(where_cell(table, row, "setting"), "empty setting name"))
            continue
        if key not in SETTINGS:
            problems.append(Problem(where_cell(table, row, "setting"),
                                    f"unknown setting {key!r}; known: {', '.join(SETTINGS)}"))
            continue
        if key in located.settings:
            problems.append(Problem(where_cell(table, row, "setting"),
                                    f"setting {key!r} is given twice (first at row {located.settings[key][1]})"))
            continue
        located.settings[key] = (table, row)
        value = _cell(at.get("value"), SETTINGS[key], table.decimal_comma)
        if value is None:
            continue  # the default applies
        target = raw
        *parents, last = key.split(".")
        for p in parents:
            target = target.setdefault(p, {})
        target[last] = value


def read_csv_folder(folder: Any) -> tuple[dict[str, Table], list[Problem]]:
    """The tables of a folder of CSV files (UTF-8, header row first)."""
    from pathlib import Path

    folder = Path(folder)
    tables: dict[str, Table] = {}
    problems: list[Problem] = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() != ".csv":
            continue
        name = path.stem.lower()
        if name not in TABLE_NAMES:
            problems.append(Problem(path.name, f"unknown table {path.name!r}; expected "
                                    f"{', '.join(n + '.csv' for n in TABLE_NAMES)}"))
            continue
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            problems.append(Problem(path.name, f"not UTF-8 text (byte {exc.start})"))
            continue
        except OSError as exc:
            problems.append(Problem(path.name, f"cannot read: {exc.strerror}"))
            continue
        delimiter = _delimiter(text)
        try:
            tables[name] = _table_from_rows(name, path.name, csv.reader(io.StringIO(text, newline=""),
                                                                        delimiter=delimiter))
        except csv.Error as exc:  # a cell over csv's field limit (131,072 characters), a NUL byte
            why = "a cell is longer than 131,072 characters" if "field limit" in str(exc) else str(exc)
            problems.append(Problem(path.name, f"not a readable CSV table: {why}"))
            continue
        tables[name].decimal_comma = delimiter == ";"
    return tables, problems


def _delimiter(text: str) -> str:
    """The field separator, read off the header row: ',' as written here, or the
    ';' (or tab) that spreadsheet programs use in locales with a decimal comma
    (in a ';'-separated file a number may then be written 12,5). Column names
    never contain any of them, so the header decides."""
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def read_workbook(file: Any, source: str = "", names: tuple[str, ...] = TABLE_NAMES) -> tuple[dict[str, Table],
                                                                                             list[Problem]]:
    """The tables ``names`` of an ``.xlsx`` workbook (a path or a binary file object; cell
    values as Excel last computed them): an instance's by default. Read with calamine, which
    reads a 1,000-partnership progress workbook 15 times faster than openpyxl (0.2 s against
    3.1 s)."""
    from python_calamine import CalamineError, CalamineWorkbook

    # what a damaged or foreign file raises (the fuzz test finds these)
    damaged = (CalamineError, OSError, ValueError, TypeError, IndexError, EOFError)
    try:
        wb = CalamineWorkbook.from_path(str(file)) if isinstance(file, (str, Path)) else \
            CalamineWorkbook.from_filelike(file)
    except damaged as exc:
        raise InputError([Problem("", f"not a readable .xlsx workbook ({exc.__class__.__name__}: {exc})")],
                         source or str(file)) from None
    tables: dict[str, Table] = {}
    problems: list[Problem] = []
    try:
        for title in wb.sheet_names:
            name = title.strip().lower()
            if name in IGNORED_SHEETS:
                continue
            if name not in names:
                if _blank(wb, title, damaged):
                    continue  # an empty sheet a spreadsheet program added (Sheet1): nothing in it to lose
                problems.append(Problem(f"sheet {title}", f"unknown sheet {title!r}; expected "
                                        f"{', '.join(names)} (and optionally notes)"))
                continue
            try:
                rows = wb.get_sheet_by_name(title).to_python(skip_empty_area=False)
                tables[name] = _table_from_rows(name, f"sheet {title}", ([None if c == "" else c for c in r]
                                                                         for r in rows))
            except damaged as exc:
                # a damaged sheet (its XML cut short): named, and the other sheets still read
                problems.append(Problem(f"sheet {title}", "the sheet is damaged and cannot be read "
                                        f"({exc.__class__.__name__}: {exc}); save the workbook again from "
                                        "a spreadsheet program"))
    finally:
        wb.close()
    return tables, problems


def _blank(wb: Any, title: str, damaged: tuple[type[BaseException], ...]) -> bool:
    """Whether the sheet ``title`` holds no value at all (a damaged one is not blank)."""
    try:
        return all(c in ("", None) for r in wb.get_sheet_by_name(title).to_python() for c in r)
    except damaged:
        return False


def _table_from_rows(name: str, where: str, rows: Any) -> Table:
    it = iter(rows)
    header_cells = next(it, None) or []
    header = [("" if c is None else str(c)).strip() for c in header_cells]
    while header and header[-1] == "":
        header.pop()
    table = Table(name, where, header)
    for number, cells in enumerate(it, start=2):
        cells = list(cells)
        if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
            continue  # blank rows are skipped (they still count in row numbers)
        table.rows.append((number, cells))
    return table


# --------------------------------------------------------------------- writing


class TableWriteError(ValueError):
    """An instance holds a value that a table cell cannot carry without loss."""


def instance_tables(instance: Instance) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """The tables of ``instance``: name -> (header, rows of cell values;
    None = empty cell, lists already joined)."""
    areas = list(instance.work_areas)
    op_header = [c for c, _ in OPERATOR_COLUMNS] + [STRENGTH + a for a in areas] + [NEED + a for a in areas]
    ops = []
    for op in instance.operators:
        role = "both" if op.mentor and op.mentee else "mentor" if op.mentor else "mentee" if op.mentee else "none"
        row = [op.id, op.name, op.country, op.region, _join(op.languages, f"operator {op.id} languages"),
               op.location.lat if op.location else None, op.location.lon if op.location else None, role,
               op.mentor.capacity if op.mentor else None, op.mentee.weight if op.mentee else None,
               _join(op.mentor.offers, f"operator {op.id} offers") if op.mentor else None, op.in_kind]
        row += [op.mentor.strengths.get(a) if op.mentor else None for a in areas]
        row += [op.mentee.needs.get(a) if op.mentee else None for a in areas]
        ops.append(row)
    donors = [[d.id, d.name, d.budget, _join(d.regions, f"donor {d.id} regions"),
               _join(d.countries, f"donor {d.id} countries"), _join(d.work_areas, f"donor {d.id} work_areas"),
               d.max_partnerships, d.max_grant] for d in instance.donors]
    settings = []
    for key in SETTINGS:
        value: Any = instance
        for part in key.split("."):
            value = getattr(value, part)
        if isinstance(value, list):
            value = _join(value, f"setting {key}")
        settings.append([key, value])
    tables = {
        "operators": (op_header, ops),
        "donors": ([c for c, _ in DONOR_COLUMNS], donors),
        "pinned": ([c for c, _ in PINNED_COLUMNS], [[p.mentee, p.mentor, p.donor] for p in instance.pinned]),
        "forbidden": ([c for c, _ in FORBIDDEN_COLUMNS], [[f.mentee, f.mentor] for f in instance.forbidden]),
        "interests": ([c for c, _ in INTEREST_COLUMNS],
                      [[op.id, it["operator"], it["level"]] for op in instance.operators for it in op.interests]),
        "indicators": ([c for c, _ in INDICATOR_COLUMNS],
                       [[op.id, k, v] for op in instance.operators for k, v in op.indicators.items()]),
        "settings": ([c for c, _ in SETTINGS_COLUMNS], settings),
    }
    for name, (header, rows) in tables.items():
        for row in rows:
            for column, value in zip(header, row, strict=True):
                if isinstance(value, str) and (value != value.strip() or value == ""):
                    raise TableWriteError(f"{name}, column {column}: the text {value!r} is empty or has "
                                          "surrounding spaces, which a table cannot carry")
    return tables


def _join(items: Optional[list[str]], what: str) -> Optional[str]:
    if items is None:
        return None
    for item in items:
        if LIST_SEPARATORS.search(item) or item != item.strip() or not item:
            raise TableWriteError(f"{what}: item {item!r} cannot be a list item in a table cell "
                                  "(it is empty, has surrounding spaces, or contains ';' or ',')")
    return "; ".join(items)


def csv_text(header: list[str], rows: list[list[Any]]) -> str:
    """One CSV file's text. Floats are written in the shortest form that reads
    back as the same number."""
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for row in rows:
        w.writerow([_csv_value(v) for v in row])
    return buf.getvalue()


def _csv_value(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    return str(v)


# --------------------------------------------------------------- workbooks


def workbook_bytes(sheets: dict[str, tuple[list[str], list[list[Any]]]],
                   validations: Optional[Callable[[Any, str, list[str]], None]] = None,
                   notes: Optional[list[tuple[str, str, str]]] = None) -> bytes:
    """An ``.xlsx`` file of ``sheets`` (name -> header, rows), with a bold frozen
    header. Text is always stored as text (a value starting with ``=`` stays a
    value, not a formula). ``validations(ws, sheet, header)`` may add data
    validation; ``notes`` (sheet, column, explanation) becomes a notes sheet."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import IllegalCharacterError
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    for name, (header, rows) in sheets.items():
        ws = wb.create_sheet(name)
        ws.append(header)
        for cell in ws[1]:
            cell.font = bold
        for number, row in enumerate(rows, start=2):
            try:
                ws.append([_exact_in_xlsx(v) for v in row])
            except IllegalCharacterError:
                raise TableWriteError(f"sheet {name}, row {number}: a text holds a control character, "
                                      "which a workbook cannot store") from None
        for col in ws.iter_cols(min_row=2):
            for cell in col:
                if isinstance(cell.value, str) and cell.data_type == "f":
                    cell.data_type = "s"
        ws.freeze_panes = "A2"
        for k, title in enumerate(header, start=1):
            ws.column_dimensions[get_column_letter(k)].width = max(10, min(40, len(title) + 2))
        if validations is not None:
            validations(ws, name, header)
    if notes:
        ws = wb.create_sheet("notes")
        ws.append(["sheet", "column", "meaning"])
        for cell in ws[1]:
            cell.font = bold
        for row in notes:
            ws.append(list(row))
        ws.column_dimensions["A"].width = 12
        ws.column_dimensions["B"].width = 26
        ws.column_dimensions["C"].width = 110
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


#: The notes sheet of a workbook: (sheet, column, meaning).
NOTES: tuple[tuple[str, str, str], ...] = (
    ("operators", "id", "Unique id of the utility (any text; pinned and forbidden rows refer to it)."),
    ("operators", "name", "Display name (optional)."),
    ("operators", "country", "ISO 3166-1 alpha-2 code in capitals, e.g. KE."),
    ("operators", "region", "Region name, e.g. sub-saharan-africa; donors' region lists use the same names."),
    ("operators", "languages", "Working languages as lower-case codes separated by ';', e.g. en; fr."),
    ("operators", "lat, lon", "Location in degrees (optional; both or neither). Without it, default distances apply."),
    ("operators", "role", "mentor, mentee, both (a utility that mentors and is mentored) or none."),
    ("operators", "mentor_capacity", "Mentors only: how many mentees it can take this round (required)."),
    ("operators", "mentee_weight", "Mentees only: priority, default 1 (coverage counts weights)."),
    ("operators", "mentor_offers", "Mentors only, optional: the work areas it is willing to share, separated by "
                                   "';' (some of its strengths; empty = all of them)."),
    ("operators", "strength_<area>", "Mentors only: tested strength 0..5 in the work area (empty = none given)."),
    ("operators", "need_<area>", "Mentees only: priority need 0..5 in the work area (empty = none given)."),
    ("donors", "id", "Unique id of the donor programme."),
    ("donors", "budget", "Whole currency units available this round."),
    ("donors", "regions, countries, work_areas",
     "Eligibility lists separated by ';' (empty = no restriction): the mentee's region or country, "
     "and a focus area of the partnership."),
    ("donors", "max_partnerships", "Most partnerships it funds (empty = no limit)."),
    ("donors", "max_grant", "Largest cost of one partnership it funds (empty = no limit)."),
    ("pinned", "mentee, mentor, donor", "Partnerships that must be kept (donor optional)."),
    ("forbidden", "mentee, mentor", "Pairs that must not be matched."),
    ("interests", "operator, partner, level",
     "What an operator wants: level 2 = first choice, 1 = interested, -1 = will not work with the partner "
     "(never paired). Mentees rate mentors and mentors rate mentees; rules.interest_weight says how much "
     "interest adds to a pair's score."),
    ("operators", "in_kind", "Optional: what the utility gives in kind (mostly staff time) to each of its "
                             "partnerships, in the round's currency; the work plans show it beside the cash cost."),
    ("indicators", "operator, indicator, value",
     "Current values of performance indicators (e.g. nrw_pct 42): the work plans' baselines. The indicator ids "
     "and units are in docs/format.md §7."),
    ("settings", "setting, value",
     "One row per setting; an empty value keeps the default. start is the month partnerships start "
     "(YYYY-MM), the work plans' calendar. work_areas lists the areas of the strength_/need_ columns; "
     "costs.* and rules.* are explained in docs/format.md."),
    ("all", "(any)", "Blank rows are skipped. Spaces around a cell or list item are ignored. "
                     "Problems are reported by sheet, row and column."),
)


def _exact_in_xlsx(value: Any) -> Any:
    """openpyxl writes floats with 16 significant digits; the few that need 17 to
    read back exactly are stored as text (readers convert numeric columns)."""
    if isinstance(value, float) and math.isfinite(value) and float(f"{value:.16g}") != value:
        return repr(value)
    return value


def instance_workbook_bytes(instance: Instance) -> bytes:
    """The instance as a workbook, with data validation and the notes sheet
    (``wopmatch template`` is this for an empty instance)."""
    from ..generator import REGIONS

    regions = sorted({*REGIONS, *(op.region for op in instance.operators)})
    return workbook_bytes(instance_tables(instance), _instance_validations(regions), list(NOTES))


def column_range(header: list[str], name: str) -> str:
    """The cells below the header of the column ``name``, as a spreadsheet names them."""
    from openpyxl.utils import get_column_letter

    letter = get_column_letter(header.index(name) + 1)
    return f"{letter}2:{letter}1048576"


def add_validation(ws: Any, ranges: list[str], error: str, warn: bool = False, **kw: Any) -> None:
    """A data validation (openpyxl's ``DataValidation`` keywords) on ``ranges`` of the sheet ``ws``."""
    from openpyxl.worksheet.datavalidation import DataValidation

    if not ranges:
        return
    dv = DataValidation(allow_blank=True, showErrorMessage=True, error=error,
                        errorStyle="warning" if warn else "stop", **kw)
    ws.add_data_validation(dv)
    for r in ranges:
        dv.add(r)


def _instance_validations(regions: list[str]) -> Callable[[Any, str, list[str]], None]:
    add = add_validation

    def validations(ws: Any, sheet: str, header: list[str]) -> None:
        if sheet == "operators":
            levels = [column_range(header, c) for c in header if c.startswith((STRENGTH, NEED))]
            add(ws, levels, "A level is a whole number from 0 to 5.", type="whole", operator="between",
                formula1="0", formula2="5")
            add(ws, [column_range(header, "role")], "role is mentor, mentee, both or none.", type="list",
                formula1='"' + ",".join(ROLES) + '"')
            region_list = ",".join(regions)
            if len(region_list) <= 250:  # Excel's limit for a literal list
                add(ws, [column_range(header, "region")], "Not a known region; check the spelling.", warn=True,
                    type="list", formula1=f'"{region_list}"')
            lang = column_range(header, "languages")
            first = lang.split(":")[0]
            add(ws, [lang], "Language codes are lower case, separated by ';'.", type="custom",
                formula1=f"EXACT({first},LOWER({first}))")
            country = column_range(header, "country")
            first = country.split(":")[0]
            add(ws, [country], "A country is a two-letter ISO code in capitals, e.g. KE.", type="custom",
                formula1=f"AND(LEN({first})=2,EXACT({first},UPPER({first})))")
            add(ws, [column_range(header, "mentor_capacity")], "Capacity is a whole number, 0 or more.",
                type="whole", operator="greaterThanOrEqual", formula1="0")
            add(ws, [column_range(header, "mentee_weight")], "A weight is a number above 0.", type="decimal",
                operator="greaterThan", formula1="0")
            add(ws, [column_range(header, "lat")], "Latitude is between -90 and 90.", type="decimal",
                operator="between", formula1="-90", formula2="90")
            add(ws, [column_range(header, "lon")], "Longitude is between -180 and 180.", type="decimal",
                operator="between", formula1="-180", formula2="180")
        elif sheet == "interests":
            add(ws, [column_range(header, "level")], "A level is 2 (first choice), 1 (interested) or -1 (will not "
                "work with).", type="list", formula1='"2,1,-1"')
        elif sheet == "donors":
            add(ws, [column_range(header, c) for c in ("budget", "max_partnerships", "max_grant")],
                "A whole number, 0 or more.", type="whole", operator="greaterThanOrEqual", formula1="0")

    return validations


def tables_csv(sheets: dict[str, tuple[list[str], list[list[Any]]]]) -> dict[str, bytes]:
    """File name -> bytes of a folder of CSV files (UTF-8)."""
    return {f"{name}.csv": csv_text(header, rows).encode("utf-8") for name, (header, rows) in sheets.items()}
