"""The front door (issue 18): typos that used to validate cleanly: codes checked against ISO 3166-1
and ISO 639, a donor's label that is a misspelling of the round's is an error naming the
donor, the value and the label meant, and what is valid but probably not meant is a
warning, through every input format."""

from __future__ import annotations

import csv
import json

import openpyxl
import pytest
from click.testing import CliRunner

from wopmatch.cli.main import cli
from wopmatch.generator import generate
from wopmatch.models import InputError, instance_warnings, load_instance, parse_instance
from wopmatch.models.io import instance_files, write_atomic, write_folder_atomic


def _round() -> dict:
    raw = generate(12, 4, donors=1, seed=5)
    region = next(op["region"] for op in raw["operators"] if "-" in op["region"])
    raw["donors"][0].pop("countries", None)
    raw["donors"][0]["regions"] = [region]
    return raw


def _files(raw: dict, tmp_path, edit) -> dict[str, object]:
    """The round as JSON, workbook and CSV folder, each with ``edit`` (donor field, value) made
    in the file itself, as a person would."""
    inst = parse_instance(raw)
    field, value = edit
    bad = json.loads(json.dumps(raw))
    bad["donors"][0][field] = [value]
    (tmp_path / "r.json").write_text(json.dumps(bad))
    write_atomic(tmp_path / "r.xlsx", instance_files(inst, "xlsx"))
    book = openpyxl.load_workbook(tmp_path / "r.xlsx")
    sheet = book["donors"]
    col = [c.value for c in sheet[1]].index(field) + 1
    sheet.cell(row=2, column=col, value=value)
    book.save(tmp_path / "r.xlsx")
    write_folder_atomic(tmp_path / "csv", instance_files(inst, "csv"))
    path = tmp_path / "csv" / "donors.csv"
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    rows[1][rows[0].index(field)] = value
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return {"json": tmp_path / "r.json", "xlsx": tmp_path / "r.xlsx", "csv": tmp_path / "csv"}


@pytest.mark.parametrize("fmt", ["json", "xlsx", "csv"])
def test_a_donor_region_written_with_a_space_is_an_error_naming_the_label_meant(tmp_path, fmt):
    raw = _round()
    region = raw["donors"][0]["regions"][0]
    assert "-" in region
    typo = region.replace("-", " ", 1)
    path = _files(raw, tmp_path, ("regions", typo))[fmt]
    with pytest.raises(InputError) as exc:
        load_instance(path)
    text = [str(p) for p in exc.value.problems]
    donor = raw["donors"][0]["id"]
    assert any(typo in t and donor in t and f"did you mean {region!r}" in t and "funds nobody" in t
               for t in text), text
    r = CliRunner().invoke(cli, ["validate", str(path)])
    assert r.exit_code == 1 and f"did you mean {region!r}" in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("fmt", ["json", "xlsx", "csv"])
def test_a_misspelt_language_or_a_country_name_is_refused_with_the_code_meant(tmp_path, fmt):
    raw = _round()
    raw["operators"][1]["languages"] = ["english"]
    raw["operators"][2]["country"] = "Kenya"
    paths = {"json": tmp_path / "r.json"}
    paths["json"].write_text(json.dumps(raw))
    if fmt != "json":  # the same mistakes typed into the workbook and the CSV folder
        good = _round()
        inst = parse_instance(good)
        write_atomic(tmp_path / "r.xlsx", instance_files(inst, "xlsx"))
        book = openpyxl.load_workbook(tmp_path / "r.xlsx")
        sheet = book["operators"]
        head = [c.value for c in sheet[1]]
        sheet.cell(row=3, column=head.index("languages") + 1, value="english")
        sheet.cell(row=4, column=head.index("country") + 1, value="Kenya")
        book.save(tmp_path / "r.xlsx")
        paths["xlsx"] = tmp_path / "r.xlsx"
        write_folder_atomic(tmp_path / "csv", instance_files(inst, "csv"))
        path = tmp_path / "csv" / "operators.csv"
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        rows[2][rows[0].index("languages")] = "english"
        rows[3][rows[0].index("country")] = "Kenya"
        with path.open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(rows)
        paths["csv"] = tmp_path / "csv"
    with pytest.raises(InputError) as exc:
        load_instance(paths[fmt])
    text = " | ".join(str(p) for p in exc.value.problems)
    assert "did you mean 'en' (English)" in text and "did you mean 'KE' (Kenya)" in text, text
    assert "pattern" not in text and "Input should" not in text


