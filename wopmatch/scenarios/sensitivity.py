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

import time
from dataclasses import dataclass
from typing import Any, Literal, Optional

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ..models import Instance, Solution
from ..models.scenarios import (
    AllowPair,
    Change,
    DonorRules,
    MentorCapacity,
    SetBudget,
    SetRules,
    parse_scenario_set,
)
from ..solver.graph.encoding import build_graph
from .runner import build_tasks, run_sweep

SENSITIVITY_FORMAT = "wopmatch.sensitivity/1"
Kind = Literal["place", "allow_pair", "budget", "donor_rule", "rule"]
#: The order in which proposals count as cheaper (then by amount).
KIND_ORDER = {"place": 0, "allow_pair": 0, "budget": 1, "donor_rule": 2, "rule": 3}


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Delta(_Schema):
    coverage: float
    quality: float
    cost: int


class MentorValue(_Schema):
    mentor: str
    capacity: int
    load: int
    delta: Optional[Delta] = Field(default=None, description="One more place, re-solved (None: not re-solved).")
    label: str


class DonorValue(_Schema):
    donor: str
    budget: int
    committed: int
    step: int = Field(description="The extra budget re-solved with.")
    delta: Optional[Delta] = None
    coverage_per_unit: Optional[float] = Field(default=None, description="delta.coverage / step.")
    label: str


class Proposal(_Schema):
    kind: Kind
    text: str
    amount: int = Field(default=0, description="Extra money the change needs (budget proposals).")
    change: dict[str, Any]
    matched: Optional[bool] = Field(default=None, description="Matched in the re-solved answer (None: not run).")
    partner: Optional[str] = None
    delta: Optional[Delta] = None


class MenteeNeed(_Schema):
    mentee: str
    reason: str
    proposals: list[Proposal]
    cheapest: Optional[int] = Field(default=None, description="Index of the cheapest proposal that worked.")


class Sensitivity(_Schema):
    format: Literal["wopmatch.sensitivity/1"] = SENSITIVITY_FORMAT
    instance_sha256: str
    policy: str
    method: str = Field(description="How every re-solve ran (policy, method, node limit).")
    base: Delta = Field(description="The re-solved unchanged instance's coverage, quality and cost.")
    mentors: list[MentorValue]
    donors: list[DonorValue]
    mentees: list[MenteeNeed]
    resolves: int
    seconds: float


@dataclass
class _Ask:
    """One re-solve: a name, its changes, and what it answers."""

    name: str
    changes: list[Change]


def _rules(**fields: Any) -> SetRules:
    return SetRules(op="rules", set=fields)


def mentee_proposals(instance: Instance, solution: Solution, per_kind: int = 2) -> dict[str, list[Proposal]]:
    """Candidate single changes for each unmatched mentee, built from its reason."""
    g = build_graph(instance)
    loads: dict[str, int] = {}
    for p in solution.partnerships:
        loads[p.mentor] = loads.get(p.mentor, 0) + 1
    committed = {d.id: d.committed for d in solution.donors}
    remaining = {d.id: d.budget - committed.get(d.id, 0) for d in instance.donors}
    used = {d.id: d.partnerships for d in solution.donors}
    count_left = {d.id: (None if d.max_partnerships is None else d.max_partnerships - used.get(d.id, 0))
                  for d in instance.donors}
    caps = {op.id: op.mentor.capacity for op in instance.operators if op.mentor is not None}
    out: dict[str, list[Proposal]] = {}
    for u in solution.unmatched:
        i = g.mentee_index.get(u.mentee)
        props: list[Proposal] = []
        if i is None:
            continue
        lo, hi = np.searchsorted(g.pair_mentee, [i, i + 1])
        order = lo + np.lexsort((g.pair_mentor[lo:hi], -g.score[lo:hi]))  # best score first
        if u.reason == "capacity":
            for e in order[:per_kind]:
                j = g.mentor_id(int(g.pair_mentor[e]))
                props.append(Proposal(kind="place", text=f"one more place at {j} ({caps[j]} -> {caps[j] + 1})",
                                      change=MentorCapacity(op="mentor_capacity", operator=j,
                                                            capacity=caps[j] + 1).model_dump()))
        elif u.reason == "budget":
            options = []
            capped: dict[str, str] = {}  # donor at its max_partnerships -> a mentor with room it could fund
            for e in order:
                j = g.mentor_id(int(g.pair_mentor[e]))
                if loads.get(j, 0) >= caps[j]:
                    continue
                for k, d in enumerate(g.donor_ids):
                    if not g.fundable[e, k]:
                        continue
                    if count_left.get(d) is not None and count_left[d] <= 0:
                        capped.setdefault(d, j)
                        continue
                    short = int(g.cost[e]) - remaining[d]
                    if short > 0:
                        options.append((short, d, j, int(g.cost[e])))
            for d, j in sorted(capped.items())[:per_kind]:
                cap = next(x.max_partnerships for x in instance.donors if x.id == d)
                props.append(Proposal(kind="donor_rule",
                                      text=f"{d} funds {cap + 1} partnerships instead of {cap} (for {u.mentee} "
                                           f"with {j})",
                                      change=DonorRules(op="donor_rules", donor=d,
                                                        max_partnerships=cap + 1).model_dump(exclude_unset=True)))
            seen: set[str] = set()
            for short, d, j, cost in sorted(options):
                if d in seen:
                    continue
                seen.add(d)
                budget = next(x.budget for x in instance.donors if x.id == d)
                # what the donor lacks for this pair, and a whole partnership more (the optimum may move others)
                for amount, why in ((short, f"it lacks that to fund {u.mentee} with {j}, cost {cost:,}"),
                                    (cost, f"the whole cost of {u.mentee} with {j}")):
                    props.append(Proposal(kind="budget", amount=amount, text=f"{amount:,} more for {d} ({why})",
                                          change=SetBudget(op="set_budget", donor=d,
                                                           budget=budget + amount).model_dump()))
                if len(seen) >= per_kind:
                    break
        elif u.reason == "no_eligible_donor":
            props += _donor_rule_proposals(g, instance, i, u.mentee, per_kind)
        elif u.reason == "forbidden":
            for f in instance.forbidden:
                if f.mentee == u.mentee:
                    props.append(Proposal(kind="allow_pair", text=f"allow the forbidden pair {f.mentee} - {f.mentor}",
                                          change=AllowPair(op="allow_pair", mentee=f.mentee,
                                                           mentor=f.mentor).model_dump()))
                    if len(props) >= per_kind:
                        break
        else:
            rule = _rule_proposal(g, instance, i, u.reason)
            if rule is not None:
                props.append(rule)
        out[u.mentee] = props
    return out


