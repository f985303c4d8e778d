"""Why the donor case uses a staged HiGHS MIP: the same staged model in CP-SAT.

    python benchmarks/choose_mip.py [--limit 60]

For each generated instance, both solvers run the three lexicographic stages on
the same candidate graph and the same integer objective units, each stage given
what is left of the limit. Prints one line per solver: seconds, stages proven,
and the coverage reached. Results recorded in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import direct  # noqa: E402

from wopmatch.generator import generate  # noqa: E402
from wopmatch.models import parse_instance  # noqa: E402
from wopmatch.solver.budgets.highs import HighsRun  # noqa: E402
from wopmatch.solver.budgets.mip import solve_staged_mip  # noqa: E402
from wopmatch.solver.graph.encoding import build_graph  # noqa: E402
from wopmatch.solver.heuristics.greedy import greedy_assignment  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=float, default=60.0)
    args = ap.parse_args()
    for n, mm, k in ((200, 60, 3), (300, 70, 3)):
        g = build_graph(parse_instance(generate(n, mm, donors=k, seed=1)))
        t = time.perf_counter()
        p, d = greedy_assignment(g)
        res = solve_staged_mip(g, p, d, args.limit, HighsRun())
        highs = time.perf_counter() - t
        proven = sum(s.status == "optimal" for s in res.stages)
        print(f"{n}x{mm} {k} donors  HiGHS staged MIP: {highs:6.1f} s, {proven}/3 stages proven, "
              f"coverage units {res.stages[0].value}", flush=True)
        t = time.perf_counter()
        res = direct.cp_sat(g, args.limit, workers=2)
        proven, cover = res.stages_proven, res.coverage_units
        print(f"{n}x{mm} {k} donors  CP-SAT (2 workers): {time.perf_counter() - t:6.1f} s, {proven}/3 stages "
              f"proven, coverage units {cover}", flush=True)


if __name__ == "__main__":
    main()
