"""1,000 broken inputs through every reader, the command line and the service (issue 19).

    python benchmarks/fuzz.py [N]         # N inputs (default 1000); appends to fuzz.jsonl

The inputs come from the suite's seeded mutator (tests/fuzzkit.py) with another seed:
half JSON instances, then workbooks, CSV folders and YAML scenario sets. Each goes to

- ``wopmatch validate`` (a scenario set too), then ``wopmatch solve INPUT -o OUT`` (for a
  set: ``wopmatch scenarios SET -o DIR``) over an output that exists already: a refused
  input must leave OUT's bytes and its folder unchanged;
- the service: ``POST /v1/validate`` (JSON bodies) and ``/v1/validate/upload``
  (workbooks), on a real ``wopmatch serve``.

Counted: tracebacks (an exception out of a command, or "Traceback" in its output), any
exit code but 0 and 1, 5xx answers (and " 500 " in the server's log), changed outputs.
A round that is valid but infeasible (pins that overrun a donor) is solved to a complete
solution saying why, with exit 1, as docs/format.md says: counted apart.
A valid input (the mutation left a valid round) is solved (or, for a set, only
validated) and counted as such. This script fails when any count is not 0.
"""

from __future__ import annotations

import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
SEED = 1000


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def main() -> None:
    from click.testing import CliRunner
    from fuzzkit import csv_inputs, json_inputs, workbook_inputs, yaml_inputs
    from servicekit import Server

    from wopmatch.bench.runner import provenance
    from wopmatch.cli.main import cli

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    rng = random.Random(SEED)
    counts = {"inputs": 0, "refused": 0, "infeasible": 0, "valid": 0, "tracebacks": 0, "bad_exit": 0,
              "changed_outputs": 0, "service_requests": 0, "service_5xx": 0}
    by_reader: dict[str, int] = {}
    t0 = time.perf_counter()
    runner = CliRunner()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        out_dir = tmp / "out"
        out_dir.mkdir()
        sentinel = b'{"an earlier answer": true}\n'

        def drive(reader: str, path: Path, solve_args: list[str]) -> None:
            counts["inputs"] += 1
            by_reader[reader] = by_reader.get(reader, 0) + 1
            (out_dir / "solution.json").write_bytes(sentinel)
            (out_dir / "sweep").mkdir(exist_ok=True)
            (out_dir / "sweep" / "scenarios.csv").write_bytes(sentinel)
            before = _snapshot(out_dir)
            checked = runner.invoke(cli, ["validate", str(path)])
            runs = [checked]
            if checked.exit_code == 1 or reader != "yaml":
                runs.append(runner.invoke(cli, solve_args))
            for r in runs:
                if (r.exception is not None and not isinstance(r.exception, SystemExit)) or "Traceback" in r.output:
                    counts["tracebacks"] += 1
                    print(f"traceback: {reader} {path.name}: {r.exception!r}", flush=True)
                if r.exit_code not in (0, 1):
                    counts["bad_exit"] += 1
            written = out_dir / "solution.json"
            if runs[-1].exit_code == 1 and b'"status": "infeasible"' in written.read_bytes():
                counts["infeasible"] += 1  # a complete solution saying why, exit 1: by design (docs/format.md)
            elif runs[-1].exit_code == 1:
                counts["refused"] += 1
                if _snapshot(out_dir) != before:
                    counts["changed_outputs"] += 1
                    print(f"changed output: {reader} {path.name}", flush=True)
            else:
                counts["valid"] += 1
            shutil.rmtree(out_dir)
            out_dir.mkdir()

        n_json, n_book, n_csv = n // 2, n // 8, n // 8
        n_yaml = n - n_json - n_book - n_csv
        jsons = json_inputs(n_json, rng)
        for k, data in enumerate(jsons):
            path = tmp / f"j{k}.json"
            path.write_bytes(data)
            drive("json", path, ["solve", str(path), "-o", str(out_dir / "solution.json"), "--quiet"])
            path.unlink()
        books = workbook_inputs(n_book, rng, tmp)
        for path in books:
            drive("xlsx", path, ["solve", str(path), "-o", str(out_dir / "solution.json"), "--quiet"])
        for path in csv_inputs(n_csv, rng, tmp):
            drive("csv", path, ["solve", str(path), "-o", str(out_dir / "solution.json"), "--quiet"])
        sets = tmp / "sets"
        sets.mkdir()
        for path in yaml_inputs(n_yaml, rng, sets):
            drive("yaml", path, ["scenarios", str(path), "-o", str(out_dir / "sweep"), "--quiet"])

        server = Server(tmp / "data", "--workers", "1").start()
        try:
            with server.client() as c:
                for data in jsons:
                    r = c.post("/v1/validate", content=data, headers={"content-type": "application/json"})
                    counts["service_requests"] += 1
                    counts["service_5xx"] += r.status_code >= 500
                for path in books:
                    r = c.post("/v1/validate/upload", files={"file": (path.name, path.read_bytes())})
                    counts["service_requests"] += 1
                    counts["service_5xx"] += r.status_code >= 500
        finally:
            server.stop()
        counts["service_5xx"] += server.log().count(" 500 ")
    rec = {"case": f"{n} broken inputs, seed {SEED}", **counts, "by_reader": by_reader,
           "seconds": round(time.perf_counter() - t0, 1), **provenance()}
    with open(HERE / "fuzz.jsonl", "a") as f:
        f.write(json.dumps(rec, default=str) + "\n")
    print(json.dumps(rec, indent=2, default=str))
    if any(counts[k] for k in ("tracebacks", "bad_exit", "changed_outputs", "service_5xx")):
        raise SystemExit("the fuzz run found a problem (above)")


if __name__ == "__main__":
    main()