def test_what_is_valid_but_probably_not_meant_is_a_warning_in_validate_and_in_the_solution(tmp_path):
    raw = _round()
    present = {op["country"] for op in raw["operators"]}
    absent = next(c for c in ("IS", "NO", "FI", "MT") if c not in present)
    raw["donors"][0]["countries"] = [raw["operators"][0]["country"], absent]
    other = next(op for op in raw["operators"] if op["region"] not in raw["donors"][0]["regions"])
    other["region"] = other["region"].upper()  # a near-duplicate label no donor names
    inst = parse_instance(raw)  # valid
    warnings = [w.message for w in instance_warnings(inst)]
    assert any(absent in w and "fund nobody" in w for w in warnings), warnings
    assert any("differ only in case" in w for w in warnings), warnings
    path = tmp_path / "r.json"
    path.write_text(json.dumps(raw))
    runner = CliRunner()
    r = runner.invoke(cli, ["validate", str(path)])
    assert r.exit_code == 0 and "valid" in r.output and f"warning: donor {raw['donors'][0]['id']}" in r.output
    r = runner.invoke(cli, ["solve", str(path), "-o", str(tmp_path / "s.json"), "--quiet"])
    assert r.exit_code == 0 and "warning:" in r.output
    saved = json.loads((tmp_path / "s.json").read_text())
    assert saved["warnings"] == warnings
    r = runner.invoke(cli, ["verify", str(path), str(tmp_path / "s.json")])
    assert r.exit_code == 0, r.output



def _csv_round(tmp_path, edit_ops=None, edit_donors=None):
    inst = parse_instance(_round())
    folder = tmp_path / "csv"
    write_folder_atomic(folder, instance_files(inst, "csv"))
    for name, edit in (("operators.csv", edit_ops), ("donors.csv", edit_donors)):
        if edit is None:
            continue
        path = folder / name
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        rows = edit(rows)
        with path.open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(rows)
    return folder


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_a_deleted_column_is_one_problem_and_problems_come_in_sheet_and_row_order(tmp_path, fmt):
    def ops(rows):
        k = rows[0].index("region")
        rows = [r[:k] + r[k + 1:] for r in rows]
        rows[5][rows[0].index("country")] = "Kenya"
        rows[2][rows[0].index("languages")] = "english"
        return rows

    def donors(rows):
        rows[1][rows[0].index("budget")] = "150,000"
        return rows

    folder = _csv_round(tmp_path, ops, donors)
    path = folder
    if fmt == "xlsx":  # the same tables as a workbook
        from wopmatch.models.tables import read_csv_folder

        tables, _ = read_csv_folder(folder)
        book = openpyxl.Workbook()
        book.remove(book.active)
        for name, table in tables.items():
            sheet = book.create_sheet(name)
            sheet.append(table.header)
            for _, cells in table.rows:
                sheet.append(cells)
        path = tmp_path / "r.xlsx"
        book.save(path)
    with pytest.raises(InputError) as exc:
        load_instance(path)
    text = [str(p) for p in exc.value.problems]
    sheet = "sheet operators" if fmt == "xlsx" else "operators.csv"
    assert sum("region" in t for t in text) == 1, text  # not once per row
    assert text[0] == f"{sheet}: missing column 'region': every row needs it"
    assert "row 3" in text[1] and "'english'" in text[1] and "row 6" in text[2] and "'Kenya'" in text[2], text
    assert "donors" in text[3] and "without thousands separators (150000)" in text[3], text
    assert len(text) == 4


