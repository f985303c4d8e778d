"""Sensitivity of one solved round (``wopmatch sensitivity INSTANCE SOLUTION``).

Every figure here comes from **re-solving** a changed instance with the
solution's policy (a scenario each, run through the scenario runner, so in
parallel and with the same settings as a sweep) and comparing it with a
re-solve of the unchanged instance; none is read from a dual. Labels say so.

- each mentor that is full: one more place, and what it gains;
- each donor: a larger budget (by ``step``, the median cost of a partnership
  between an unmatched mentee and an eligible mentor), and the gain per
  currency unit;
- each unmatched mentee: "what would it take". Candidate single changes are
  built from why it is unmatched (one more place at a mentor it could have;
  the budget a donor lacks to fund it; a donor rule or a round rule relaxed;
  the forbidden pair allowed) and each is re-solved: a proposal counts only
  when the mentee is matched in the re-solved answer. The cheapest that works
  is named: no money first (a place, an allowed pair), then the smallest extra
  budget, then a donor's rule, then a rule of the round.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Optional

from pydantic import TypeAdapter

from ..models import Instance, Solution
from ..models.scenarios import Change, MentorCapacity, SetBudget, parse_scenario_set
from ..models.sensitivity import KIND_ORDER, Delta, DonorValue, MenteeNeed, MentorValue, Sensitivity
from ..solver import mentee_proposals
from .runner import build_tasks, run_sweep


@dataclass
class _Ask:
    """One re-solve: a name, its changes, and what it answers."""

    name: str
    changes: list[Change]


def analyse(instance: Instance, sha256: str, solution: Solution, workers: int, dask: Optional[str],
            outdir, node_limit: Optional[int] = None, max_resolves: int = 200, on_done=None,
            on_start=None) -> Sensitivity:
    """Build every question as a scenario, re-solve each distinct change once
    (``on_start`` is told how many), and read the answers."""
    t0 = time.perf_counter()
    asks = [_Ask("base", [])]
    full = {}
    for p in solution.partnerships:
        full[p.mentor] = full.get(p.mentor, 0) + 1
    mentors = [op for op in instance.operators if op.mentor is not None]
    is_full = {op.id: full.get(op.id, 0) >= op.mentor.capacity for op in mentors}
    for k, op in enumerate(mentors):
        if is_full[op.id]:
            asks.append(_Ask(f"place-{k}", [MentorCapacity(op="mentor_capacity", operator=op.id,
                                                           capacity=op.mentor.capacity + 1)]))
    step = _budget_step(instance, solution)
    for k, d in enumerate(instance.donors):
        asks.append(_Ask(f"budget-{k}", [SetBudget(op="set_budget", donor=d.id, budget=d.budget + step)]))
    proposals = mentee_proposals(instance, solution)
    unmatched = [u.mentee for u in solution.unmatched]
    for n, m in enumerate(unmatched):
        for k, p in enumerate(proposals.get(m, [])):
            asks.append(_Ask(f"need-{n}-{k}", [_change(p.change)]))
    # The same change asked twice (the language rule for each mentee it concerns, a place at a
    # mentor asked for the mentor and for a mentee) is re-solved once; its answer serves both.
    same: dict[str, str] = {}  # ask name -> the name of the ask that is re-solved for it
    first: dict[str, str] = {}  # the changes, as JSON -> that name
    unique: list[_Ask] = []
    for a in asks:
        key = json.dumps([c.model_dump(exclude_unset=True) for c in a.changes], sort_keys=True)
        if key not in first and len(unique) <= max_resolves:
            first[key] = a.name
            unique.append(a)
        if key in first:
            same[a.name] = first[key]
    names = set(same)
    sset = parse_scenario_set({"base": "-", "policy": solution.policy, "node_limit": node_limit,
                               "scenarios": [{"name": a.name,
                                              "changes": [c.model_dump(exclude_unset=True) for c in a.changes]}
                                             for a in unique]})
    tasks = build_tasks(sset, instance)
    if on_start is not None:
        on_start(len(tasks))
    result = run_sweep(tasks, outdir, workers, dask, on_done)
    solved = {n: (Solution.model_validate_json(o.solution_json) if o.solution_json else None)
              for n, o in result.outcomes.items()}
    answers = {name: solved.get(target) for name, target in same.items()}
    base = answers["base"]
    if base is None or base.objective is None:
        raise RuntimeError(f"the unchanged instance could not be re-solved: {result.outcomes['base'].error}")

    def delta(name: str) -> Optional[Delta]:
        s = answers.get(name)
        if s is None or s.objective is None:
            return None
        return Delta(coverage=round(s.objective.coverage - base.objective.coverage, 9),
                     quality=round(s.objective.quality - base.objective.quality, 9),
                     cost=s.objective.cost - base.objective.cost)

    mentor_values = []
    for k, op in enumerate(mentors):
        name = f"place-{k}"
        if is_full[op.id]:
            label = "re-solved with one more place" if name in names else "full; not re-solved (--max-resolves)"
        else:
            label = "has free places: not re-solved" + ("" if instance.donors else " (worth nothing without donors)")
        mentor_values.append(MentorValue(mentor=op.id, capacity=op.mentor.capacity, load=full.get(op.id, 0),
                                         delta=delta(name) if name in names else None, label=label))
    committed = {d.id: d.committed for d in solution.donors}
    donor_values = []
    for k, d in enumerate(instance.donors):
        name = f"budget-{k}"
        dl = delta(name) if name in names else None
        donor_values.append(DonorValue(
            donor=d.id, budget=d.budget, committed=committed.get(d.id, 0), step=step, delta=dl,
            coverage_per_unit=None if dl is None else dl.coverage / step,
            label=f"re-solved with {step:,} more" if name in names else "not re-solved (--max-resolves)"))
    needs = []
    for n, u in enumerate(solution.unmatched):
        props = []
        for k, p in enumerate(proposals.get(u.mentee, [])):
            name = f"need-{n}-{k}"
            s = answers.get(name)
            partner = None
            if s is not None:
                partner = next((x.mentor for x in s.partnerships if x.mentee == u.mentee), None)
            props.append(p.model_copy(update={"matched": None if s is None else partner is not None,
                                              "partner": partner, "delta": delta(name) if s else None}))
        works = [k for k, p in enumerate(props) if p.matched]
        cheapest = min(works, key=lambda k: (KIND_ORDER[props[k].kind], props[k].amount, k)) if works else None
        needs.append(MenteeNeed(mentee=u.mentee, reason=u.reason, proposals=props, cheapest=cheapest))
    return Sensitivity(
        instance_sha256=sha256, policy=solution.policy,
        method=f"{solution.policy}, {base.stats.method}, node limit {base.stats.node_limit}",
        base=Delta(coverage=base.objective.coverage, quality=base.objective.quality, cost=base.objective.cost),
        mentors=mentor_values, donors=donor_values, mentees=needs, resolves=len(tasks),
        seconds=round(time.perf_counter() - t0, 3))


def _change(raw: dict[str, Any]) -> Change:
    return TypeAdapter(Change).validate_python(raw)


def _budget_step(instance: Instance, solution: Solution) -> int:
    """The median cost of the round's partnerships (one more partnership's worth)."""
    costs = sorted(p.cost for p in solution.partnerships if not p.pinned)
    return max(1, costs[len(costs) // 2]) if costs else 50_000
