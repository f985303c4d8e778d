"""A 40-scenario budget sweep over a 2,000 x 500 round with 5 donors, on the local
process pool and on a 2-worker Dask LocalCluster (issue: donor scenarios, item 6).

    python benchmarks/scenarios.py            # appends to scenarios.jsonl, prints the RESULTS.md rows

Both runs must give the same answer for every scenario (status, objective, bound
and partnerships); the script fails otherwise.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))


def answers(outdir: Path, tasks) -> dict[str, tuple]:
    from wopmatch.models import Solution

    out = {}
    for t in tasks:
        s = Solution.model_validate_json((outdir / "solutions" / f"{t.name}.json").read_bytes())
        out[t.name] = (s.status, s.objective, s.bound, [(p.mentee, p.mentor, p.donor) for p in s.partnerships])
    return out


def main() -> None:
    from wopmatch.bench.runner import provenance
    from wopmatch.generator import generate
    from wopmatch.models import parse_instance
    from wopmatch.models.scenarios import ScenarioSet, budget_grid, grid_scenarios
    from wopmatch.scenarios.runner import build_tasks, run_sweep

    base = parse_instance(generate(2000, 500, 5, seed=1))
    factors = budget_grid("0.05:2.0:0.05")
    assert len(factors) == 40
    tasks = build_tasks(ScenarioSet(base="-", scenarios=grid_scenarios(factors, None)), base)
    record = {"case": "2000x500, 5 donors, seed 1", "scenarios": len(tasks), "method": tasks[0].method,
              "node_limit": tasks[0].node_limit, **provenance()}
    with tempfile.TemporaryDirectory() as tmp:
        runs = {}
        for label, dask in (("local pool, 2 workers", None), ("Dask LocalCluster, 2 workers", "local")):
            t0 = time.perf_counter()
            res = run_sweep(tasks, Path(tmp) / label.split(",")[0].replace(" ", "-"), 2, dask)
            wall = time.perf_counter() - t0
            failed = [n for n, o in res.outcomes.items() if o.error]
            assert not failed, failed
            runs[label] = answers(Path(tmp) / label.split(",")[0].replace(" ", "-"), tasks)
            record[label] = {"seconds": round(wall, 1),
                             "solve_seconds": round(sum(o.seconds for o in res.outcomes.values()), 1)}
            print(f"{label}: {wall:.1f} s", flush=True)
        same = runs["local pool, 2 workers"] == runs["Dask LocalCluster, 2 workers"]
        record["same_answers"] = same
        assert same, "the two executors disagree"
        sols = runs["local pool, 2 workers"]
        record["coverage"] = {t.name: sols[t.name][1].coverage for t in tasks}
    with open(HERE / "scenarios.jsonl", "a") as f:
        f.write(json.dumps(record, default=str) + "\n")
    print(json.dumps(record, indent=2, default=str))


if __name__ == "__main__":
    main()
