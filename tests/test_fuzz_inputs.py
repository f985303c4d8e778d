"""A seeded mutator over the shipped instance, workbook, CSV folder and scenario set (issue 19): every
broken input is a located problem list, exit 1 on the command line, 422 in the service;
never a traceback, never a 500. 240 inputs on the command line in the default run (480 in the
slow run) and 175 through the service (seeds fixed: the same inputs each run)."""

from __future__ import annotations

import random

import pytest
from click.testing import CliRunner
from fuzzkit import csv_inputs, json_inputs, workbook_inputs, yaml_inputs

from wopmatch.cli.main import cli


def _check(result) -> None:
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def test_240_broken_inputs_through_the_command_line(tmp_path):
    _through_the_command_line(tmp_path, 125, 35, 50, 30)


@pytest.mark.slow
def test_480_broken_inputs_through_the_command_line(tmp_path):
    _through_the_command_line(tmp_path, 250, 70, 100, 60)


def _through_the_command_line(tmp_path, n_json: int, n_workbook: int, n_csv: int, n_yaml: int) -> None:
    runner = CliRunner()
    failed = 0
    for k, data in enumerate(json_inputs(n_json, random.Random(19))):
        path = tmp_path / f"j{k}.json"
        path.write_bytes(data)
        r = runner.invoke(cli, ["validate", str(path)])
        _check(r)
        failed += r.exit_code == 1
    rng = random.Random(1919)  # each reader its own stream: one reader's count does not change another's inputs
    for path in workbook_inputs(n_workbook, rng, tmp_path) + csv_inputs(n_csv, rng, tmp_path):
        r = runner.invoke(cli, ["validate", str(path)])
        _check(r)
        failed += r.exit_code == 1
    sets = tmp_path / "sets"
    sets.mkdir()
    for path in yaml_inputs(n_yaml, random.Random(191919), sets):
        r = runner.invoke(cli, ["validate", str(path)])
        _check(r)
        if r.exit_code == 1:  # the sweep refuses it the same way, before writing anything
            failed += 1
            swept = runner.invoke(cli, ["scenarios", str(path), "-o", str(tmp_path / "out"), "--quiet"])
            _check(swept)
            assert swept.exit_code == 1 and not (tmp_path / "out").exists(), swept.output
    # most mutations break the input (some leave it valid: an odd name is a name)
    assert failed >= 0.625 * (n_json + n_workbook + n_csv + n_yaml)  # 300 of 480


def test_broken_inputs_through_the_service_are_422(tmp_path):
    pytest.importorskip("fastapi")
    from servicekit import Server

    rng = random.Random(20)
    server = Server(tmp_path / "data", "--workers", "1").start()
    try:
        with server.client() as c:
            for data in json_inputs(150, rng):
                r = c.post("/v1/validate", content=data, headers={"content-type": "application/json"})
                assert r.status_code in (200, 422), (r.status_code, r.text[:300])
            for path in workbook_inputs(25, rng, tmp_path):
                r = c.post("/v1/validate/upload", files={"file": (path.name, path.read_bytes())})
                assert r.status_code in (200, 422), (r.status_code, r.text[:300])
    finally:
        server.stop()
    assert " 500 " not in server.log()
