"""Is a time limit honoured, or does the output say it was not? (issue 19)

    python benchmarks/timelimit.py [--case 20,000] [--policy max-min]   # appends to timelimit.jsonl

Every policy runs ``wopmatch solve --time-limit L`` in a child process, as a user runs
it, at 2,000 x 500 with 5 donors and at 20,000 x 5,000 without donors, for
L = 5 and 30 s. A run **honours** its limit when the solve step (``stats.build_seconds``
+ ``stats.solve_seconds``: what the limit covers, docs/format.md) ends within
L + GRACE; otherwise it must **say** so in its ``message``; a run that does neither
fails this script. The command's wall time (loading, verifying and writing on top) is
recorded beside it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
WOPMATCH = [str(Path(sys.executable).parent / "wopmatch")]
LIMITS = (5.0, 30.0)
#: The rounds of the committed results (wopmatch 0.1's generator: docs/generator.md).
NEEDS = "legacy"


def grace(limit: float) -> float:
    """The small grace past a limit: 2 s, or a tenth of the limit if more (a stage
    checks the clock between its steps; a HiGHS child is stopped 1 s after its share)."""
    return max(2.0, 0.1 * limit)


CASES = [
    ("2,000 x 500, 5 donors, seed 1", dict(mentees=2000, mentors=500, donors=5, seed=1),
     [("optimal", None), ("max-min", None), ("min-cost", None), ("regional-equity", None),
      ("greedy", None), ("stable", None), ("random", None)]),
    ("20,000 x 5,000, no donors, seed 1", dict(mentees=20000, mentors=5000, donors=0, seed=1),
     [("optimal", None), ("max-min", None), ("min-cost", None), ("regional-equity", None), ("greedy", None),
      ("stable", None)]),
]


def run(path: Path, out: Path, policy: str, method: str | None, limit: float) -> dict:
    args = ["solve", str(path), "--policy", policy, "--time-limit", f"{limit:g}", "-o", str(out), "--quiet"]
    if method:
        args += ["--method", method]
    t0 = time.perf_counter()
    proc = subprocess.run(WOPMATCH + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    sol = json.loads(out.read_text())
    stats = sol["stats"]
    step = stats["build_seconds"] + stats["solve_seconds"]
    message = sol.get("message") or ""
    honoured = step <= limit + grace(limit)
    said = "time limit" in message
    return {"policy": policy, "method": stats["method"], "limit": limit, "grace": grace(limit),
            "step_seconds": round(step, 2), "wall_seconds": round(wall, 2), "status": sol["status"],
            "gap": sol.get("gap"), "message": message, "honoured": honoured, "said": said,
            "ok": honoured or said}


def main() -> None:
    import argparse

    from wopmatch.bench.runner import provenance
    from wopmatch.generator import generate

    ap = argparse.ArgumentParser()
    ap.add_argument("--case", default="", help="only the cases whose name contains this (e.g. 20,000)")
    ap.add_argument("--policy", action="append", help="only these policies (repeatable)")
    args = ap.parse_args()
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        for case, size, policies in CASES:
            if args.case not in case:
                continue
            path = Path(tmp) / "round.json"
            path.write_text(json.dumps(generate(size["mentees"], size["mentors"], donors=size["donors"],
                                                seed=size["seed"], needs=NEEDS)))
            for policy, method in policies:
                if args.policy and policy not in args.policy:
                    continue
                for limit in LIMITS:
                    rec = run(path, Path(tmp) / "s.json", policy, method, limit)
                    rec["case"] = case
                    print(json.dumps(rec), flush=True)
                    records.append(rec)
    prov = provenance()
    with open(HERE / "timelimit.jsonl", "a") as f:
        for rec in records:
            f.write(json.dumps({**rec, **prov}, default=str) + "\n")
    bad = [r for r in records if not r["ok"]]
    if bad:
        raise SystemExit(f"{len(bad)} run(s) went past their limit without saying so: {bad}")


if __name__ == "__main__":
    main()
