"""What it would take to match each unmatched mentee: candidate single changes
of the round, built from why it is unmatched (``wopmatch sensitivity`` re-solves
each one; docs/scenarios.md, "Sensitivity").

- capacity: one more place at a mentor it could have (best score first);
- budget: the budget a donor lacks to fund it with a mentor that has room, and a
  whole partnership's worth (only the latter where the two are within BUDGET_SAME
  of the cost), or one more partnership for a donor at its count;
- no_eligible_donor: the smallest change of a donor's rules that lets it fund
  the mentee's best eligible pair;
- forbidden: the forbidden pair allowed;
- the rules of the round: the one rule that stops it, relaxed.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ...models import Instance, Solution
from ...models.scenarios import AllowPair, DonorRules, MentorCapacity, SetBudget, SetRules
from ...models.sensitivity import Proposal
from ..graph.encoding import BLOCK_PAIRS, CandidateGraph, PairBlock, build_graph


#: A donor short of a pair's whole cost by more than this share of it is asked for the whole
#: cost only: the shortfall is nearly the same change, and each change asked is a re-solve
#: (on the demo, five mentees' two asks differed by 39 of 26,000-39,000).
BUDGET_SAME = 0.1


def _rules(**fields: Any) -> SetRules:
    return SetRules(op="rules", set=fields)


def mentee_proposals(instance: Instance, solution: Solution, per_kind: int = 2,
                     mentees: Optional[set[str]] = None) -> dict[str, list[Proposal]]:
    """Candidate single changes for each unmatched mentee (of ``mentees`` only, when
    given), built from its reason (at most ``per_kind`` of each kind). Only those
    mentees' rows of pairs are encoded, block by block: the whole candidate graph is
    never built."""
    g = build_graph(instance, candidates=False)
    loads: dict[str, int] = {}
    for p in solution.partnerships:
        loads[p.mentor] = loads.get(p.mentor, 0) + 1
    committed = {d.id: d.committed for d in solution.donors}
    remaining = {d.id: d.budget - committed.get(d.id, 0) for d in instance.donors}
    used = {d.id: d.partnerships for d in solution.donors}
    count_left = {d.id: (None if d.max_partnerships is None else d.max_partnerships - used.get(d.id, 0))
                  for d in instance.donors}
    caps = {op.id: op.mentor.capacity for op in instance.operators if op.mentor is not None}
    unmatched = {g.mentee_index[u.mentee]: u for u in solution.unmatched
                 if u.mentee in g.mentee_index and (mentees is None or u.mentee in mentees)}
    rows_all = np.array(sorted(unmatched), np.int64)
    out: dict[str, list[Proposal]] = {}
    step = max(1, BLOCK_PAIRS // max(1, g.n_mentors))
    for start in range(0, len(rows_all), step):
        block = g.pair_block(rows_all[start:start + step])
        eligible = g.eligible(block)
        fund = g.fundable_in_block(block) if g.has_donors else None
        # a candidate: eligible and, with donors, fundable by some donor (as in the candidate graph)
        candidate = eligible if fund is None else eligible & fund.any(axis=2)
        for r, i in enumerate(block.rows.tolist()):
            u = unmatched[i]
            row = _Row(g, block, r, eligible[r], candidate[r], None if fund is None else fund[r])
            if u.reason == "capacity":
                props = _place_proposals(row, caps, per_kind)
            elif u.reason == "budget":
                props = _budget_proposals(row, instance, u.mentee, loads, caps, remaining, count_left, per_kind)
            elif u.reason == "no_eligible_donor":
                props = _donor_rule_proposals(row, instance, u.mentee, per_kind)
            elif u.reason == "forbidden":
                props = [Proposal(kind="allow_pair", text=f"allow the forbidden pair {f.mentee} - {f.mentor}",
                                  change=AllowPair(op="allow_pair", mentee=f.mentee, mentor=f.mentor).model_dump())
                         for f in instance.forbidden if f.mentee == u.mentee][:per_kind]
            else:
                rule = _rule_proposal(row, instance, u.reason)
                props = [] if rule is None else [rule]
            out[u.mentee] = props
    return {u.mentee: out[u.mentee] for u in solution.unmatched if u.mentee in out}


class _Row:
    """One unmatched mentee's row of pairs: its candidates (eligible and, with
    donors, fundable by some donor), best score first (ties: mentor order)."""

    def __init__(self, g: CandidateGraph, block: PairBlock, r: int, eligible: np.ndarray, candidate: np.ndarray,
                 fund: Optional[np.ndarray]) -> None:
        self.g, self.block, self.r, self.eligible, self.fund = g, block, r, eligible, fund
        cols = np.flatnonzero(candidate)
        self.best_first = cols[np.lexsort((cols, -block.score[r, cols]))]

    def mentor(self, j: int) -> str:
        return self.g.mentor_id(int(j))

    def cost(self, j: int) -> int:
        return int(self.block.cost[self.r, j])


def _place_proposals(row: _Row, caps: dict[str, int], per_kind: int) -> list[Proposal]:
    props = []
    for j in row.best_first[:per_kind]:
        mentor = row.mentor(j)
        props.append(Proposal(kind="place", text=f"one more place at {mentor} ({caps[mentor]} -> {caps[mentor] + 1})",
                              change=MentorCapacity(op="mentor_capacity", operator=mentor,
                                                    capacity=caps[mentor] + 1).model_dump()))
    return props


def _budget_proposals(row: _Row, instance: Instance, mentee: str, loads: dict[str, int], caps: dict[str, int],
                      remaining: dict[str, int], count_left: dict[str, Optional[int]],
                      per_kind: int) -> list[Proposal]:
    """One more partnership for a donor at its count; the budget a donor lacks to
    fund the mentee with a mentor that has room, and a whole partnership more."""
    assert row.fund is not None
    props = []
    options = []
    capped: dict[str, str] = {}  # donor at its max_partnerships -> a mentor with room it could fund
    donor_ids = row.g.donor_ids
    for j in row.best_first:
        mentor = row.mentor(j)
        if loads.get(mentor, 0) >= caps[mentor]:
            continue
        for k, d in enumerate(donor_ids):
            if not row.fund[j, k]:
                continue
            if count_left.get(d) is not None and count_left[d] <= 0:
                capped.setdefault(d, mentor)
                continue
            short = row.cost(j) - remaining[d]
            if short > 0:
                options.append((short, d, mentor, row.cost(j)))
    for d, mentor in sorted(capped.items())[:per_kind]:
        cap = next(x.max_partnerships for x in instance.donors if x.id == d)
        props.append(Proposal(kind="donor_rule", text=f"{d} funds {cap + 1} partnerships instead of {cap}",
                              why=f"for {mentee} with {mentor}",
                              change=DonorRules(op="donor_rules", donor=d,
                                                max_partnerships=cap + 1).model_dump(exclude_unset=True)))
    seen: set[str] = set()
    for short, d, mentor, cost in sorted(options):
        if d in seen:
            continue
        seen.add(d)
        budget = next(x.budget for x in instance.donors if x.id == d)
        # what the donor lacks for this pair, and a whole partnership more (the optimum may move others);
        # one of the two when they are nearly the same change
        asks = [(cost, f"the whole cost of {mentee} with {mentor}")]
        if short < (1 - BUDGET_SAME) * cost:
            asks.insert(0, (short, f"what it lacked to fund {mentee} with {mentor} (cost {cost:,})"))
        for amount, why in asks:
            props.append(Proposal(kind="budget", amount=amount, text=f"{amount:,} more for {d}", why=why,
                                  change=SetBudget(op="set_budget", donor=d, budget=budget + amount).model_dump()))
        if len(seen) >= per_kind:
            break
    return props


def _donor_rule_proposals(row: _Row, instance: Instance, mentee: str, per_kind: int) -> list[Proposal]:
    """For a mentee no donor may fund: the smallest rule change of a donor (the
    largest budgets first) that lets it fund the mentee's best eligible pair."""
    g, block, r = row.g, row.block, row.r
    ok = row.eligible
    if not ok.any():
        return []
    j = int(np.flatnonzero(ok)[np.argmax(block.score[r][ok])])
    op = instance.operator(mentee)
    focus = g.focus_names(int(block.focus[r, j]))
    cost = int(block.cost[r, j])
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
            for k, v in fields.items())
        props.append(Proposal(kind="donor_rule", text=text, why=f"for {mentee} with {g.mentor_id(j)}",
                              change=DonorRules(op="donor_rules", donor=d.id, **fields).model_dump(exclude_unset=True)))
        if len(props) >= per_kind:
            break
    return props


