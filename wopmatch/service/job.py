"""One job, run in a process of its own (``python -m wopmatch.service.job``).

The supervisor starts one of these per job, so a solve that crashes or runs
out of memory takes only itself down. It caps its own address space
(RLIMIT_AS) before importing the solver and asks Linux to kill it if its parent
(the API process) dies, so no solve outlives the service that owns it; a HiGHS
child it starts asks the same of it (solver/children.py).

What it writes, always under its lease (store.py): progress, ``best.json``
(a verified solution that is never labelled optimal, for cancel and the time
cap), and at the end ``solution.json`` or, for a scenario set,
``scenarios.json`` and ``solutions/NAME.json``.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import traceback
from pathlib import Path
from typing import Any, Optional

from ..models.io import solution_bytes
from ..models.solution import Solution
from .store import Store


def _cap_memory(mib: int) -> None:
    limit = mib * 1024 * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def summary_of(solution: Any) -> dict[str, Any]:
    """A solution's headline figures, as the web page and the status route show them."""
    mentees = len(solution.partnerships) + len(solution.unmatched)
    obj = solution.objective
    return {
        "status": solution.status, "policy": solution.policy, "message": solution.message,
        "matched": len(solution.partnerships), "mentees": mentees,
        "coverage": None if obj is None else obj.coverage, "quality": None if obj is None else obj.quality,
        "cost": None if obj is None else obj.cost,
        "bound_coverage": solution.bound.coverage, "gap_coverage": solution.gap.coverage,
        "method": solution.stats.method, "solve_seconds": solution.stats.solve_seconds,
        "verified": bool(solution.verification and solution.verification.ok),
    }


class _JobWatch:
    """The solve's phases, proven bounds and greedy start, written to the job's
    progress (the tightest bound wins) and best.json as they come."""

    def __init__(self, store: Store, job_id: str, lease: str) -> None:
        self.store, self.job_id, self.lease = store, job_id, lease
        self.state: dict[str, Any] = {"phase": None, "bound_coverage": None, "best": None}

    def phase(self, phase: str, bound: Optional[float]) -> None:
        self.state["phase"] = phase
        if bound is not None and (self.state["bound_coverage"] is None or bound < self.state["bound_coverage"]):
            self.state["bound_coverage"] = bound
        self.store.progress(self.job_id, self.lease, self.state)

    def incumbent(self, solution: Any) -> None:
        self.store.put_file(self.job_id, self.lease, "best.json", solution_bytes(solution))
        self.state["best"] = {k: v for k, v in summary_of(solution).items()
                              if k in ("coverage", "quality", "cost", "matched")}
        self.store.progress(self.job_id, self.lease, self.state)


def run_solve(store: Store, job_id: str, lease: str, request: dict[str, Any], time_cap: float) -> None:
    from ..api import solve
    from ..models import parse_instance, parse_solution
    from ..models.problems import InputError
    from ..models.status import RoundStatus
    from ..solver import PreviousRound, SolveError, SolveOptions

    raw = store.file(job_id, "input.json")
    assert raw is not None
    instance = parse_instance(json.loads(raw), "instance")
    earlier = store.file(job_id, "previous.json")
    previous = None if earlier is None else \
        PreviousRound.of_bytes(earlier, parse_solution(json.loads(earlier), "previous"))
    agreed = store.file(job_id, "status.json")  # a re-match after answers (routes/agreement.py)
    chosen = {k: request[k] for k in SolveOptions.model_fields if k in request}
    limit = chosen.get("time_limit")
    chosen["time_limit"] = time_cap if limit is None else min(limit, time_cap)  # the cap applies to every job
    try:
        solution = solve(instance, solve_options=SolveOptions(**chosen), sha256=request["instance_sha256"],
                         previous=previous, watch=_JobWatch(store, job_id, lease),
                         agreement=None if agreed is None else RoundStatus.model_validate_json(agreed))
    except (InputError, SolveError) as exc:
        store.finish(job_id, lease, "failed", error=str(exc))
        return
    if solution.verification is None or not solution.verification.ok:
        store.finish(job_id, lease, "failed", error="internal error: the verifier rejected the solution: "
                     + "; ".join((solution.verification.violations if solution.verification else [])[:5]))
        return
    store.finish(job_id, lease, "done", summary=summary_of(solution), files={"solution.json": solution_bytes(solution)})


