"""Broken inputs for the fuzz test (tests/test_fuzz_inputs.py) and the fuzz benchmark
(benchmarks/fuzz.py): a seeded mutator over the shipped instance, workbook, CSV folder
and scenario set. The same seed gives the same inputs."""

from __future__ import annotations

import copy
import io
import json
import random
import zipfile
from pathlib import Path
from typing import Any

from wopmatch.models import load_instance
from wopmatch.models.io import instance_files, write_folder_atomic

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "instances" / "demo.json"
ODD: list[Any] = [None, True, -1, 0, 10**30, 1.5, float("inf"), "", " ", "1,000", "x" * 300, [], [1, "a"], {},
                  {"a": [1]}, [["septage"]], "é\u0000", "NaN", -10**20, "FR", "eng", "Kenya"]


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value[:6]):
            out += paths(v, prefix + (i,))
    return out


def mutate(raw: dict, rng: random.Random) -> dict:
    raw = copy.deepcopy(raw)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(paths(raw)[1:])
        parent = raw
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        roll = rng.random()
        if roll < 0.15 and isinstance(parent, dict):
            del parent[key]
        elif roll < 0.25 and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))  # a duplicate id, a second pin
        else:
            parent[key] = rng.choice(ODD)
    return raw


def json_inputs(n: int, rng: random.Random) -> list[bytes]:
    raw = json.loads(DEMO.read_text())
    out = []
    for k in range(n):
        if k % 25 == 0:  # the file itself broken: cut short, not UTF-8, a huge integer, nested deep
            text = DEMO.read_bytes()
            out.append(rng.choice([text[: rng.randint(0, len(text))], b"\xff\xfe" + text[:100],
                                   b'{"operators": [], "donors": [{"id": "D", "budget": ' + b"9" * 5000 + b"}]}",
                                   b"[" * 5000 + b"]" * 5000]))
        else:
            out.append(json.dumps(mutate(raw, rng), allow_nan=True).encode())
    return out


def workbook_inputs(n: int, rng: random.Random, tmp: Path) -> list[Path]:
    from openpyxl import load_workbook

    good = (ROOT / "instances" / "demo.xlsx").read_bytes()
    out = []
    for k in range(n):
        path = tmp / f"w{k}.xlsx"
        if k % 3 == 0:  # a damaged part inside the zip
            src = zipfile.ZipFile(io.BytesIO(good))
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as dst:
                victim = rng.choice([i.filename for i in src.infolist()])
                for item in src.infolist():
                    data = src.read(item.filename)
                    if item.filename == victim:
                        data = data[: rng.randint(0, len(data))]
                    dst.writestr(item, data)
            path.write_bytes(buf.getvalue())
        else:  # a cell typed wrong
            book = load_workbook(io.BytesIO(good))
            sheet = book[rng.choice([s for s in book.sheetnames if s != "notes"])]
            row, col = rng.randint(1, max(1, sheet.max_row)), rng.randint(1, max(1, sheet.max_column))
            value = rng.choice([v for v in ODD if isinstance(v, (str, int, float)) and v == v and
                                abs(v if not isinstance(v, str) else 0) < 1e300])
            sheet.cell(row=row, column=col, value=value if not isinstance(value, str) else value.replace("\u0000", ""))
            book.save(path)
        out.append(path)
    return out


def csv_inputs(n: int, rng: random.Random, tmp: Path) -> list[Path]:
    files = instance_files(load_instance(DEMO).instance, "csv")
    out = []
    for k in range(n):
        folder = tmp / f"c{k}"
        broken = dict(files)
        name = rng.choice(sorted(broken))
        text = broken[name].decode()
        lines = text.split("\n")
        roll = rng.random()
        if roll < 0.3:
            broken[name] = text[: rng.randint(0, len(text))].encode()
        elif roll < 0.5:
            broken[name] = text.replace(",", ";", rng.randint(1, 5)).encode()
        else:
            i = rng.randrange(len(lines))
            cells = lines[i].split(",")
            cells[rng.randrange(len(cells))] = str(rng.choice(ODD)).replace("\u0000", "")
            lines[i] = ",".join(cells)
            broken[name] = "\n".join(lines).encode()
        write_folder_atomic(folder, broken)
        out.append(folder)
    return out


def yaml_inputs(n: int, rng: random.Random, tmp: Path) -> list[Path]:
    """The shipped scenario set, broken as text (cut short, nested deep, a huge integer, a
    tag, tabs) or in its values (the mutator above), beside a copy of its base instance."""
    import yaml

    text = (ROOT / "instances" / "demo-scenarios.yaml").read_text()
    raw = yaml.safe_load(text)
    (tmp / "demo.json").write_bytes(DEMO.read_bytes())
    out = []
    for k in range(n):
        path = tmp / f"s{k}.yaml"
        if k % 5 == 0:
            path.write_text(rng.choice([text[: rng.randint(0, len(text))], "[" * 3000 + "]" * 3000,
                                        "base: demo.json\nseed: " + "9" * 5000, "name: !!python/object:os.system x",
                                        text.replace("  ", "\t", 3), "- a\nb: c", "&a [*a]", "? [a]\n: b"]))
        else:
            path.write_text(yaml.safe_dump(mutate(raw, rng), allow_unicode=True))
        out.append(path)
    return out
