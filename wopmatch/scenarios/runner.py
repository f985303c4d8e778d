"""Run a scenario set: every scenario's instance is built and checked up front,
then solved through a ``concurrent.futures``-style executor (a local process pool
by default, a Dask cluster with ``dask=``), one solve per worker, and written as
soon as it finishes.

A scenario's answer must not depend on where or when it ran, so that the same
sweep gives the same table on a laptop and on a cluster:

- no wall-clock limit reaches a solve (a scenario set has no time limit): every
  method is limited by work (the donor engine's own node and round limits, or the
  set's node limit), which is the same on any machine;
- each task carries everything it needs (the scenario's instance as JSON bytes,
  the policy, seed and limits) and returns the solution as JSON bytes: nothing
  is shared between tasks, so a task re-run after a worker died gives the same
  bytes as the first try would have;
- the candidate graph is built inside the task. Re-using the base instance's
  graph across tasks would save 0.2 s of a 10 s solve at 2,000 x 500, and
  starting a scenario from the previous one's solution would make its answer
  depend on which scenario a worker ran before: neither is done.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional

from ..models import Instance
from ..models.io import write_atomic
from ..models.problems import InputError, Problem
from ..models.scenarios import ScenarioSet, apply_changes
from ..solver import (
    METHODS,
    POLICIES,
    SolveError,
    SolveOptions,
    UnknownPolicyError,
    UnsupportedMethodError,
    die_with_parent,
)

#: What a finished sweep writes besides each scenario's files (scenarios/cli.py, report.py).
STALE = ("scenarios.csv", "scenarios.md", "frontier.png", "donors.png")
#: Attempts per scenario in the local pool when a worker process dies under it.
MAX_ATTEMPTS = 3
#: How long a sweep tries to reach a Dask scheduler before it says it cannot.
DASK_CONNECT_SECONDS = 10.0


@dataclass(frozen=True)
class Task:
    """One scenario, self-contained: what a worker needs and nothing else."""

    name: str
    instance_json: bytes
    policy: str
    method: str
    seed: int
    node_limit: Optional[int]
    group_by: str = "region"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.instance_json).hexdigest()

    def options(self) -> SolveOptions:
        return SolveOptions(policy=self.policy, seed=self.seed, method=self.method, node_limit=self.node_limit,
                            group_by=self.group_by)


@dataclass(frozen=True)
class Outcome:
    name: str
    solution_json: Optional[bytes]  # None when the solve failed
    error: Optional[str] = None
    seconds: float = 0.0


def run_task(task: Task) -> Outcome:
    """Solve one scenario (in a worker process): parse, solve with one thread, verify."""
    from ..api import solve
    from ..models import parse_instance

    t0 = time.perf_counter()
    try:
        instance = parse_instance(json.loads(task.instance_json), task.name)
        solution = solve(instance, solve_options=task.options(), sha256=task.sha256)
    except (InputError, SolveError) as exc:
        return Outcome(task.name, None, str(exc), time.perf_counter() - t0)
    return Outcome(task.name, (solution.model_dump_json(indent=2) + "\n").encode(), None, time.perf_counter() - t0)


def build_tasks(sset: ScenarioSet, base: Instance, method: Optional[str] = None,
                node_limit: Optional[int] = None, policy: Optional[str] = None) -> list[Task]:
    """Every scenario's instance, checked; InputError listing every problem of every
    scenario (by ``scenarios[k]`` and field) before anything runs. ``method``,
    ``node_limit`` and ``policy`` override the set's."""
    from ..solver import plan

    problems: list[Problem] = []
    tasks = []
    for k, sc in enumerate(sset.scenarios):
        where = f"scenarios[{k}] ({sc.name})"
        try:
            inst = apply_changes(base, sc, where)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        pol = policy or sc.policy or sset.policy
        how = method or sset.method or "auto"
        try:
            if pol not in POLICIES:
                raise UnknownPolicyError(f"unknown policy {pol!r}; valid policies: {', '.join(POLICIES)}")
            if how not in METHODS:
                raise UnsupportedMethodError(f"unknown method {how!r}; valid methods: {', '.join(METHODS)}")
            plan(inst, SolveOptions(policy=pol, method=how, group_by=sset.group_by))
        except (UnknownPolicyError, UnsupportedMethodError) as exc:
            problems.append(Problem(f"{where}.policy", str(exc)))
            continue
        data = (inst.model_dump_json(indent=2, exclude_none=True) + "\n").encode()
        tasks.append(Task(sc.name, data, pol, how, sset.seed, node_limit or sset.node_limit, sset.group_by))
    if problems:
        raise InputError(problems)
    if not tasks:
        raise InputError([Problem("scenarios", "the set has no scenario (add some, or a grid: --budget-scale)")])
    return tasks


@dataclass
class SweepResult:
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    retried: int = 0  # tasks re-submitted after their worker died
    seconds: float = 0.0
    executor: str = ""