def run_propose(store: Store, job_id: str, lease: str, request: dict[str, Any], time_cap: float) -> None:
    """A facilitator's proposal on a finished solve (routes/agreement.py): wopmatch.api.propose on the
    job's round and solution; proposal.json, and solution.json when the round was re-solved."""
    import tempfile

    from ..api import propose

    with tempfile.TemporaryDirectory() as tmp:  # the round as a file: its SHA-256 is the one the solution names
        path = Path(tmp) / "input.json"
        path.write_bytes(store.file(job_id, "input.json") or b"")
        given = Solution.model_validate_json(store.file(job_id, "given.json") or b"")
        p = propose(path, given, request["mentee"], request["mentor"], donor=request.get("donor"),
                    time_limit=time_cap)
    files = {"proposal.json": (p.model_dump_json(indent=2) + "\n").encode()}
    if p.solution is not None:
        files["solution.json"] = solution_bytes(p.solution)
    summary = {"outcome": p.outcome, "detail": p.detail, "coverage_change": p.coverage_change,
               "quality_change": p.quality_change, "cost_change": p.cost_change}
    store.finish(job_id, lease, "done", summary=summary, files=files)


def run_scenarios(store: Store, job_id: str, lease: str, request: dict[str, Any]) -> None:
    from ..models import parse_instance
    from ..models.scenarios import parse_scenario_set
    from ..scenarios.report import scenario_rows
    from ..scenarios.runner import build_tasks, run_task

    instance = parse_instance(json.loads(store.file(job_id, "input.json") or b"null"), "instance")
    sset = parse_scenario_set(json.loads(store.file(job_id, "set.json") or b"null"), "set")
    tasks = build_tasks(sset, instance)
    outcomes = {}
    for k, task in enumerate(tasks):
        store.progress(job_id, lease, {"phase": "scenarios", "done": k, "total": len(tasks), "current": task.name})
        outcome = run_task(task)
        outcomes[task.name] = outcome
        if outcome.solution_json is not None:
            store.put_file(job_id, lease, f"solutions/{task.name}.json", outcome.solution_json)
        rows = scenario_rows(tasks[: k + 1], outcomes, sset.scenarios)
        store.put_file(job_id, lease, "scenarios.json", (json.dumps({"rows": rows}, indent=2) + "\n").encode())
    failed = sum(1 for o in outcomes.values() if o.solution_json is None)
    store.finish(job_id, lease, "done", summary={"scenarios": len(tasks), "failed": failed},
                 error=f"{failed} scenario(s) failed" if failed else None)


def main(argv: list[str]) -> int:
    data_dir, job_id, lease, memory_mib, time_cap, parent = argv
    _cap_memory(int(memory_mib))  # before the solver is imported
    from ..solver import die_with_parent  # the supervisor's own checks remain where it is not Linux

    die_with_parent(int(parent))  # exits at once if the API died meanwhile
    store = Store(Path(data_dir))
    job = store.get(job_id)
    if job is None or job.lease != lease or job.state != "running":
        return 0  # re-queued or ended meanwhile: nothing to do
    store.set_pid(job_id, lease, os.getpid())
    try:
        if job.kind == "solve":
            run_solve(store, job_id, lease, job.request, float(time_cap))
        elif job.kind == "propose":
            run_propose(store, job_id, lease, job.request, float(time_cap))
        else:
            run_scenarios(store, job_id, lease, job.request)
    except MemoryError:
        store.finish(job_id, lease, "failed", error=f"the solve reached the memory cap of {memory_mib} MiB")
    except Exception as exc:  # a bug: the job says so, the traceback goes to the service's log
        traceback.print_exc()
        from ..models.problems import InputError

        if isinstance(exc, InputError):
            store.finish(job_id, lease, "failed", error=str(exc))
        else:
            store.finish(job_id, lease, "failed", error=f"internal error: {type(exc).__name__}: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