def test_an_empty_round_is_warned_not_silently_optimal(tmp_path):
    runner = CliRunner()
    r = runner.invoke(cli, ["template", "-o", str(tmp_path / "t.xlsx")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["validate", str(tmp_path / "t.xlsx")])
    assert r.exit_code == 0 and "warning: no operator has a mentee profile" in r.output
    r = runner.invoke(cli, ["solve", str(tmp_path / "t.xlsx"), "-o", str(tmp_path / "s.json"), "--quiet"])
    assert "nothing to match" in r.output
    assert json.loads((tmp_path / "s.json").read_text())["warnings"][0].startswith("no operator has a mentee")


def test_a_workbook_s_empty_extra_sheet_is_skipped_and_half_a_location_or_a_bad_role_names_the_operator(tmp_path):
    raw = _round()
    path = tmp_path / "r.xlsx"
    path.write_bytes(instance_files(parse_instance(raw), "xlsx"))
    book = openpyxl.load_workbook(path)
    book.create_sheet("Sheet1")  # what Excel leaves behind
    book.create_sheet("Extra")["A1"] = "my notes"
    ws = book["operators"]
    header = [c.value for c in ws[1]]
    ws.cell(2, header.index("lat") + 1).value = None
    ws.cell(3, header.index("role") + 1).value = "mentr"
    first, second = ws.cell(2, 1).value, ws.cell(3, 1).value
    book.save(path)
    r = CliRunner().invoke(cli, ["validate", str(path)])
    got = [line.strip() for line in r.output.splitlines()[1:]]
    assert r.exit_code == 1 and not any("Sheet1" in line for line in got)
    assert "sheet Extra: unknown sheet 'Extra'; expected operators, donors, pinned, forbidden, interests, " \
           "indicators, settings (and optionally notes)" in got
    assert (f"sheet operators, row 2, column lat: lon is given but lat is empty: a location needs both (or "
            f"neither) (operator {first})") in got
    assert any(line.startswith("sheet operators, row 3, column role: role must be one of mentor, mentee, both, "
                               f"none, got 'mentr' (operator {second})") for line in got)


def test_a_misspelt_country_or_language_name_gets_the_code_of_the_nearest_name_the_round_uses_first(tmp_path):
    from wopmatch.models.vocab import country_problem, language_problem

    assert "did you mean 'KE' (Kenya)" in country_problem("Kenia")
    assert "did you mean 'en' (English)" in language_problem("englsh")  # not 'nsh' (Ngoshie)
    assert "did you mean 'sw' (Swahili)" in language_problem("swahli")
    # 'Nigeri' is nearest 'Nigeria'; in a round that has operators in Niger, Niger comes first
    assert "'NG' (Nigeria)" in country_problem("Nigeri") and "'NE' (Niger)" in country_problem("Nigeri", ["NE"])
    raw = _round()
    raw["operators"][1]["languages"] = ["englsh"]
    raw["operators"][2]["country"] = "Kenia"
    path = tmp_path / "r.json"
    path.write_text(json.dumps(raw))
    r = CliRunner().invoke(cli, ["validate", str(path)])
    assert r.exit_code == 1 and "did you mean 'en' (English)" in r.output and "did you mean 'KE' (Kenya)" in r.output


def _three_spellings() -> tuple[dict, list[str]]:
    raw = generate(30, 8, donors=2, seed=1)
    ssa = [op for op in raw["operators"] if op["region"] == "sub-saharan-africa"]
    ssa[0]["region"] = "Sub Saharan Africa"
    ssa[1]["region"] = ssa[2]["region"] = "Sub-Saharan Africa"
    for d in raw["donors"]:
        d.pop("regions", None)
        d.pop("countries", None)
    return raw, [ssa[0]["id"], ssa[1]["id"], ssa[3]["id"]]


@pytest.mark.parametrize("fmt", ["json", "xlsx"])
def test_a_donor_that_names_one_spelling_of_a_region_is_refused_with_the_rows_it_leaves_out(tmp_path, fmt):
    raw, (odd, *_) = _three_spellings()
    path = tmp_path / "r.json"
    if fmt == "xlsx":  # the workbook a facilitator keeps: the left-out operator is named by its row
        path = tmp_path / "r.xlsx"
        write_atomic(path, instance_files(parse_instance(raw), "xlsx"))
        book = openpyxl.load_workbook(path)
        sheet = book["donors"]
        sheet.cell(row=2, column=[c.value for c in sheet[1]].index("regions") + 1,
                   value="Sub-Saharan Africa; sub-saharan-africa")
        book.save(path)
    raw["donors"][0]["regions"] = ["Sub-Saharan Africa", "sub-saharan-africa"]
    if fmt == "json":
        path.write_text(json.dumps(raw))
    with pytest.raises(InputError) as exc:
        load_instance(path)
    text = " | ".join(str(p) for p in exc.value.problems)
    row = 2 + next(i for i, op in enumerate(raw["operators"]) if op["id"] == odd)
    assert f"but not 'Sub Saharan Africa', written by {odd}" in text, text
    assert (f"(row {row})" if fmt == "xlsx" else f"(operators[{row - 2}])") in text, text
    r = CliRunner().invoke(cli, ["validate", str(path)])
    assert r.exit_code == 1 and "Sub Saharan Africa" in r.output and "Traceback" not in r.output


def test_every_spelling_of_a_region_is_named_in_one_warning_and_regional_equity_refuses_them(tmp_path):
    raw, ids = _three_spellings()
    warnings = [w.message for w in instance_warnings(parse_instance(raw))]
    spelt = [w for w in warnings if "differ only in case" in w]
    assert len(spelt) == 1 and all(s in spelt[0] for s in ("'Sub Saharan Africa'", "'Sub-Saharan Africa'",
                                                          "'sub-saharan-africa'", *ids)), spelt
    path = tmp_path / "r.json"
    path.write_text(json.dumps(raw))
    r = CliRunner().invoke(cli, ["solve", str(path), "--policy", "regional-equity"])
    assert r.exit_code == 1 and "regional-equity would raise" in r.output, r.output
    r = CliRunner().invoke(cli, ["solve", str(path), "--policy", "regional-equity", "--group-by", "country"])
    assert r.exit_code == 0, r.output
