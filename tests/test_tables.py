"""Instances as spreadsheets: round trips, problems by sheet/row/column, the template."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from wopmatch.cli.main import cli
from wopmatch.generator import generate
from wopmatch.models import InputError, Instance, load_instance, parse_instance
from wopmatch.models.io import instance_files, write_atomic, write_folder_atomic
from wopmatch.models.tables import SETTINGS, TableWriteError, instance_tables

# Text a cell carries exactly: no control characters, no surrounding spaces.
_chars = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"))
TEXT = st.text(_chars, min_size=1, max_size=12).map(str.strip).filter(bool)
ITEM = TEXT.filter(lambda t: ";" not in t and "," not in t)  # a list item
CODE = st.sampled_from(["en", "fr", "es", "pt", "ar", "fil", "tpi", "sw", "zh"])  # ISO 639 (vocab.py)
COUNTRY = st.sampled_from(["PH", "FR", "KE", "BR", "VN", "TZ", "DE", "MA"])  # ISO 3166-1
FLOAT = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def instances(draw) -> dict[str, Any]:
    areas = draw(st.lists(ITEM, min_size=1, max_size=4, unique=True))
    n = draw(st.integers(0, 6))
    ids = draw(st.lists(TEXT, min_size=n, max_size=n, unique=True))
    levels = st.dictionaries(st.sampled_from(areas), st.integers(0, 5))
    ops = []
    for ident in ids:
        rec: dict[str, Any] = {"id": ident, "country": draw(COUNTRY),
                               "region": draw(ITEM), "languages": draw(st.lists(CODE, min_size=1, max_size=3))}
        if draw(st.booleans()):
            rec["name"] = draw(TEXT)
        if draw(st.booleans()):
            rec["location"] = {"lat": draw(st.floats(-90, 90)), "lon": draw(st.floats(-180, 180))}
        role = draw(st.sampled_from(["mentor", "mentee", "both", "none"]))
        if role in ("mentor", "both"):
            rec["mentor"] = {"capacity": draw(st.integers(0, 10**6)), "strengths": draw(levels)}
        if role in ("mentee", "both"):
            rec["mentee"] = {"needs": draw(levels)}
            if draw(st.booleans()):
                rec["mentee"]["weight"] = draw(st.floats(1e-3, 1000))
        ops.append(rec)
    donors = []
    for ident in draw(st.lists(TEXT, max_size=3, unique=True)):
        d: dict[str, Any] = {"id": ident, "budget": draw(st.integers(0, 10**15))}
        for key, items in (("regions", ITEM), ("countries", COUNTRY),
                           ("work_areas", st.sampled_from(areas))):
            if draw(st.booleans()):
                d[key] = draw(st.lists(items, min_size=1, max_size=3))
        for key, top in (("max_partnerships", 10**9), ("max_grant", 10**15)):
            if draw(st.booleans()):
                d[key] = draw(st.integers(0, top))
        if draw(st.booleans()):
            d["name"] = draw(TEXT)
        donors.append(d)
    mentees = [o["id"] for o in ops if "mentee" in o]
    mentors = [o["id"] for o in ops if "mentor" in o]
    pairs = [(a, b) for a in mentees for b in mentors if a != b]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=4)) if pairs else []
    pinned, forbidden, seen = [], [], set()
    for a, b in chosen:
        if a not in seen and draw(st.booleans()):
            seen.add(a)
            p = {"mentee": a, "mentor": b}
            if donors and draw(st.booleans()):
                p["donor"] = draw(st.sampled_from([d["id"] for d in donors]))
            pinned.append(p)
        else:
            forbidden.append({"mentee": a, "mentor": b})
    raw: dict[str, Any] = {"work_areas": areas, "operators": ops, "donors": donors, "pinned": pinned,
                           "forbidden": forbidden, "currency": draw(TEXT)}
    if draw(st.booleans()):
        raw["name"] = draw(TEXT)
    raw["costs"] = {"base": draw(st.floats(0, 1e9)), "duration_months": draw(st.integers(1, 120)),
                    "per_km": draw(st.floats(0, 1000)),
                    "default_distance_km": {"same_region": draw(st.floats(0, 1e5))}}
    raw["rules"] = {"language": draw(st.sampled_from(["hard", "ignore"])),
                    "region": draw(st.sampled_from(["any", "same"])),
                    "min_score": draw(st.floats(0, 1)),
                    "max_distance_km": draw(st.one_of(st.none(), st.floats(0, 1e7)))}
    return raw


def _roundtrip(inst: Instance, tmp: Path) -> Instance:
    """JSON -> XLSX -> CSV folder -> JSON, through the files and readers users use."""
    tmp.mkdir(parents=True, exist_ok=True)
    write_atomic(tmp / "a.xlsx", instance_files(inst, "xlsx"))
    from_xlsx = load_instance(tmp / "a.xlsx").instance
    write_folder_atomic(tmp / "b", instance_files(from_xlsx, "csv"))
    from_csv = load_instance(tmp / "b").instance
    write_atomic(tmp / "c.json", instance_files(from_csv, "json"))
    return load_instance(tmp / "c.json").instance


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(raw=instances())
def test_json_xlsx_csv_json_round_trip_is_lossless(raw, tmp_path_factory):
    try:
        inst = parse_instance(raw)
    except InputError:
        assume(False)
        raise
    back = _roundtrip(inst, tmp_path_factory.mktemp("rt"))
    assert back == inst  # every field, lists in order (mappings compare as mappings)


def test_generated_round_trips_and_solves_the_same(tmp_path):
    inst = parse_instance(generate(40, 12, donors=2, seed=3))
    assert _roundtrip(inst, tmp_path) == inst


def test_text_a_table_cannot_carry_is_refused_not_changed():
    raw = generate(3, 2, seed=1)
    raw["operators"][0]["name"] = " padded "
    with pytest.raises(TableWriteError, match="surrounding spaces"):
        instance_tables(parse_instance(raw))
    raw = generate(3, 2, seed=1)
    raw["operators"][0]["region"] = "a;b"  # a label of the round, so a donor may name it
    raw["donors"] = [{"id": "D", "budget": 1000, "regions": ["a;b"]}]
    with pytest.raises(TableWriteError, match="cannot be a list item"):
        instance_tables(parse_instance(raw))
    raw = generate(3, 2, seed=1)
    raw["operators"][0]["name"] = "bell\x07"
    with pytest.raises(TableWriteError, match="control character"):
        instance_files(parse_instance(raw), "xlsx")


def test_formula_like_text_stays_text(tmp_path):
    raw = generate(3, 2, seed=1)
    raw["operators"][0]["name"] = "=HYPERLINK(\"x\")"
    inst = parse_instance(raw)
    write_atomic(tmp_path / "f.xlsx", instance_files(inst, "xlsx"))
    assert load_instance(tmp_path / "f.xlsx").instance == inst


def _book(sheets: dict[str, list[list[Any]]]) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


OPS_HEADER = ["id", "name", "country", "region", "languages", "lat", "lon", "role", "mentor_capacity",
              "mentee_weight", "strength_septage", "need_septage"]


def _bad_tables() -> dict[str, list[list[Any]]]:
    return {
        "operators": [
            OPS_HEADER + ["need_water_quality"],
            ["M1", "Mentor one", "KE", "africa", "en; sw", 1.0, 37.0, "mentor", "lots", None, 5, None],
            ["E1", "Mentee one", "Kenya", "africa", "en", None, None, "mentee", None, 1, None, 9],
            [],  # a blank row is skipped but still counted
            ["E2", None, "UG", "africa", "en", 12.0, None, "mentr", None, None, None, 3],
            ["M1", None, "UG", "africa", "EN", None, None, "both", 1, 0, 3, 3],
        ],
        "donors": [["id", "budget", "regions"], ["D1", -5, "africa"]],
        "pinned": [["mentee", "mentor", "donor"], ["E1", "NOPE", "D9"]],
        "settings": [["setting", "value"], ["rules.langauge", "soft"], ["rules.min_strength", 9]],
        "donor": [["id"]],
    }


EXPECTED_PROBLEMS = [
    ("sheet donor", "unknown "),
    ("sheet settings, row 2, column setting", "unknown setting 'rules.langauge'"),
    ("sheet settings, row 3, column value", "must be at most 5, got 9"),
    ("sheet operators, column need_water_quality", "unknown work area 'water_quality'"),
    ("sheet operators, row 2, column mentor_capacity", "expected a whole number, got 'lots'"),
    ("sheet operators, row 3, column country", "did you mean 'KE' (Kenya)"),
    ("sheet operators, row 3, column need_septage", "must be at most 5, got 9"),
    ("sheet operators, row 5, column role", "role must be one of"),
    ("sheet operators, row 5, column lon", "lat is given but lon is empty: a location needs both (or neither)"),
    ("sheet operators, row 6, column id", "duplicate id 'M1' (first at row 2)"),
    ("sheet operators, row 6, column languages", "did you mean 'en' (English)"),
    ("sheet operators, row 6, column mentee_weight", "must be more than 0, got 0"),
    ("sheet donors, row 2, column budget", "must be at least 0, got -5"),
    ("sheet pinned, row 2, column mentor", "unknown operator 'NOPE'"),
    ("sheet pinned, row 2, column donor", "unknown donor 'D9'"),
]


def _assert_all_reported(problems, expected, rename=lambda w: w):
    text = [str(p) for p in problems]
    for where, fragment in expected:
        where = rename(where)
        assert any(t.startswith(where + ":") and fragment in t for t in text), (where, fragment, text)


def test_every_problem_of_a_workbook_is_reported_at_once_by_sheet_row_and_column(tmp_path):
    path = tmp_path / "bad.xlsx"
    path.write_bytes(_book(_bad_tables()))
    with pytest.raises(InputError) as exc:
        load_instance(path)
    _assert_all_reported(exc.value.problems, EXPECTED_PROBLEMS)


def test_every_problem_of_a_csv_folder_is_reported_by_file_row_and_column(tmp_path):
    import csv

    folder = tmp_path / "round"
    folder.mkdir()
    for name, rows in _bad_tables().items():
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows([["" if v is None else v for v in r] for r in rows])
    with pytest.raises(InputError) as exc:
        load_instance(folder)

    def rename(where: str) -> str:
        head, _, rest = where.partition(",")
        return head.replace("sheet ", "") + ".csv" + ("," + rest if rest else "")

    _assert_all_reported(exc.value.problems, EXPECTED_PROBLEMS, rename)


def test_cli_reports_a_broken_workbook_cleanly_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    out = tmp_path / "s.json"
    out.write_text("old")
    r = CliRunner().invoke(cli, ["solve", str(bad), "-o", str(out)])
    assert r.exit_code == 1 and "not a readable .xlsx workbook" in r.output and "Traceback" not in r.output
    assert out.read_text() == "old"
    for args in (["validate", str(tmp_path / "nothing.xlsx")], ["validate", str(tmp_path / "x.csv")]):
        r = CliRunner().invoke(cli, args)
        assert r.exit_code == 1 and "Traceback" not in r.output


def test_template_has_headers_notes_validation_and_fills_in_to_a_solvable_round(tmp_path):
    runner = CliRunner()
    path = tmp_path / "round.xlsx"
    r = runner.invoke(cli, ["template", "-o", str(path)])
    assert r.exit_code == 0, r.output
    wb = load_workbook(path)
    assert {"operators", "donors", "pinned", "forbidden", "settings", "notes"} <= set(wb.sheetnames)
    ops = wb["operators"]
    header = [c.value for c in ops[1]]
    assert header[:3] == ["id", "name", "country"] and "need_septage" in header and "strength_regulation" in header
    validated = " ".join(str(dv.sqref) for dv in ops.data_validations.dataValidation)
    from openpyxl.utils import get_column_letter
    for column in ("role", "region", "languages", "need_septage", "strength_septage"):
        assert f"{get_column_letter(header.index(column) + 1)}2:" in validated, column
    notes = {(row[0], row[1]) for row in wb["notes"].iter_rows(min_row=2, values_only=True)}
    assert ("operators", "role") in notes and ("operators", "need_<area>") in notes
    assert [row[0] for row in wb["settings"].iter_rows(min_row=2, values_only=True)] == list(SETTINGS)

    # A facilitator fills it in: two mentors, three mentees.
    def put(row: dict[str, Any]) -> None:
        ops.append([row.get(h) for h in header])

    put({"id": "NL-1", "country": "NL", "region": "europe", "languages": "en; fr", "role": "mentor",
         "mentor_capacity": 1, "strength_septage": 5, "strength_regulation": 4})
    put({"id": "ZA-1", "country": "ZA", "region": "sub-saharan-africa", "languages": "en", "role": "both",
         "mentor_capacity": 1, "strength_non_revenue_water": 4, "need_regulation": 1})
    put({"id": "SN-1", "country": "SN", "region": "sub-saharan-africa", "languages": "fr", "role": "mentee",
         "need_septage": 4, "need_regulation": 3})
    put({"id": "KE-1", "country": "KE", "region": "sub-saharan-africa", "languages": "en, sw", "role": "mentee",
         "need_non_revenue_water": 5})
    wb.save(path)
    out = tmp_path / "result.xlsx"
    r = runner.invoke(cli, ["solve", str(path), "-o", str(out)])
    assert r.exit_code == 0, r.output
    sol = json.loads((tmp_path / "result.json").read_text())
    assert sol["status"] == "optimal"
    assert {(p["mentee"], p["mentor"]) for p in sol["partnerships"]} == {("SN-1", "NL-1"), ("KE-1", "ZA-1")}
    r = runner.invoke(cli, ["verify", str(path), str(tmp_path / "result.json")])
    assert r.exit_code == 0, r.output


def test_convert_between_every_pair_of_formats(tmp_path):
    runner = CliRunner()
    src = tmp_path / "i.json"
    assert runner.invoke(cli, ["generate", "--mentees", "20", "--mentors", "6", "--donors", "2",
                               "-o", str(src)]).exit_code == 0
    inst = load_instance(src).instance
    paths = {"json": tmp_path / "o.json", "xlsx": tmp_path / "o.xlsx", "csv": tmp_path / "o_csv"}
    previous = src
    for kind in ("xlsx", "csv", "json", "csv", "xlsx", "json"):
        target = paths[kind] if paths[kind] != previous else tmp_path / f"again.{kind}"
        r = runner.invoke(cli, ["convert", str(previous), "-o", str(target)])
        assert r.exit_code == 0, r.output
        assert load_instance(target).instance == inst
        previous = target


def test_convert_refuses_lossy_output_and_unknown_suffixes(tmp_path):
    raw = generate(3, 2, seed=1)
    raw["operators"][0]["name"] = " padded "
    src = tmp_path / "i.json"
    src.write_text(json.dumps(raw))
    out = tmp_path / "o.xlsx"
    r = CliRunner().invoke(cli, ["convert", str(src), "-o", str(out)])
    assert r.exit_code == 1 and "without loss" in r.output and not out.exists()
    r = CliRunner().invoke(cli, ["convert", str(src), "-o", str(tmp_path / "o.ods")])
    assert r.exit_code == 1 and "cannot write an instance as '.ods'" in r.output


def test_the_shipped_demo_workbook_is_the_demo_round():
    root = Path(__file__).resolve().parents[1] / "instances"
    assert load_instance(root / "demo.xlsx").instance == load_instance(root / "demo.json").instance


def _comma_locale(cell: str) -> str:
    """How such a locale writes a cell: lists with ',', numbers with a decimal comma."""
    try:
        float(cell)
    except ValueError:
        return cell.replace("; ", ", ")
    return cell.replace(".", ",")


def test_csv_from_a_decimal_comma_locale_reads_the_same(tmp_path):
    """Spreadsheet programs in such locales separate fields with ';' (lists then use ',')."""
    import csv

    inst = parse_instance(generate(12, 4, donors=1, seed=8))
    src = tmp_path / "src"
    write_folder_atomic(src, instance_files(inst, "csv"))
    dst = tmp_path / "semicolon"
    dst.mkdir()
    for f in src.iterdir():
        with open(f, newline="", encoding="utf-8") as fh:
            rows = [[_comma_locale(cell) for cell in row] for row in csv.reader(fh)]
        with open(dst / f.name, "w", newline="", encoding="utf-8-sig") as fh:  # with a BOM, as Excel writes
            csv.writer(fh, delimiter=";").writerows(rows)
    text = (dst / "operators.csv").read_text()
    assert ";" in text.splitlines()[0] and re.search(r";-?\d+,\d+;", text)  # e.g. a latitude 12,7541
    assert load_instance(dst).instance == inst
