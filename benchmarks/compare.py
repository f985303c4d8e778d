"""The same solves on two versions of wopmatch, alternately, in the same session.

    python benchmarks/compare.py --before REV [--reps N] CASE...

CASE is ``MENTEES,MENTORS,DONORS,SEED,POLICY,METHOD[,key=value...]`` (keys:
time_limit, node_limit, uncached=1). REV is checked out into a temporary git
worktree; each case runs in a fresh child process per version (PYTHONPATH points
at the version's tree; both use this environment's packages), the two versions
alternating rep after rep (ABAB, BABA, ...) so that a busy machine slows both
alike. A case's figure is the least solve time over its reps. The objectives of
every run must agree (a refactor changes no answer); when they do not, the row
says so. Results are appended to compare.jsonl (with git shas, versions, machine
and date) and printed as a table.

The child speaks both the current API (``wopmatch.solver.solve`` with
``SolveOptions(policy=...)``) and the one before issue 15's rooms
(``wopmatch.solver.api.solve(instance, sha, policy, options)``), so any commit
since the first plan can be the baseline.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))


def child(path: str, policy: str, method: str, extra: dict[str, str]) -> dict:
    """One solve in this process, with whichever API the wopmatch on sys.path has."""
    from unittest import mock

    from wopmatch.models import load_instance

    loaded = load_instance(Path(path))
    time_limit = float(extra["time_limit"]) if "time_limit" in extra else None
    node_limit = int(extra["node_limit"]) if "node_limit" in extra else None
    uncached = extra.get("uncached") == "1"
    patches = contextlib.ExitStack()
    try:
        from wopmatch.solver import SolveOptions, Tuning, solve

        def run():
            return solve(loaded.instance, loaded.sha256, SolveOptions(policy=policy, method=method,
                                                                      time_limit=time_limit, node_limit=node_limit),
                         tuning=Tuning().uncached() if uncached else Tuning())
    except ImportError:  # the layout before issue 15: flat solver/, module-level tunables
        from wopmatch.solver.api import solve as old_solve
        from wopmatch.solver.policies import SolveOptions as OldOptions

        if uncached:
            patches.enter_context(mock.patch("wopmatch.solver.pricing.PRICING_CACHE_BYTES", 0))
            patches.enter_context(mock.patch("wopmatch.solver.priced.CACHE_BYTES", 0))

        def run():
            return old_solve(loaded.instance, loaded.sha256, policy,
                             OldOptions(method=method, time_limit=time_limit, node_limit=node_limit))
    with patches:
        t0 = time.perf_counter()
        s = run()
        total = time.perf_counter() - t0
    return {"status": s.status, "objective": None if s.objective is None else s.objective.model_dump(),
            "bound": s.bound.model_dump(), "method": s.stats.method, "solve": s.stats.solve_seconds,
            "total": round(total, 3), "verified": bool(s.verification and s.verification.ok),
            "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def instance_file(spec: list[str], folder: Path) -> Path:
    from wopmatch.generator import generate, to_json_bytes

    n, m, d, seed = (int(x) for x in spec[:4])
    path = folder / f"{n}x{m}x{d}s{seed}.json"
    if not path.exists():
        path.write_bytes(to_json_bytes(generate(n, m, d, seed=seed)))
    return path


def run_one(tree: Path, path: Path, policy: str, method: str, extra: dict[str, str]) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps([str(path), policy, method, extra])],
                          capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", help="the baseline commit")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--instances", default=str(Path(tempfile.gettempdir()) / "wopmatch-compare"),
                    help="folder for the generated instances (kept between runs)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("cases", nargs="*")
    args = ap.parse_args()
    if args.child:
        path, policy, method, extra = json.loads(args.child)
        print(json.dumps(child(path, policy, method, extra)))
        return
    import report

    folder = Path(args.instances)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        before_tree = Path(tmp) / "before"
        git("worktree", "add", "--detach", str(before_tree), args.before)
        try:
            trees = {"before": before_tree, "after": ROOT}
            for case in args.cases:
                spec = case.split(",")
                extra = dict(kv.split("=", 1) for kv in spec[6:])
                path = instance_file(spec, folder)
                runs: dict[str, list[dict]] = {"before": [], "after": []}
                for rep in range(args.reps):
                    for side in ("before", "after") if rep % 2 == 0 else ("after", "before"):
                        runs[side].append(run_one(trees[side], path, spec[4], spec[5], extra))
                rec = _record(case, runs, git("rev-parse", "--short", args.before), git("rev-parse", "--short",
                                                                                          "HEAD"))
                rec.update(report.provenance())
                with (HERE / "compare.jsonl").open("a") as fh:
                    fh.write(json.dumps(rec) + "\n")
                print(_line(rec), flush=True)
        finally:
            git("worktree", "remove", "--force", str(before_tree))


def _record(case: str, runs: dict[str, list[dict]], before: str, after: str) -> dict:
    def least(side: str, key: str):
        values = [r[key] for r in runs[side] if key in r]
        return min(values) if values else None

    objectives = [json.dumps(r.get("objective"), sort_keys=True) for side in runs for r in runs[side]]
    return {"case": case, "before_git": before, "after_git": after, "reps": len(runs["before"]),
            "same_objective": len(set(objectives)) == 1 and "error" not in objectives[0],
            "objective": runs["after"][0].get("objective"),
            "before": {"solve": least("before", "solve"), "total": least("before", "total"),
                       "peak_mib": least("before", "peak_mib"), "method": runs["before"][0].get("method"),
                       "errors": [r["error"] for r in runs["before"] if "error" in r]},
            "after": {"solve": least("after", "solve"), "total": least("after", "total"),
                      "peak_mib": least("after", "peak_mib"), "method": runs["after"][0].get("method"),
                      "errors": [r["error"] for r in runs["after"] if "error" in r]}}


def _line(rec: dict) -> str:
    b, a = rec["before"], rec["after"]
    ratio = f"x{a['solve'] / b['solve']:.3f}" if a["solve"] and b["solve"] else "-"
    return (f"{rec['case']}: {'same objective' if rec['same_objective'] else 'OBJECTIVES DIFFER'}; solve "
            f"{b['solve']} -> {a['solve']} s ({ratio}); peak {b['peak_mib']} -> {a['peak_mib']} MiB"
            + (f"; errors {b['errors'] + a['errors']}" if b["errors"] or a["errors"] else ""))


if __name__ == "__main__":
    main()
