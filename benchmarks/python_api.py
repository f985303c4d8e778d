"""The Python API against the command line (issue 20's target): every policy on a
2,000 x 500 budget-free round, compared from Python (``wm.compare``) and as seven
``wopmatch solve`` runs, measured back to back in this run, REPEATS times each.

    python benchmarks/python_api.py       # appends to python_api.jsonl, prints the record

The Python figure is ``compare``'s wall time in this process (the round generated in
memory beforehand, as a notebook holds it); the command line's is the sum of the seven
commands' wall times (start-up, reading and writing included, as a user waits for
them). Target: Python at most 1.2 times the command line.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
WOPMATCH = [str(Path(sys.executable).parent / "wopmatch")]
REPEATS = 3


def main() -> None:
    import wopmatch as wm
    from wopmatch.bench.runner import provenance

    round_ = wm.generate(2000, 500, seed=1)
    py, cli = [], []
    with tempfile.TemporaryDirectory() as tmp:
        path = wm.write(round_, Path(tmp) / "round.json")
        wm.compare(round_, ["greedy"])  # the first solve pays for the imports and the compiled kernels
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            comparison = wm.compare(round_)
            py.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            for policy in wm.POLICY_NAMES:
                subprocess.run(WOPMATCH + ["solve", str(path), "--policy", policy, "-o", str(Path(tmp) / "s.json"),
                                           "--quiet"], check=True, stdout=subprocess.DEVNULL)
            cli.append(time.perf_counter() - t0)
    ratio = statistics.median(py) / statistics.median(cli)
    rec = {"case": "7 policies, 2,000 x 500, no donors, seed 1", "python_seconds": [round(x, 2) for x in py],
           "cli_seconds": [round(x, 2) for x in cli], "ratio": round(ratio, 3), "target": "<= 1.2",
           "met": ratio <= 1.2, "statuses": {k: s.status for k, s in comparison.solutions.items()},
           **provenance()}
    with open(HERE / "python_api.jsonl", "a") as f:
        f.write(json.dumps(rec, default=str) + "\n")
    print(json.dumps(rec, indent=2, default=str))


if __name__ == "__main__":
    main()
