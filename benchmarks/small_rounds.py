"""The donor engine's direct CP-SAT try on small rounds (tuning.DonorParams.direct_max_mentees),
against the same engine without it, round by round in one process.

    python benchmarks/small_rounds.py            # appends to small_rounds.jsonl, prints a table

Rounds no rule was tuned on: sizes of 40-100 mentees (where the rule applies) and of 126-300
(where it does not: the table's "larger" rows show what it would cost there, run with the
threshold raised), 3 seeds (1 for the larger), both need profiles, the generator's budgets and
half of them. Each round is solved with the rule off, then on; recorded: the wall time of each
solve, every stage's status, and whether the objective is the same (or which is better).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

#: (mentees, mentors, donors, seeds, group)
GROUPS = (((40, 12, 3), (1, 2, 3), "40-60"), ((50, 15, 4), (1, 2, 3), "40-60"), ((60, 18, 3), (1, 2, 3), "40-60"),
          ((60, 20, 5), (1, 2, 3), "40-60"), ((80, 24, 4), (1, 2, 3), "80-100"), ((100, 30, 4), (1, 2, 3), "80-100"),
          ((126, 40, 4), (1,), "larger"), ((200, 60, 5), (1,), "larger"), ((300, 70, 3), (1,), "larger"))


def rounds():
    from wopmatch.generator import generate
    from wopmatch.models import parse_instance

    for (n, m, k), seeds, group in GROUPS:
        for seed in seeds:
            for needs in ("legacy", "priorities"):
                raw = generate(n, m, donors=k, seed=seed, needs=needs)
                yield group, f"{n}x{m}x{k} s{seed} {needs}", parse_instance(raw)
                for d in raw["donors"]:
                    d["budget"] //= 2
                yield group, f"{n}x{m}x{k} s{seed} {needs} half budgets", parse_instance(raw)


def main() -> None:
    from wopmatch.bench.runner import provenance
    from wopmatch.solver import SolveOptions, Tuning, solve

    base = Tuning()
    off = replace(base, donors=replace(base.donors, direct_max_mentees=0))
    on = replace(base, donors=replace(base.donors, direct_max_mentees=10**6))  # also where the rule does not apply
    records = []
    for group, name, inst in rounds():
        rec: dict = {"group": group, "round": name}
        objectives = {}
        for label, tuning in (("off", off), ("on", on if group == "larger" else base)):
            t0 = time.perf_counter()
            s = solve(inst, "0" * 64, SolveOptions(policy="optimal"), tuning=tuning)
            rec[f"{label}_seconds"] = round(time.perf_counter() - t0, 2)
            rec[f"{label}_stages"] = "".join(st.status[0] for st in s.stats.stages)
            objectives[label] = (s.objective.coverage, round(s.objective.quality, 6), -s.objective.cost)
        rec["answer"] = "same" if objectives["off"] == objectives["on"] else \
            "better" if objectives["on"] > objectives["off"] else "worse"
        records.append(rec)
        print(json.dumps(rec), flush=True)
    with open(HERE / "small_rounds.jsonl", "a") as f:
        for rec in records:
            f.write(json.dumps({**rec, **provenance()}, default=str) + "\n")
    for group in ("40-60", "80-100", "larger"):
        rows = [r for r in records if r["group"] == group]
        print(f"{group}: {len(rows)} rounds, off {sum(r['off_seconds'] for r in rows):.1f} s, "
              f"on {sum(r['on_seconds'] for r in rows):.1f} s, answers "
              + ", ".join(f"{k} {sum(r['answer'] == k for r in rows)}" for k in ("same", "better", "worse")))


if __name__ == "__main__":
    main()