def _donor_rule_proposals(g, instance: Instance, i: int, mentee: str, per_kind: int) -> list[Proposal]:
    """For a mentee no donor may fund: the smallest rule change of a donor (the
    largest budgets first) that lets it fund the mentee's best eligible pair."""
    block = g.pair_block(np.array([i]))
    ok = g.eligible(block)[0]
    if not ok.any():
        return []
    j = int(np.flatnonzero(ok)[np.argmax(block.score[0][ok])])
    op = instance.operator(mentee)
    focus = g.focus_names(int(block.focus[0, j]))
    cost = int(block.cost[0, j])
    props = []
    for d in sorted(instance.donors, key=lambda d: (-d.budget, d.id)):
        fields: dict[str, Any] = {}
        if d.regions is not None and op.region not in d.regions:
            fields["regions"] = [*d.regions, op.region]
        if d.countries is not None and op.country not in d.countries:
            fields["countries"] = [*d.countries, op.country]
        if d.work_areas is not None and not set(focus) & set(d.work_areas):
            fields["work_areas"] = [*d.work_areas, focus[0]]
        if d.max_grant is not None and cost > d.max_grant:
            fields["max_grant"] = cost
        if not fields:
            continue
        text = f"{d.id} also funds " + ", ".join(
            f"{k} {v[-1] if isinstance(v, list) else v}" if k != "max_grant" else f"grants up to {v:,}"
            for k, v in fields.items()) + f" (for {mentee} with {g.mentor_id(j)})"
        props.append(Proposal(kind="donor_rule", text=text,
                              change=DonorRules(op="donor_rules", donor=d.id, **fields).model_dump(exclude_unset=True)))
        if len(props) >= per_kind:
            break
    return props


def _rule_proposal(g, instance: Instance, i: int, reason: str) -> Optional[Proposal]:
    rules = instance.rules
    if reason == "no_shared_language":
        return Proposal(kind="rule", text="drop the shared-language rule (rules.language = ignore)",
                        change=_rules(language="ignore").model_dump())
    if reason == "region_rule":
        return Proposal(kind="rule", text="allow partners across regions (rules.region = any)",
                        change=_rules(region="any").model_dump())
    block = g.pair_block(np.array([i]))
    base = block.not_self & (block.focus != 0) & ~block.forbidden
    if rules.language == "hard":
        base &= block.shared_language
    if rules.region == "same":
        base &= block.same_region
    if reason == "distance_rule" and base.any():
        need = float(np.ceil(block.distance[base].min()))
        return Proposal(kind="rule", text=f"allow partners up to {need:,.0f} km (rules.max_distance_km, now "
                                          f"{rules.max_distance_km:,.0f})",
                        change=_rules(max_distance_km=need).model_dump())
    if reason == "below_min_score":
        if rules.max_distance_km is not None:
            base &= block.distance <= rules.max_distance_km
        if base.any():
            best = float(np.floor(block.score[base].max() * 1e6) / 1e6)
            return Proposal(kind="rule", text=f"lower the minimum score to {best:g} (rules.min_score, now "
                                              f"{rules.min_score:g})", change=_rules(min_score=best).model_dump())
    if reason == "no_mentor_strength":
        needs = g.mentees.levels[i] > 0
        strongest = int(g.mentors.levels[:, needs].max(initial=0)) if needs.any() else 0
        if strongest >= 1:
            return Proposal(kind="rule", change=_rules(min_strength=strongest).model_dump(),
                            text=f"accept mentors of strength {strongest} "
                                 f"(rules.min_strength, now {rules.min_strength})")
    return None


def analyse(instance: Instance, sha256: str, solution: Solution, workers: int, dask: Optional[str],
            outdir, node_limit: Optional[int] = None, max_resolves: int = 200, on_done=None) -> Sensitivity:
    """Build every question as a scenario, re-solve them all, and read the answers."""
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
    asks = asks[: max_resolves + 1]
    names = {a.name for a in asks}
    sset = parse_scenario_set({"base": "-", "policy": solution.policy, "node_limit": node_limit,
                               "scenarios": [{"name": a.name,
                                              "changes": [c.model_dump(exclude_unset=True) for c in a.changes]}
                                             for a in asks]})
    tasks = build_tasks(sset, instance)
    result = run_sweep(tasks, outdir, workers, dask, on_done)
    answers = {n: (Solution.model_validate_json(o.solution_json) if o.solution_json else None)
               for n, o in result.outcomes.items()}
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
