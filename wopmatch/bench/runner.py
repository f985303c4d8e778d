"""``wopmatch bench run CONFIG``: a policy study, one child process per cell (docs/bench.md).

A config names sizes x donors x policies x seeds x generator parameters x time
limits. Each cell generates its instance (deterministic for its parameters),
solves it with the policy in a fresh child process (so peak memory is the
cell's own, and a crash or a kill loses one cell, not the study), and appends
one JSON line to the results file: the cell, provenance (git sha, package
versions, machine, date), status, objective, bound, gap, metrics, times and
peak memory. Cells already in the file are skipped, so an interrupted study
resumes where it stopped.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..models.instance import plain_message
from ..models.problems import InputError, Problem, json_path


class StudyConfig(BaseModel):
    """A study: every combination of these lists is one cell."""

    model_config = ConfigDict(extra="forbid")

    name: str = "study"
    sizes: list[tuple[int, int]] = Field(min_length=1, description="[mentees, mentors] pairs.")
    donors: list[int] = Field(default=[0], min_length=1)
    policies: list[str] = Field(min_length=1)
    seeds: list[int] = Field(default=[1], min_length=1)
    tightness: list[float] = Field(default=[0.4], min_length=1, description="Generator: budget share.")
    dual_share: list[float] = Field(default=[0.3], min_length=1, description="Generator: dual-role mentors.")
    time_limits: list[Optional[float]] = Field(default=[None], min_length=1)
    cell_timeout: Optional[float] = Field(default=None, gt=0, description="Seconds before a cell is killed.")
    alternates: int = 0
    progress_month: Optional[int] = Field(default=None, ge=1, le=120, description=(
        "Grade each solved cell's partnerships on synthetic progress up to this month (docs/monitoring.md)."))

    @field_validator("policies")
    @classmethod
    def _known_policies(cls, policies: list[str]) -> list[str]:
        from ..solver import POLICIES

        unknown = [p for p in policies if p not in POLICIES]
        if unknown:
            raise ValueError(f"unknown policies {unknown}; valid: {', '.join(POLICIES)}")
        return policies


def load_config(path: Path) -> StudyConfig:
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError([Problem("", f"cannot read the study config: {exc}")], str(path)) from None
    try:
        return StudyConfig.model_validate(raw)
    except ValidationError as exc:
        raise InputError([Problem(json_path(e["loc"]) or "(config)", plain_message(e))
                          for e in exc.errors(include_url=False)], str(path)) from None


def cells(cfg: StudyConfig) -> list[dict[str, Any]]:
    out = []
    for (n, m), k, tight, dual, seed, limit, policy in itertools.product(
            cfg.sizes, cfg.donors, cfg.tightness, cfg.dual_share, cfg.seeds, cfg.time_limits, cfg.policies):
        cell = {"mentees": n, "mentors": m, "donors": k, "tightness": tight, "dual_share": dual, "seed": seed,
                "time_limit": limit, "policy": policy}
        if cfg.progress_month is not None:
            cell["progress_month"] = cfg.progress_month
        out.append(cell)
    return out


#: What names a cell; progress_month only where a study sets it, so earlier results keep their keys.
CELL_FIELDS = ("mentees", "mentors", "donors", "tightness", "dual_share", "seed", "time_limit", "policy",
               "progress_month")


def cell_key(cell: dict[str, Any]) -> str:
    return json.dumps({k: cell[k] for k in CELL_FIELDS if k in cell}, sort_keys=True)


def done_keys(results: Path) -> set[str]:
    if not results.exists():
        return set()
    keys = set()
    for line in results.read_text().splitlines():
        if line.strip():
            try:
                keys.add(cell_key(json.loads(line)["cell"]))
            except (json.JSONDecodeError, KeyError):
                continue  # a line cut short by a kill: the cell runs again
    return keys


@dataclass
class Progress:
    total: int
    skipped: int


def run_study(cfg: StudyConfig, results: Path, on_cell: Callable[[dict[str, Any], Optional[dict]], None],
              ) -> Progress:
    """Run every cell not yet in ``results``; ``on_cell(cell, record)`` is called
    before (record None) and after each."""
    todo = cells(cfg)
    done = done_keys(results)
    pending = [c for c in todo if cell_key(c) not in done]
    for cell in pending:
        on_cell(cell, None)
        record = run_cell(cell, cfg.cell_timeout, cfg.alternates)
        record.update(provenance())
        _append(results, json.dumps(record))
        on_cell(cell, record)
    return Progress(len(todo), len(todo) - len(pending))


def _append(results: Path, line: str) -> None:
    """Append one line; a last line cut short by a kill is closed first, so the
    new record stands on its own line."""
    cut = results.exists() and results.stat().st_size > 0 and not results.read_bytes().endswith(b"\n")
    with results.open("a") as fh:
        fh.write(("\n" if cut else "") + line + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def run_cell(cell: dict[str, Any], timeout: Optional[float], alternates: int = 0) -> dict[str, Any]:
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "wopmatch.bench.child", json.dumps(cell), str(alternates),
                               str(os.getpid())], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"cell": cell, "outcome": "killed", "reason": f"over the cell timeout of {timeout:g} s",
                "seconds": {"wall": round(time.perf_counter() - t0, 3)}}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"cell": cell, "outcome": "crashed", "reason": f"exit {proc.returncode}: {tail}",
                "seconds": {"wall": round(time.perf_counter() - t0, 3)}}
    record = json.loads(lines[-1])
    record["seconds"]["wall"] = round(time.perf_counter() - t0, 3)
    return record


def child_main(cell: dict[str, Any], alternates: int) -> dict[str, Any]:
    """Generate, solve, and summarise one cell (in the child process)."""
    from ..api import generate, solve
    from ..solver import SolveError

    t0 = time.perf_counter()
    inst = generate(cell["mentees"], cell["mentors"], donors=cell["donors"], seed=cell["seed"],
                    tightness=cell["tightness"], dual_share=cell["dual_share"])
    t_gen = time.perf_counter() - t0
    try:
        s = solve(inst, cell["policy"], time_limit=cell["time_limit"], seed=cell["seed"], alternates=alternates,
                  sha256="0" * 64)
    except SolveError as exc:  # a policy that does not model this instance, or a size it refuses
        return {"cell": cell, "outcome": "refused", "reason": str(exc),
                "seconds": {"generate": round(t_gen, 3)}, "peak_rss_mib": _peak()}
    record = {
        "cell": cell, "outcome": "solved", "status": s.status, "method": s.stats.method,
        "objective": None if s.objective is None else s.objective.model_dump(),
        "bound": s.bound.model_dump(), "gap": s.gap.model_dump(),
        "metrics": None if s.metrics is None else s.metrics.model_dump(),
        "verified": bool(s.verification and s.verification.ok),
        "seconds": {"generate": round(t_gen, 3), "build": s.stats.build_seconds, "solve": s.stats.solve_seconds,
                    "verify": s.stats.verify_seconds, "total": round(time.perf_counter() - t0, 3)},
        "peak_rss_mib": _peak(),
    }
    if cell.get("progress_month"):
        record["monitoring"] = _monitoring(inst, s, cell["progress_month"], cell["seed"])
    return record


def _monitoring(inst: Any, solution: Any, month: int, seed: int) -> dict[str, Any]:
    """Shares of the partnerships on track, at risk and off track on synthetic progress up to ``month``."""
    from ..api import monitor
    from ..reports.monitor import synthetic_progress

    if not solution.partnerships:
        return {"partnerships": 0}
    m = monitor(inst, solution, synthetic_progress(inst, solution, month, seed))
    n = len(m.partnerships)
    return {"partnerships": n, **{s.replace(" ", "_"): round(c / n, 4) for s, c in m.counts.items()}}


def _peak() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def machine() -> dict[str, Any]:
    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            mem = fh.readline().split(":")[1].strip()
    except OSError:
        pass
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "memory": mem}


def git_sha(cwd: Optional[Path] = None) -> str:
    """The commit of the working folder (run a study from the checkout it measures)."""
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=cwd or Path.cwd(),
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def provenance() -> dict[str, Any]:
    import numpy as np
    import ortools
    import pydantic

    from .. import __version__ as wopmatch_version

    return {"git": git_sha(), "machine": machine(), "date": dt.datetime.now(dt.timezone.utc).isoformat(
        timespec="seconds"), "versions": {"wopmatch": wopmatch_version, "ortools": ortools.__version__,
                                           "numpy": np.__version__, "pydantic": pydantic.__version__}}
