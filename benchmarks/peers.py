"""wopmatch against its peers, on the same generated instances, in the same run.

    python benchmarks/peers.py                    # every case in peers.json
    python benchmarks/peers.py --only 2000x500    # cases whose name contains this

For each case the instance is generated once (donor budgets sized as a share of
the cost of the budget-free optimum, so that they bind at every size) and every
solver runs on that file in its own child process, so each peak memory is its
own:

- wopmatch: the library call behind `wopmatch solve`, end to end (load, encode,
  solve, prove, verify, write), with the case's time limit when it has donors;
- min-cost-flow: one bare OR-Tools SimpleMinCostFlow call on the same candidate
  graph with the combined coverage-then-quality costs (the budget-free optimum
  of stages 1-2; with donors it ignores the budgets, so it is a bound, not an
  answer); only the solve call is timed;
- scipy-lsa: scipy.optimize.linear_sum_assignment on a dense mentees x
  mentor-slots matrix of the same combined costs (budget-free cases only);
- cp-sat and highs: direct models of the whole problem (benchmarks/direct.py),
  stage by stage within the same time limit, model building included.

A solver is skipped, with the reason recorded, where it cannot model the case or
its model would not fit (thresholds below). A child that overruns its limit by
more than GRACE seconds is killed and recorded as such. Results are appended to
peers.jsonl; RESULTS.md and peers.png are regenerated from the latest run of
each (case, solver).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

SOLVERS = ("wopmatch", "min-cost-flow", "scipy-lsa", "cp-sat", "highs")
#: Direct models above this many variables are not built (CP-SAT and MathOpt
#: build them term by term in Python: minutes and gigabytes before any search).
DIRECT_MAX_VARIABLES = 3_000_000
#: The dense assignment matrix for scipy above this many entries is not built.
LSA_MAX_ENTRIES = 30_000_000
#: The bare flow above this many arcs is not built (OR-Tools keeps ~40 bytes per arc).
FLOW_MAX_ARCS = 200_000_000
#: Seconds a peer may run past its time limit (model building included) before it is killed.
GRACE = 240


# --- children ----------------------------------------------------------------------------------

def _peak_mib() -> float:
    return round(max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                     resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024, 1)


def _graph(path: str):
    from wopmatch.models import load_instance
    from wopmatch.solver.graph.encoding import build_graph

    return build_graph(load_instance(Path(path)).instance)


def _objective(g, pairs) -> dict:
    import numpy as np

    pairs = np.asarray(pairs, np.int64)
    w = g.mentee_weight[g.pair_mentee[pairs]]
    return {"coverage": round(float(w.sum()), 6), "quality": round(float((w * g.score[pairs]).sum()), 6)}


def child_wopmatch(path: str, case: dict) -> dict:
    from wopmatch.models import load_instance, solution_bytes, write_atomic
    from wopmatch.solver import SolveOptions, solve

    t0 = time.perf_counter()
    loaded = load_instance(Path(path))
    s = solve(loaded.instance, loaded.sha256,
              SolveOptions(time_limit=case.get("limit") if case["donors"] else None, seed=case["seed"]))
    with tempfile.TemporaryDirectory() as tmp:
        write_atomic(Path(tmp) / "solution.json", solution_bytes(s))
    total = time.perf_counter() - t0
    return {"status": s.status, "seconds": round(total, 3), "solve_seconds": s.stats.solve_seconds,
            "coverage": s.objective.coverage if s.objective else None,
            "quality": s.objective.quality if s.objective else None,
            "coverage_bound": s.bound.coverage, "gap": s.gap.coverage, "candidates": s.stats.candidates,
            "method": s.stats.method, "verified": bool(s.verification and s.verification.ok),
            "message": s.message}


def child_min_cost_flow(path: str, case: dict) -> dict:
    import numpy as np
    from ortools.graph.python import min_cost_flow

    from wopmatch.solver.network.flow import combined_costs, network

    g = _graph(path)
    net = network(g)
    cost = combined_costs(g, net)
    t0 = time.perf_counter()
    smcf = min_cost_flow.SimpleMinCostFlow()
    smcf.add_arcs_with_capacity_and_unit_cost(net.tail, net.head, net.upper, cost)
    smcf.set_nodes_supplies(np.arange(net.n_nodes), net.supply)
    status = smcf.solve()
    seconds = time.perf_counter() - t0
    flows = smcf.flows(np.arange(len(net.tail)))
    chosen = np.flatnonzero(flows[net.pair] > 0)
    note = "budgets ignored: a bound, not a feasible answer" if case["donors"] else None
    return {"status": "optimal" if status == smcf.OPTIMAL else f"status {status}", "seconds": round(seconds, 4),
            **_objective(g, chosen), "note": note}


def child_scipy_lsa(path: str, case: dict) -> dict:
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    from wopmatch.solver.network.flow import combined_costs, network

    g = _graph(path)
    net = network(g)
    cost = combined_costs(g, net)
    free = np.flatnonzero(g.free_mentee)  # the first arcs of the network: S -> each free mentee
    # Rows: free mentees. Columns: one per unit of mentor capacity. Entry: the
    # combined value of the pair (0 where not eligible: "left unmatched").
    value = -(cost[: len(free)][np.searchsorted(free, g.pair_mentee)] + cost[net.pair]).astype(np.float64)
    slots = np.repeat(np.arange(g.n_mentors), g.capacity)
    first_slot = np.concatenate([[0], np.cumsum(g.capacity)[:-1]])
    row_of = np.full(g.n_mentees, -1)
    row_of[free] = np.arange(len(free))
    t_build = time.perf_counter()
    matrix = np.zeros((len(free), len(slots)))
    for k in range(int(g.capacity.max(initial=0))):
        has = g.capacity[g.pair_mentor] > k
        matrix[row_of[g.pair_mentee[has]], first_slot[g.pair_mentor[has]] + k] = value[has]
    build = time.perf_counter() - t_build
    t0 = time.perf_counter()
    rows, cols = linear_sum_assignment(matrix, maximize=True)
    seconds = time.perf_counter() - t0
    used = matrix[rows, cols] > 0
    mentor = slots[cols[used]]
    mentee = free[rows[used]]
    key = {(int(i), int(j)): e for e, (i, j) in enumerate(zip(g.pair_mentee.tolist(), g.pair_mentor.tolist(),
                                                                 strict=True))}
    chosen = [key[(int(i), int(j))] for i, j in zip(mentee, mentor, strict=True)]
    return {"status": "optimal", "seconds": round(seconds, 4), "build_seconds": round(build, 3),
            **_objective(g, chosen)}


def _child_direct(path: str, case: dict, which: str) -> dict:
    import direct

    g = _graph(path)
    limit = float(case.get("limit") or 60)
    t0 = time.perf_counter()
    res = direct.cp_sat(g, limit) if which == "cp-sat" else direct.highs(g, limit)
    seconds = time.perf_counter() - t0
    cov = None if res.coverage_units is None else res.coverage_units * 1e-6
    bound = None if res.coverage_bound_units is None else res.coverage_bound_units * 1e-6
    out = {"status": "optimal" if res.stages_proven == 3 else ("feasible" if len(res.pairs) or cov else "no answer"),
           "seconds": round(seconds, 3), "build_seconds": round(res.build_seconds, 3),
           "stages_proven": res.stages_proven, "coverage_bound": None if bound is None else round(bound, 6),
           "gap": None if not bound or cov is None else round(max(0.0, (bound - cov) / bound), 6)}
    if cov is not None:
        out.update(_objective(g, res.pairs))
    return out


def run_child(solver: str, path: str, case: dict) -> dict:
    if solver == "wopmatch":
        rec = child_wopmatch(path, case)
    elif solver == "min-cost-flow":
        rec = child_min_cost_flow(path, case)
    elif solver == "scipy-lsa":
        rec = child_scipy_lsa(path, case)
    else:
        rec = _child_direct(path, case, solver)
    rec["peak_mib"] = _peak_mib()
    return rec


# --- parent ------------------------------------------------------------------------------------

def make_instance(case: dict, path: Path) -> dict:
    """Generate the case; with donors, scale the generated budgets (keeping their
    shares) so that together they cover ``budget_share`` of the cost of the
    budget-free optimum."""
    from wopmatch.generator import generate, to_json_bytes

    raw = generate(case["mentees"], case["mentors"], case["donors"], seed=case["seed"])
    info = {}
    if case["donors"]:
        from wopmatch.models import parse_instance
        from wopmatch.solver import solve

        free = solve(parse_instance({**raw, "donors": []}), "0" * 64)
        total = sum(d["budget"] for d in raw["donors"])
        target = case["budget_share"] * free.objective.cost
        for d in raw["donors"]:
            d["budget"] = max(1000, int(target * d["budget"] / total) // 1000 * 1000)
        info = {"budget_free_cost": free.objective.cost, "budget_total": sum(d["budget"] for d in raw["donors"])}
    path.write_bytes(to_json_bytes(raw))
    return info


def skip_reason(solver: str, case: dict, candidates: int | None, fundable: int | None) -> str | None:
    pairs = case["mentees"] * case["mentors"]
    if solver == "scipy-lsa":
        if case["donors"]:
            return "cannot model donor budgets"
        slots = case["mentors"] * 3  # mean capacity of the generator
        if case["mentees"] * slots > LSA_MAX_ENTRIES:
            return f"dense matrix of ~{case['mentees'] * slots:,} entries (over {LSA_MAX_ENTRIES:,})"
    if solver == "min-cost-flow":
        arcs = candidates if candidates is not None else pairs
        if arcs > FLOW_MAX_ARCS:
            return f"{arcs:,} arcs (over {FLOW_MAX_ARCS:,}): the full graph does not fit in memory"
    if solver in ("cp-sat", "highs"):
        n = fundable if fundable is not None else (candidates if candidates is not None else pairs)
        if n > DIRECT_MAX_VARIABLES:
            return f"{n:,} variables (over {DIRECT_MAX_VARIABLES:,}): the model does not build within the limit"
    return None


def count_variables(path: Path) -> tuple[int, int]:
    g = _graph(str(path))
    return g.n_candidates, int(g.fundable.sum()) if g.has_donors else g.n_candidates


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(HERE / "peers.json"))
    ap.add_argument("--only", default=None)
    ap.add_argument("--solvers", default=",".join(SOLVERS))
    ap.add_argument("--child", nargs=3, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        solver, path, case = args.child
        print(json.dumps(run_child(solver, path, json.loads(case))))
        return
    import report

    cases = json.loads(Path(args.config).read_text())["cases"]
    wanted = args.solvers.split(",")
    out = HERE / "peers.jsonl"
    for case in cases:
        if args.only and args.only not in case["name"]:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "instance.json"
            print(f"{case['name']}: generating ...", flush=True)
            info = make_instance(case, path)
            small = case["mentees"] * case["mentors"] <= 10**8
            candidates, fundable = count_variables(path) if small else (None, None)
            for solver in wanted:
                rec = {"case": case["name"], "solver": solver, "params": case, **info,
                       "size": case["mentees"] * case["mentors"]}
                reason = skip_reason(solver, case, candidates, fundable)
                if reason:
                    rec.update(status="skipped", reason=reason)
                else:
                    print(f"  {solver} ...", flush=True)
                    limit = None if solver in ("wopmatch", "min-cost-flow", "scipy-lsa") and not case["donors"] \
                        else (case.get("limit") or 60) + GRACE
                    t0 = time.perf_counter()
                    try:
                        cmd = [sys.executable, __file__, "--child", solver, str(path), json.dumps(case)]
                        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limit)
                        if proc.returncode == 0:
                            rec.update(json.loads(proc.stdout.strip().splitlines()[-1]))
                        else:
                            rec.update(status="error", reason=proc.stderr.strip().splitlines()[-1][:300]
                                       if proc.stderr.strip() else f"exit {proc.returncode}")
                    except subprocess.TimeoutExpired:
                        rec.update(status="killed", seconds=round(time.perf_counter() - t0, 1),
                                   reason=f"still running {limit} s after it started (limit + {GRACE} s)")
                rec.update(report.provenance())
                with out.open("a") as fh:
                    fh.write(json.dumps(rec) + "\n")
                print(f"    {rec['status']} {rec.get('seconds', '')} s {rec.get('reason', '')}", flush=True)
    report.write()


if __name__ == "__main__":
    main()
