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

from ..models import Instance, Solution, parse_instance
from ..models.scenarios import Change, MentorCapacity, SetBudget, parse_scenario_set
from ..models.sensitivity import KIND_ORDER, Delta, DonorValue, MenteeNeed, MentorValue, Proposal, Sensitivity
from ..solver import mentee_proposals
from .runner import Task, build_tasks, run_sweep

#: Where no single change works, the first this many are each followed by a second change.
PAIR_TRIES = 2


@dataclass
class _Ask:
    """One re-solve: a name, its changes, and what it answers."""

    name: str
    changes: list[Change]


class _Sweep:
    """Re-solves asks in rounds through the scenario runner: each distinct change once (the
    same change asked again takes the first answer), at most ``max_resolves`` in all, the
    progress bar's total grown by each round."""

    def __init__(self, instance: Instance, policy: str, node_limit: Optional[int], max_resolves: int, workers: int,
                 dask: Optional[str], outdir, on_done, on_start) -> None:
        self.base, self.policy, self.node_limit, self.max_resolves = instance, policy, node_limit, max_resolves
        self.workers, self.dask, self.outdir, self.on_done, self.on_start = workers, dask, outdir, on_done, on_start
        self.same: dict[str, str] = {}  # ask name -> the name of the ask re-solved for it
        self.first: dict[str, str] = {}  # the changes, as JSON -> that name
        self.tasks: dict[str, Task] = {}
        self.solved: dict[str, Optional[Solution]] = {}
        self.errors: dict[str, Optional[str]] = {}

    def run(self, asks: list[_Ask]) -> None:
        unique: list[_Ask] = []
        for a in asks:
            key = json.dumps([c.model_dump(exclude_unset=True) for c in a.changes], sort_keys=True)
            if key not in self.first and len(self.tasks) + len(unique) < self.max_resolves:
                self.first[key] = a.name
                unique.append(a)
            if key in self.first:
                self.same[a.name] = self.first[key]
        if not unique:
            return
        sset = parse_scenario_set({"base": "-", "policy": self.policy, "node_limit": self.node_limit,
                                   "scenarios": [{"name": a.name,
                                                  "changes": [c.model_dump(exclude_unset=True) for c in a.changes]}
                                                 for a in unique]})
        tasks = build_tasks(sset, self.base)
        self.tasks.update({t.name: t for t in tasks})
        if self.on_start is not None:
            self.on_start(len(self.tasks))
        result = run_sweep(tasks, self.outdir, self.workers, self.dask, self.on_done)
        for n, o in result.outcomes.items():
            self.solved[n] = Solution.model_validate_json(o.solution_json) if o.solution_json else None
            self.errors[n] = o.error

    @property
    def answers(self) -> dict[str, Optional[Solution]]:
        return {name: self.solved.get(target) for name, target in self.same.items()}

    def answer(self, name: str) -> Optional[Solution]:
        return self.solved.get(self.same.get(name, ""))

    def instance(self, name: str) -> Optional[Instance]:
        task = self.tasks.get(self.same.get(name, ""))
        return None if task is None else parse_instance(json.loads(task.instance_json), name)


def _partner(s: Optional[Solution], mentee: str) -> Optional[str]:
    if s is None:
        return None
    return next((x.mentor for x in s.partnerships if x.mentee == mentee), None)


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
    sweep = _Sweep(instance, solution.policy, node_limit, max_resolves, workers, dask, outdir, on_done, on_start)
    sweep.run(asks)
    # Where no single change worked: for each of its first PAIR_TRIES changes, the mentee's
    # reason in that change's answer gives the next change (mentee_proposals on the changed
    # round); the two are re-solved together.
    pairs: dict[int, list[tuple[int, Proposal, Proposal]]] = {}
    second: list[_Ask] = []
    for n, m in enumerate(unmatched):
        singles = proposals.get(m, [])
        if not singles or any(_partner(sweep.answer(f"need-{n}-{k}"), m) for k in range(len(singles))):
            continue
        for k, p in enumerate(singles[:PAIR_TRIES]):
            changed, answer = sweep.instance(f"need-{n}-{k}"), sweep.answer(f"need-{n}-{k}")
            if changed is None or answer is None or answer.objective is None:
                continue
            nxt = mentee_proposals(changed, answer, mentees={m}).get(m, [])
            q = next((q for q in nxt if q.change != p.change), None)
            if q is not None:
                pairs.setdefault(n, []).append((k, p, q))
                second.append(_Ask(f"pair-{n}-{k}", [_change(p.change), _change(q.change)]))
    if second:
        sweep.run(second)
    answers = sweep.answers
    names = set(sweep.same)
    base = answers["base"]
    if base is None or base.objective is None:
        raise RuntimeError(f"the unchanged instance could not be re-solved: {sweep.errors.get('base')}")

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
            props.append(_answered(p, f"need-{n}-{k}", answers, u.mentee, delta))
        both = []
        for k, p, q in pairs.get(n, []):
            both.append(_answered(_joint(instance, p, q), f"pair-{n}-{k}", answers, u.mentee, delta))
        needs.append(_need(u.mentee, u.reason, props, both))
    return Sensitivity(
        instance_sha256=sha256, policy=solution.policy,
        method=f"{solution.policy}, {base.stats.method}, node limit {base.stats.node_limit}",
        base=Delta(coverage=base.objective.coverage, quality=base.objective.quality, cost=base.objective.cost),
        mentors=mentor_values, donors=donor_values, mentees=needs, resolves=len(sweep.tasks),
        seconds=round(time.perf_counter() - t0, 3))


