"""Stated interests' cost (issue 30's target: a 2,000 x 500 round whose operators state 5
interests each costs at most 1.2 times the same round without them).

    python benchmarks/interests.py            # appends to interests.jsonl, prints the records

For each seed and policy, ``wopmatch.solve`` of the round's file with and without the
interests (``generate(..., interests=5)``: the same round otherwise, docs/generator.md),
back to back in this process, ``REPEATS`` times each after one warm-up solve; the
ratio is of the fastest of each (the machine is shared: the fastest is the least
disturbed). The cycle collector runs before each solve, so neither arm pays for the other's
garbage; collections during a solve are timed. Loading and verifying are included, as a user of the Python API waits for them.
"""

from __future__ import annotations

import gc
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

REPEATS = 7
SEEDS = (1, 2, 3)
SIZE = (2000, 500)
INTERESTS = 5
POLICIES = ("optimal", "greedy", "stable", "random", "min-cost", "max-min", "regional-equity")
TARGET = 1.2


def main() -> None:
    import wopmatch as wm
    from wopmatch.bench.runner import provenance
    from wopmatch.generator import generate, to_json_bytes

    records = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in SEEDS:
            paths = {}
            for k in (0, INTERESTS):
                paths[k] = Path(tmp) / f"r{seed}-{k}.json"
                paths[k].write_bytes(to_json_bytes(generate(*SIZE, seed=seed, interests=k)))
            wm.solve(paths[0], policy="greedy")  # imports and compiled code loaded once
            for policy in POLICIES:
                times: dict[int, list[float]] = {0: [], INTERESTS: []}
                answers = {}
                for _ in range(REPEATS):
                    for k in times:
                        gc.collect()  # each solve starts from a swept heap, not with the other arm's garbage
                        t0 = time.perf_counter()
                        s = wm.solve(paths[k], policy=policy)
                        times[k].append(time.perf_counter() - t0)
                        answers[k] = s
                ratio = min(times[INTERESTS]) / min(times[0])
                wishes = answers[INTERESTS].metrics.wishes
                rec = {"case": f"{SIZE[0]} x {SIZE[1]}, seed {seed}, {policy}", "interests": INTERESTS,
                       "plain_seconds": [round(x, 3) for x in times[0]],
                       "interests_seconds": [round(x, 3) for x in times[INTERESTS]],
                       "ratio": round(ratio, 2), "target": f"<= {TARGET}", "met": ratio <= TARGET,
                       "coverage": [answers[k].objective.coverage for k in times],
                       "first_choices_met": wishes["mentees"].first_choice, "wishes_met": wishes["mentees"].met,
                       "wishes_stated": wishes["mentees"].stated}
                print(json.dumps({k: rec[k] for k in ("case", "ratio", "met")}), flush=True)
                records.append(rec)
    with open(HERE / "interests.jsonl", "a") as f:
        for rec in records:
            rec.update(provenance())
            f.write(json.dumps(rec, default=str) + "\n")


if __name__ == "__main__":
    main()
