"""End-to-end benchmark of `wopmatch solve` (load, encode, solve, verify, write).

    python benchmarks/run.py                 # all cases in config.json
    python benchmarks/run.py --only 200x60   # cases whose name contains this

Each case runs in a fresh child process so that peak memory (ru_maxrss) is the
case's own. In the same child, a baseline is timed on the same candidate graph:
one bare OR-Tools SimpleMinCostFlow call (the coverage stage alone); the report
gives our solve time as a ratio to it, which is steadier across shared machines
than seconds. Results are appended to results.jsonl (one JSON line per run,
with git sha, versions, machine and date) and RESULTS.md is regenerated.
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


def run_case(case: dict) -> dict:
    """Runs in the child process."""
    from wopmatch.generator import generate, to_json_bytes
    from wopmatch.models import load_instance, solution_bytes, write_atomic
    from wopmatch.solver import SolveOptions, solve
    from wopmatch.solver.graph.encoding import build_graph

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "instance.json"
        src.write_bytes(to_json_bytes(generate(case["mentees"], case["mentors"], case["donors"], seed=case["seed"],
                                               tightness=case.get("tightness", 0.4))))
        t0 = time.perf_counter()
        loaded = load_instance(src)
        t_load = time.perf_counter() - t0
        solution = solve(loaded.instance, loaded.sha256, SolveOptions(policy=case.get("policy", "optimal"),
                                                                      time_limit=case.get("time_limit"),
                                                                      seed=case["seed"]))
        t1 = time.perf_counter()
        write_atomic(Path(tmp) / "solution.json", solution_bytes(solution))
        t_write = time.perf_counter() - t1
        total = time.perf_counter() - t0

        # Baseline: one bare min-cost-flow call on the full candidate graph, where
        # one fits in memory (flow-pricing cases never build it).
        if solution.stats.working_set is not None:
            baseline = None
        else:
            baseline = _bare_flow(build_graph(loaded.instance))
    return _record(case, solution, total, t_load, t_write, baseline)


def _bare_flow(g) -> float:
    """Seconds of one SimpleMinCostFlow solve (coverage costs) on the graph."""
    import numpy as np
    from ortools.graph.python import min_cost_flow

    from wopmatch.solver.network.flow import coverage_cost, network, plain_structure

    net = network(g)
    cost = np.zeros(len(net.upper), np.int64)
    cost[: net.pair.start] = coverage_cost(g, plain_structure(g))
    t0 = time.perf_counter()
    smcf = min_cost_flow.SimpleMinCostFlow()
    smcf.add_arcs_with_capacity_and_unit_cost(net.tail, net.head, net.upper, cost)
    smcf.set_nodes_supplies(np.arange(net.n_nodes), net.supply)
    smcf.solve()
    return time.perf_counter() - t0


def _record(case: dict, s, total: float, t_load: float, t_write: float, baseline) -> dict:
    import numpy as np
    import ortools

    return {
        "case": case["name"],
        "params": case,
        "status": s.status,
        "objective": None if s.objective is None else s.objective.model_dump(),
        "bound": s.bound.model_dump(),
        "gap": s.gap.model_dump(),
        "verified": bool(s.verification and s.verification.ok),
        "candidates": s.stats.candidates,
        "method": s.stats.method,
        "seconds": {"total": round(total, 3), "load": round(t_load, 3), "build": s.stats.build_seconds,
                    "solve": s.stats.solve_seconds, "verify": s.stats.verify_seconds, "write": round(t_write, 3),
                    "baseline_flow": None if baseline is None else round(baseline, 4)},
        "solve_over_baseline": round(s.stats.solve_seconds / baseline, 2) if baseline else None,
        "working_set": s.stats.working_set,
        # the larger of this process and any solver child it started (time-limited HiGHS)
        "peak_rss_mib": round(max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                                  resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024, 1),
        "ortools": ortools.__version__,
        "numpy": np.__version__,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(HERE / "config.json"))
    ap.add_argument("--only", default=None)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_case(json.loads(args.child))))
        return
    import report

    cases = json.loads(Path(args.config).read_text())["cases"]
    results = HERE / "results.jsonl"
    for case in cases:
        if args.only and args.only not in case["name"]:
            continue
        print(f"running {case['name']} ...", flush=True)
        proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(case)], capture_output=True,
                              text=True)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            continue
        rec = json.loads(proc.stdout.strip().splitlines()[-1])
        rec.update(report.provenance())
        with results.open("a") as fh:
            fh.write(json.dumps(rec) + "\n")
        print(f"  {rec['status']} total {rec['seconds']['total']} s, gap {rec['gap']}, "
              f"peak {rec['peak_rss_mib']} MiB", flush=True)
    report.write()


if __name__ == "__main__":
    main()
