"""Turn a policy's assignment (candidate indices) back into a solution with ids."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ...models.solution import (
    Bound,
    DonorUse,
    Gap,
    InstanceRef,
    Objective,
    Partnership,
    Solution,
    StageStats,
    Stats,
)
from ..graph.encoding import CandidateGraph, issue_months
from ..policies.base import Assignment
from .explain import explain_idle_donors, explain_unmatched

#: Digits kept for scores and quality in solution files.
DIGITS = 9


@dataclass(frozen=True)
class RunInfo:
    policy: str
    sha256: str
    build_seconds: float
    solve_seconds: float
    seed: int
    time_limit: Optional[float]
    node_limit: Optional[int] = None


def _strongest_first(g: CandidateGraph, bits: int, need: np.ndarray, strength: np.ndarray) -> list[str]:
    """The issue areas of ``bits``: the mentor's strongest first, then the mentee's
    greatest need, then work_areas order."""
    areas = [k for k in range(len(g.work_areas)) if bits >> k & 1]
    return [g.work_areas[k] for k in sorted(areas, key=lambda k: (-int(strength[k]), -int(need[k]), k))]


def infeasible_solution(g: CandidateGraph, info: RunInfo, solver: str) -> Solution:
    return Solution(
        instance=InstanceRef(name=g.instance.name, sha256=info.sha256),
        policy=info.policy,
        status="infeasible",
        message="pinned partnerships overrun: " + "; ".join(g.infeasible),
        stats=_stats(g, info, solver, "pinned-check", []),
    )


def to_solution(g: CandidateGraph, a: Assignment, info: RunInfo) -> Solution:
    g = a.graph if a.graph is not None else g
    p = g.pinned
    pairs = np.asarray(a.pairs, np.int64)
    donors = np.asarray(a.donors, np.int64)
    mentee = np.concatenate([p.mentee, g.pair_mentee[pairs]]).astype(np.int64)
    mentor = np.concatenate([p.mentor, g.pair_mentor[pairs]]).astype(np.int64)
    donor = np.concatenate([p.donor, donors]).astype(np.int64)
    score = np.concatenate([p.score, g.score[pairs]])
    cost = np.concatenate([p.cost, g.cost[pairs]]).astype(np.int64)
    focus = np.concatenate([p.focus, g.focus[pairs]]).astype(np.int64)
    pinned = np.r_[np.ones(len(p.mentee), bool), np.zeros(len(pairs), bool)]
    weight = g.mentee_weight[mentee]

    need, strength = g.mentees.levels[mentee], g.mentors.levels[mentor]
    issue_bits = g.mentees.priority[mentee] & g.mentors.bits[mentor]
    months = issue_months(g.instance, issue_bits)
    partnerships = [
        Partnership(
            mentee=g.mentee_id(int(mentee[t])),
            mentor=g.mentor_id(int(mentor[t])),
            donor=None if donor[t] < 0 else g.donor_ids[int(donor[t])],
            score=round(float(score[t]), DIGITS),
            cost=int(cost[t]),
            focus=g.focus_names(int(focus[t])),
            pinned=bool(pinned[t]),
            duration_months=int(months[t]),
            issues=_strongest_first(g, int(issue_bits[t]), need[t], strength[t]),
        )
        for t in range(len(mentee))
    ]
    partnerships.sort(key=lambda x: x.mentee)

    coverage = float(weight.sum())
    quality = float((weight * score).sum())
    objective = Objective(coverage=round(coverage, DIGITS), quality=round(quality, DIGITS),
                          cost=int(cost.sum()))

    bound = _bound(g, a, objective)
    gap = Gap(coverage=_gap(objective.coverage, bound.coverage), quality=_gap(objective.quality, bound.quality),
              cost=None if bound.cost is None else
              round(max(0.0, (objective.cost - bound.cost) / objective.cost), DIGITS) if objective.cost else 0.0)

    matched = np.zeros(g.n_mentees, bool)
    matched[mentee] = True
    chosen_mentor = g.pair_mentor[pairs]
    load = np.bincount(chosen_mentor, minlength=g.n_mentors).astype(np.int64)
    funded = donors >= 0
    spent = np.bincount(donors[funded], weights=g.cost[pairs][funded], minlength=g.n_donors).astype(np.int64)
    count = np.bincount(donors[funded], minlength=g.n_donors).astype(np.int64)
    unmatched = explain_unmatched(g, matched, load, spent, count)

    all_funded = donor >= 0
    committed = np.bincount(donor[all_funded], weights=cost[all_funded], minlength=g.n_donors).astype(np.int64)
    n_funded = np.bincount(donor[all_funded], minlength=g.n_donors)
    idle = explain_idle_donors(g, matched, load, spent, count) if g.n_donors else {}
    donor_use = [
        DonorUse(id=d.id, budget=d.budget, committed=int(committed[x]), partnerships=int(n_funded[x]),
                 idle_reason=idle[x][0] if x in idle else None, idle_detail=idle[x][1] if x in idle else "")
        for x, d in enumerate(g.instance.donors)
    ]
    return Solution(
        instance=InstanceRef(name=g.instance.name, sha256=info.sha256),
        policy=info.policy,
        status=a.status,
        message=a.message,
        objective=objective,
        bound=bound,
        gap=gap,
        partnerships=partnerships,
        unmatched=unmatched,
        donors=donor_use,
        stats=_stats(g, info, a.solver, a.method, a.stages, a.candidates_total, a.workers),
    )


def _bound(g: CandidateGraph, a: Assignment, objective: Objective) -> Bound:
    """A proven optimum's figures, or the policy's bounds on the free part plus the
    pinned partnerships (never past the solution's own figures)."""
    if a.status == "optimal":
        return Bound(coverage=objective.coverage, quality=objective.quality, cost=objective.cost)
    p = g.pinned
    pinned = {"coverage": float(g.mentee_weight[p.mentee].sum()),
              "quality": float((g.mentee_weight[p.mentee] * p.score).sum()), "cost": float(p.cost.sum())}
    b = {name: pinned[name] + value for name, value in a.bounds.items()}
    return Bound(
        coverage=round(max(objective.coverage, b["coverage"]), DIGITS) if "coverage" in b else None,
        quality=round(max(objective.quality, b["quality"]), DIGITS) if "quality" in b else None,
        cost=int(min(objective.cost, np.ceil(b["cost"] - 1e-6))) if "cost" in b else None)


def _gap(value: float, bound: Optional[float]) -> Optional[float]:
    if bound is None:
        return None
    if bound <= 0:
        return 0.0
    return round(max(0.0, (bound - value) / bound), DIGITS)


def _stats(g: CandidateGraph, info: RunInfo, solver: str, method: str, stages: list[StageStats],
           candidates_total: Optional[int] = None, workers: int = 1) -> Stats:
    return Stats(
        candidates=g.n_candidates if candidates_total is None else candidates_total,
        working_set=None if candidates_total is None else g.n_candidates,
        build_seconds=round(info.build_seconds, 4),
        solve_seconds=round(info.solve_seconds, 4),
        solver=solver,
        method=method,
        seed=info.seed,
        time_limit=info.time_limit,
        node_limit=info.node_limit,
        workers=workers,
        stages=stages,
    )
