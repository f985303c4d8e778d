"""Monitoring's cost (issue 31's target: 1,000 partnerships' progress graded in at most 5 s).

    python benchmarks/monitor.py          # appends to monitor.jsonl, prints the records

For each seed, a 1,900 x 560 round (about 1,000 partnerships under the greedy policy) is
solved, and its progress workbook filled with synthetic progress up to month 18 and 36
(``wopmatch template --progress --synthetic``). The figure is the wall time of
``wopmatch monitor ROUND SOLUTION PROGRESS -o report.html -o figures.csv``, as a user waits
for it (start-up, reading the round, re-verifying the solution, reading the workbook,
grading, writing): the fastest of REPEATS runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
WOPMATCH = str(Path(sys.executable).parent / "wopmatch")
REPEATS = 3
SEEDS = (1, 2, 3)
SIZE = (1900, 560)
MONTHS = (18, 36)
TARGET = 5.0


def main() -> None:
    import wopmatch as wm
    from wopmatch.bench.runner import provenance

    records = []
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        for seed in SEEDS:
            round_ = wm.generate(*SIZE, donors=5, seed=seed)
            solution = wm.solve(round_, policy="greedy")
            wm.write(round_, t / "round.json")
            wm.write(solution, t / "solution.json")
            for month in MONTHS:
                wm.write_progress_template(solution, t / "progress.xlsx", instance=round_, month=month, seed=seed)
                times = []
                for _ in range(REPEATS):
                    t0 = time.perf_counter()
                    subprocess.run([WOPMATCH, "monitor", str(t / "round.json"), str(t / "solution.json"),
                                    str(t / "progress.xlsx"), "-o", str(t / "report.html"), "-o",
                                    str(t / "figures.csv")], check=True, capture_output=True)
                    times.append(time.perf_counter() - t0)
                m = wm.monitor(round_, solution, t / "progress.xlsx")
                rec = {"case": f"{SIZE[0]} x {SIZE[1]}, seed {seed}, month {month}",
                       "partnerships": len(solution.partnerships), "seconds": [round(x, 2) for x in times],
                       "best": round(min(times), 2), "target": f"<= {TARGET}", "met": min(times) <= TARGET,
                       "workbook_bytes": (t / "progress.xlsx").stat().st_size, "counts": m.counts}
                print(json.dumps({k: rec[k] for k in ("case", "partnerships", "best", "met")}), flush=True)
                records.append(rec)
    with open(HERE / "monitor.jsonl", "a") as f:
        for rec in records:
            rec.update(provenance())
            f.write(json.dumps(rec, default=str) + "\n")


if __name__ == "__main__":
    main()