def _rule_proposal(row: _Row, instance: Instance, reason: str) -> Optional[Proposal]:
    rules = instance.rules
    if reason == "no_shared_language":
        return Proposal(kind="rule", text="drop the shared-language rule (rules.language = ignore)",
                        change=_rules(language="ignore").model_dump())
    if reason == "region_rule":
        return Proposal(kind="rule", text="allow partners across regions (rules.region = any)",
                        change=_rules(region="any").model_dump())
    g, block, r = row.g, row.block, row.r
    base = block.not_self[r] & (block.focus[r] != 0) & ~block.forbidden[r]
    if rules.language == "hard":
        base &= block.shared_language[r]
    if rules.region == "same":
        base &= block.same_region[r]
    if reason == "distance_rule" and base.any():
        need = float(np.ceil(block.distance[r][base].min()))
        return Proposal(kind="rule", text=f"allow partners up to {need:,.0f} km (rules.max_distance_km, now "
                                          f"{rules.max_distance_km:,.0f})",
                        change=_rules(max_distance_km=need).model_dump())
    if reason == "below_min_score":
        if rules.max_distance_km is not None:
            base &= block.distance[r] <= rules.max_distance_km
        if base.any():
            best = float(np.floor(block.score[r][base].max() * 1e6) / 1e6)
            return Proposal(kind="rule", text=f"lower the minimum score to {best:g} (rules.min_score, now "
                                              f"{rules.min_score:g})", change=_rules(min_score=best).model_dump())
    if reason == "no_mentor_strength":
        needs = g.mentees.levels[block.rows[r]] > 0
        strongest = int(g.mentors.levels[:, needs].max(initial=0)) if needs.any() else 0
        if strongest >= 1:
            return Proposal(kind="rule", change=_rules(min_strength=strongest).model_dump(),
                            text=f"accept mentors of strength {strongest} "
                                 f"(rules.min_strength, now {rules.min_strength})")
    return None


