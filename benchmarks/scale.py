"""Record a policy's end-to-end run at 100,000 x 20,000 (issue: policies, scale).

    /usr/bin/time -v wopmatch solve i_100k.json --policy greedy -o g.json --quiet 2> g.time
    python benchmarks/scale.py g.json g.time      # appends to policies/scale.jsonl

These runs take from 3 minutes to an hour each, so they are run by hand (the
instance is `wopmatch generate --mentees 100000 --mentors 20000 --seed 1`) and
recorded here with the time log of /usr/bin/time -v; report.py turns them into
the RESULTS.md table, relative to the optimal policy's run in results.jsonl.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def parse_time_log(text: str) -> dict:
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if not wall or not rss:
        raise SystemExit("not a /usr/bin/time -v log: no wall clock time or maximum resident set size")
    seconds = 0.0
    for part in wall.group(1).split(":"):
        seconds = seconds * 60 + float(part)
    user = re.search(r"User time \(seconds\): ([\d.]+)", text)
    system = re.search(r"System time \(seconds\): ([\d.]+)", text)
    cpu = float(user.group(1)) + float(system.group(1)) if user and system else None
    # CPU seconds are what a run costs even when other jobs share the machine (wall seconds then stretch)
    return {"seconds": round(seconds, 1), "cpu_seconds": None if cpu is None else round(cpu, 1),
            "peak_rss_mib": round(int(rss.group(1)) / 1024, 1)}


def main(solution: str, time_log: str, date: str | None = None, git: str | None = None) -> None:
    from wopmatch.bench.runner import provenance
    from wopmatch.models import load_solution

    s = load_solution(solution)
    rec = {"case": "100000x20000 budget-free", "policy": s.policy, "status": s.status,
           "objective": s.objective.model_dump() if s.objective else None, "method": s.stats.method,
           "solve_seconds": s.stats.solve_seconds, "verify_seconds": s.stats.verify_seconds,
           "matched": len(s.partnerships), "blocking_pairs": s.metrics.blocking_pairs if s.metrics else None,
           "verified": bool(s.verification and s.verification.ok),
           **parse_time_log(Path(time_log).read_text()), **provenance()}
    if date:  # a run recorded later than it ran: its own date and commit
        rec["date"] = date
    if git:
        rec["git"] = git
    with open(HERE / "policies" / "scale.jsonl", "a") as f:
        f.write(json.dumps(rec) + "\n")
    print(json.dumps(rec, indent=2))


if __name__ == "__main__":
    main(*sys.argv[1:])
