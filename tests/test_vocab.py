"""Typos that used to validate cleanly (issue 18, item 1): codes checked against ISO 3166-1
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
    raw["operators"][3]["region"] = raw["operators"][3]["region"].upper()  # a near-duplicate label
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