def _answered(p: Proposal, name: str, answers: dict[str, Optional[Solution]], mentee: str, delta) -> Proposal:
    s = answers.get(name)
    partner = _partner(s, mentee)
    return p.model_copy(update={"matched": None if s is None else partner is not None, "partner": partner,
                                "delta": delta(name) if s else None})


def _joint(instance: Instance, p: Proposal, q: Proposal) -> Proposal:
    """Two changes made together, as one proposal. A second place at the same mentor or more
    money for the same donor is one larger change (``q`` was built on the round ``p`` changed,
    so its figure already holds ``p``'s)."""
    kind = max(p.kind, q.kind, key=KIND_ORDER.__getitem__)
    a, b = p.change, q.change
    if a.get("op") == b.get("op") == "set_budget" and a.get("donor") == b.get("donor"):
        total = p.amount + q.amount
        return Proposal(kind=kind, amount=total, change=b,
                        text=f"{total:,} more for {b['donor']} (the first {p.amount:,} funds others)")
    if a.get("op") == b.get("op") == "mentor_capacity" and a.get("operator") == b.get("operator"):
        was = instance.operator(b["operator"]).mentor.capacity
        return Proposal(kind=kind, change=b, text=f"{b['capacity'] - was} more places at {b['operator']} "
                                                  f"({was} -> {b['capacity']})")
    return Proposal(kind=kind, amount=p.amount + q.amount, text=f"{p.text}, and then {q.text}", change=a, then=b)


#: Why nothing within the round can match a mentee for which no change could be built.
_NOTHING = {
    "no_mentor_strength": "no mentor in the round is strong in an area it needs",
    "no_eligible_donor": "no mentor passes the round's rules for it, so no donor's rule can help",
    "distance_rule": "no mentor passes the round's other rules for it",
    "below_min_score": "no mentor passes the round's other rules for it",
    "capacity": "no mentor it could have",
    "budget": "no mentor with room that a donor could fund",
}


def _need(mentee: str, reason: str, props: list[Proposal], pairs: list[Proposal]) -> MenteeNeed:
    def cheapest(items: list[Proposal]) -> Optional[int]:
        works = [k for k, p in enumerate(items) if p.matched]
        return min(works, key=lambda k: (KIND_ORDER[items[k].kind], items[k].amount, k)) if works else None

    one, two = cheapest(props), cheapest(pairs)
    if one is not None:
        verdict = props[one].text
    elif two is not None:
        verdict = pairs[two].text
    elif not props:
        verdict = f"nothing within the round can match it: {_NOTHING.get(reason, 'no change of the round applies')}"
    else:
        verdict = f"no change tried works ({len(props)} alone" + (f", {len(pairs)} in pairs)" if pairs else ")")
    return MenteeNeed(mentee=mentee, reason=reason, proposals=props, cheapest=one, pairs=pairs, cheapest_pair=two,
                      verdict=verdict)


def _change(raw: dict[str, Any]) -> Change:
    return TypeAdapter(Change).validate_python(raw)


def _budget_step(instance: Instance, solution: Solution) -> int:
    """The median cost of the round's partnerships (one more partnership's worth)."""
    costs = sorted(p.cost for p in solution.partnerships if not p.pinned)
    return max(1, costs[len(costs) // 2]) if costs else 50_000