def run_sweep(tasks: list[Task], outdir: Path, workers: int, dask: Optional[str] = None,
              on_done: Optional[Callable[[Outcome], None]] = None,
              more: Optional[Callable[[Outcome], list[Task]]] = None) -> SweepResult:
    """Solve every task; write ``instances/<name>.json`` before and
    ``solutions/<name>.json`` as each finishes (atomically), so an interrupted
    sweep keeps what it finished. ``more`` (sensitivity's chains of questions) is
    told each outcome and returns tasks to solve next, on the same workers."""
    def prepare() -> None:  # only once the executor is there: a cluster out of reach leaves nothing behind
        (outdir / "instances").mkdir(parents=True, exist_ok=True)
        (outdir / "solutions").mkdir(parents=True, exist_ok=True)
        # an earlier sweep's table and plots describe other answers: gone before this sweep writes any,
        # so a sweep stopped half-way never leaves an old table beside its new files
        for stale in STALE:
            (outdir / stale).unlink(missing_ok=True)
        for t in tasks:
            write_atomic(outdir / "instances" / f"{t.name}.json", t.instance_json)

    result = SweepResult()
    t0 = time.perf_counter()

    def done(o: Outcome) -> list[Task]:
        result.outcomes[o.name] = o
        if o.solution_json is not None:
            write_atomic(outdir / "solutions" / f"{o.name}.json", o.solution_json)
        if on_done is not None:
            on_done(o)
        nxt = more(o) if more is not None else []
        for t in nxt:
            write_atomic(outdir / "instances" / f"{t.name}.json", t.instance_json)
        return nxt

    if dask is None:
        prepare()
        result.executor = f"local process pool ({workers} workers, spawn)"
        result.retried = _run_local(tasks, workers if more is not None else min(workers, len(tasks)), done)
    else:
        with dask_executor(dask, workers) as (ex, label):
            prepare()
            result.executor = label
            futures: dict[Future, Task] = {}
            _drain(lambda t: futures.__setitem__(ex.submit(run_task, t), t), tasks, futures, done)
    result.seconds = time.perf_counter() - t0
    return result


def _drain(submit: Callable[[Task], None], tasks: list[Task], futures: dict[Future, Task],
           done: Callable[[Outcome], list[Task]], finished: Optional[set[str]] = None) -> None:
    """Submit ``tasks``, then hand each result to ``done`` as it comes and submit what
    it returns, until nothing is left (a broken pool's error propagates)."""
    for t in tasks:
        submit(t)
    while futures:
        ready, _ = wait(futures, return_when=FIRST_COMPLETED)
        for f in sorted(ready, key=lambda f: futures[f].name):
            o = f.result()
            futures.pop(f)
            if finished is not None:
                finished.add(o.name)
            for t in done(o):
                submit(t)


def _run_local(tasks: list[Task], workers: int, done: Callable[[Outcome], list[Task]]) -> int:
    """A spawn process pool; when a worker dies (killed, out of memory) the pool is
    rebuilt and the unfinished tasks are submitted again, up to MAX_ATTEMPTS each."""
    pending = list(tasks)
    attempts: dict[str, int] = {}
    retried = 0
    ctx = multiprocessing.get_context("spawn")
    while pending:
        futures: dict[Future, Task] = {}
        finished: set[str] = set()
        follow: list[Task] = []  # asked for by results that came in as the pool broke
        with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=ctx,
                                 initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
            def submit(t: Task) -> None:
                try:
                    futures[pool.submit(run_task, t)] = t
                except BrokenProcessPool:
                    follow.append(t)  # asked for as the pool broke: submitted to the next one
                    return
                attempts[t.name] = attempts.get(t.name, 0) + 1

            try:
                _drain(submit, pending, futures, done, finished)
            except BrokenProcessPool:
                for f, t in sorted(futures.items(), key=lambda ft: ft[1].name):
                    # results that came in before the break still count
                    if t.name not in finished and f.done() and f.exception() is None:
                        finished.add(t.name)
                        follow.extend(done(f.result()))
        pending = follow
        for t in futures.values():
            if t.name in finished:
                continue
            if attempts[t.name] >= MAX_ATTEMPTS:
                pending.extend(done(Outcome(t.name, None, f"its worker process died {MAX_ATTEMPTS} times")))
            else:
                pending.append(t)
                retried += 1
    return retried


@contextmanager
def dask_executor(address: str, workers: int) -> Iterator[tuple[Executor, str]]:
    """A Dask client's executor: ``local`` starts a LocalCluster of ``workers``
    single-threaded worker processes on this machine; anything else is a scheduler
    address (``tcp://host:8786``). Dask re-runs a task whose worker died."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError([Problem("--dask", "Dask is not installed: pip install 'wopmatch[dask]'")]) from None
    os.environ.setdefault("MALLOC_TRIM_THRESHOLD_", "65536")
    if address == "local":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
        label = f"Dask LocalCluster ({workers} worker processes)"
    else:
        cluster = None
        try:
            client = Client(address, timeout=DASK_CONNECT_SECONDS)
        except (OSError, TimeoutError) as exc:
            raise InputError([Problem("--dask", f"cannot reach the Dask scheduler at {address}: {exc}")]) from None
        label = f"Dask cluster at {address}"
    try:
        yield client.get_executor(pure=False), label
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
