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

import numpy as np
from ortools.sat.python import cp_model

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wopmatch.generator import generate  # noqa: E402
from wopmatch.models import parse_instance  # noqa: E402
from wopmatch.solver.encoding import NO_LIMIT, build_graph  # noqa: E402
from wopmatch.solver.flow import quality_units  # noqa: E402
from wopmatch.solver.greedy import greedy_assignment  # noqa: E402
from wopmatch.solver.mip import solve_staged_mip  # noqa: E402


def cp_sat_staged(g, limit: float, workers: int):
    var_pair, var_donor = np.nonzero(g.fundable)
    w = g.mentee_weight_units[g.pair_mentee[var_pair]].tolist()
    q = quality_units(g)[var_pair].tolist()
    c = g.cost[var_pair].tolist()
    m = cp_model.CpModel()
    x = [m.new_bool_var("") for _ in range(len(var_pair))]
    by_mentee: dict[int, list] = {}
    by_mentor: dict[int, list] = {}
    by_donor: dict[int, list] = {}
    for v, (e, d) in enumerate(zip(var_pair.tolist(), var_donor.tolist(), strict=True)):
        by_mentee.setdefault(int(g.pair_mentee[e]), []).append(x[v])
        by_mentor.setdefault(int(g.pair_mentor[e]), []).append(x[v])
        by_donor.setdefault(d, []).append(v)
    for lits in by_mentee.values():
        m.add_at_most_one(lits)
    for j, lits in by_mentor.items():
        m.add(sum(lits) <= int(g.capacity[j]))
    for d, vs in by_donor.items():
        m.add(cp_model.LinearExpr.weighted_sum([x[v] for v in vs], [c[v] for v in vs]) <= int(g.budget[d]))
        if g.max_count[d] < NO_LIMIT:
            m.add(sum(x[v] for v in vs) <= int(g.max_count[d]))
    pairs, donors = greedy_assignment(g)
    start = set(zip(pairs.tolist(), donors.tolist(), strict=True))
    for v, key in enumerate(zip(var_pair.tolist(), var_donor.tolist(), strict=True)):
        m.add_hint(x[v], key in start)
    deadline = time.perf_counter() + limit
    proven = 0
    value = None
    cover = None
    for coefs, maximise in ((w, True), (q, True), (c, False)):
        expr = cp_model.LinearExpr.weighted_sum(x, coefs)
        (m.maximize if maximise else m.minimize)(expr)
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = workers
        solver.parameters.max_time_in_seconds = max(0.01, deadline - time.perf_counter())
        status = solver.solve(m)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            break
        value = int(solver.objective_value)
        if cover is None:
            cover = value
        # reaching a gap limit also reports OPTIMAL: check the bound itself
        if status != cp_model.OPTIMAL or abs(solver.best_objective_bound - value) >= 1:
            break
        proven += 1
        m.add(expr >= value) if maximise else m.add(expr <= value)
        m.clear_hints()
        for v in range(len(x)):
            m.add_hint(x[v], bool(solver.value(x[v])))
    return proven, cover


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=float, default=60.0)
    args = ap.parse_args()
    for n, mm, k in ((200, 60, 3), (300, 70, 3)):
        g = build_graph(parse_instance(generate(n, mm, donors=k, seed=1)))
        t = time.perf_counter()
        p, d = greedy_assignment(g)
        res = solve_staged_mip(g, p, d, args.limit, 1, 0)
        highs = time.perf_counter() - t
        proven = sum(s.status == "optimal" for s in res.stages)
        print(f"{n}x{mm} {k} donors  HiGHS staged MIP: {highs:6.1f} s, {proven}/3 stages proven, "
              f"coverage units {res.stages[0].value}", flush=True)
        t = time.perf_counter()
        proven, cover = cp_sat_staged(g, args.limit, workers=2)
        print(f"{n}x{mm} {k} donors  CP-SAT (2 workers): {time.perf_counter() - t:6.1f} s, {proven}/3 stages "
              f"proven, coverage units {cover}", flush=True)


if __name__ == "__main__":
    main()
