"""Donor rounds (issue 16's table): what a default solve gives, stage by stage.

    python benchmarks/donors.py [--policy P] [--method M] [--time-limit S] [--together] [--flow-baseline] CASE...

CASE is ``MENTEES,MENTORS,DONORS,SEED`` (generator budgets). Each case runs in a
fresh child process; ``--together`` starts two children at once on the same case
and records whether their partnerships are identical (the answer must not depend
on how busy the machine is); ``--flow-baseline`` also solves the round without its
donors (one budget-free flow) and records the ratio of the wall times. Appends to
donors.jsonl: status, each stage's value, bound and gap, solve seconds, peak memory,
method, with machine and versions.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def child(case: str, method: str, time_limit: float | None, without_donors: bool = False,
          policy: str = "optimal", needs: str = "legacy") -> dict:
    from wopmatch.generator import generate
    from wopmatch.models.io import parse_instance
    from wopmatch.solver import SolveOptions, solve

    n, m, k, seed = (int(x) for x in case.split(","))
    raw = generate(n, m, donors=k, seed=seed, needs=needs)
    if without_donors:  # the same round, budget-free: the baseline of issue 16's scale target
        raw = {key: value for key, value in raw.items() if key != "donors"}
    inst = parse_instance(raw)
    t0 = time.perf_counter()
    s = solve(inst, "0" * 64, SolveOptions(policy=policy, method=method, time_limit=time_limit))
    wall = time.perf_counter() - t0
    stages = [{"name": st.name, "status": st.status, "value": st.value, "bound": st.bound,
               "gap": _gap(st.name, st.value, st.bound)} for st in s.stats.stages]
    return {"status": s.status, "solve": round(s.stats.solve_seconds, 3), "wall": round(wall, 3),
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, "method": s.stats.method,
            "coverage": s.objective.coverage if s.objective else None,
            "bound_coverage": s.bound.coverage if s.bound else None, "stages": stages,
            "partnerships": [(p.mentee, p.mentor, p.donor) for p in s.partnerships],
            "verified": bool(s.verification and s.verification.ok), "message": s.message}


def _gap(name: str, value, bound):
    if value is None or bound is None:
        return None
    if name == "cost":  # minimised: bound below value
        return round((value - bound) / value, 6) if value else 0.0
    return round((bound - value) / bound, 6) if bound else 0.0


def _run(case: str, method: str, time_limit: float | None, copies: int, without_donors: bool = False,
         policy: str = "optimal", needs: str = "legacy") -> list[dict]:
    cmd = [sys.executable, __file__, "--child", case, "--method", method, "--policy", policy, "--needs", needs]
    if without_donors:
        cmd.append("--without-donors")
    if time_limit is not None:
        cmd += ["--time-limit", str(time_limit)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(copies)]
    outs = []
    for p in procs:
        out, _ = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"{case}: the child failed (exit {p.returncode})")
        outs.append(json.loads(out))
    return outs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("cases", nargs="+")
    ap.add_argument("--method", default="auto")
    ap.add_argument("--policy", default="optimal")
    ap.add_argument("--time-limit", type=float, default=None)
    ap.add_argument("--together", action="store_true")
    ap.add_argument("--flow-baseline", action="store_true",
                    help="also solve each round without its donors (one budget-free flow) and record the ratio")
    ap.add_argument("--child", action="store_true")
    ap.add_argument("--without-donors", action="store_true")
    ap.add_argument("--needs", choices=["legacy", "priorities"], default="legacy",
                    help="the generator's mentee profile: legacy (the rounds of the committed results) or priorities")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.cases[0], args.method, args.time_limit, args.without_donors, args.policy,
                               args.needs)))
        return
    from report import provenance

    for case in args.cases:
        outs = _run(case, args.method, args.time_limit, 2 if args.together else 1, policy=args.policy,
                    needs=args.needs)
        rec = {"case": case if args.needs == "legacy" else f"{case} ({args.needs})", "needs": args.needs,
               "policy": args.policy, "method_asked": args.method, "time_limit": args.time_limit,
               **outs[0]}
        rec.pop("partnerships")
        if args.flow_baseline:
            flow = _run(case, "auto", None, 1, without_donors=True, needs=args.needs)[0]
            rec["flow_baseline"] = {"wall": flow["wall"], "method": flow["method"], "peak_mib": flow["peak_mib"],
                                    "ratio": round(rec["wall"] / flow["wall"], 2)}
        if args.together:
            rec["together"] = {"identical": outs[0]["partnerships"] == outs[1]["partnerships"] and
                               outs[0]["stages"] == outs[1]["stages"], "solve": [o["solve"] for o in outs]}
        rec.update(provenance())
        with open(HERE / "donors.jsonl", "a") as f:
            f.write(json.dumps(rec) + "\n")
        gaps = ", ".join(f"{s['name']} {s['status']} gap {s['gap']}" for s in rec["stages"])
        print(f"{case} [{args.policy}, {args.method}]: {rec['status']} in {rec['solve']} s; {gaps}; "
              f"peak {rec['peak_mib']} MiB"
              + (f"; together identical: {rec['together']['identical']}" if args.together else "")
              + (f"; {rec['flow_baseline']['ratio']}x the budget-free flow" if args.flow_baseline else ""), flush=True)


if __name__ == "__main__":
    main()
