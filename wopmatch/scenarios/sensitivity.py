"""Sensitivity of one solved round (``wopmatch sensitivity INSTANCE SOLUTION``).

Every figure here comes from **re-solving** a changed instance with the
solution's policy (a scenario each, run by the scenario runner, so in parallel
and with the same settings as a sweep) and comparing it with the unchanged
round's optimum: the solution's own values where it is a proven optimum of an
exact policy (any re-solve reaches the same values), else a re-solve of the
unchanged round. None is read from a dual. Labels say so.

- each mentor that is full: one more place, and what it gains;
- each donor: a larger budget (by ``step``, the median cost of the round's
  partnerships), and the gain;
- each unmatched mentee: "what would it take". Candidate single changes are
  built from why it is unmatched (one more place at a mentor it could have;
  the budget a donor lacks to fund it; a donor rule or a round rule relaxed;
  the forbidden pair allowed) and re-solved cheapest first (no money first,
  then the smallest extra budget, then a donor's rule, then a rule of the
  round) until one gets it matched in the re-solved answer; where none does,
  pairs of changes along its reasons are tried the same way.

Each mentee's questions are a chain (a generator sent each answer): the next
re-solve starts as soon as the answer it depends on comes in, on the same
workers, and a change asked more than once is re-solved once.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import Any, Generator, Optional

from ..models import Instance, Solution, parse_instance
from ..models.scenarios import MentorCapacity, SetBudget, parse_scenario_set
from ..models.sensitivity import KIND_ORDER, Delta, DonorValue, MenteeNeed, MentorValue, Proposal, Sensitivity
from ..solver import POLICIES, mentee_proposals
from .runner import Outcome, Task, build_tasks, run_sweep

#: Where no single change works, pairs are built from the first this many (cheapest first).
PAIR_TRIES = 2

#: A chain of questions: yields the changes to re-solve, is sent the answer (None: it failed).
Chain = Generator[list[dict[str, Any]], Optional[Solution], None]


def _partner(s: Optional[Solution], mentee: str) -> Optional[str]:
    if s is None:
        return None
    return next((x.mentor for x in s.partnerships if x.mentee == mentee), None)


def cheapest_first(props: list[Proposal]) -> list[int]:
    """Proposal indices in the order they are tried: no money first, then the smallest
    amount, then a donor's rule, then a rule of the round."""
    return sorted(range(len(props)), key=lambda k: (KIND_ORDER[props[k].kind], props[k].amount, k))


def ask_name(changes: list[dict[str, Any]]) -> str:
    """A re-solve's name from its changes alone (so the same on every run, whatever
    finished first): readable words, then a short hash that keeps names distinct."""
    if not changes:
        return "base"

    def words(v: Any) -> list[str]:
        if isinstance(v, dict):
            return [w for k, x in sorted(v.items()) for w in (k, *words(x))]
        if isinstance(v, list):
            return ["+".join(str(x) for x in v)]
        return [str(v)]

    def change(c: dict[str, Any]) -> str:
        return "-".join([str(c.get("op")), *words({k: v for k, v in c.items() if k != "op"})])

    text = re.sub(r"[^A-Za-z0-9+._-]+", "_", "_then_".join(change(c) for c in changes))[:48]
    return f"{text}-{hashlib.sha256(json.dumps(changes, sort_keys=True).encode()).hexdigest()[:6]}"


class _Resolver:
    """Runs chains of questions on the scenario runner's workers: each distinct change
    is re-solved once, and a chain goes on as soon as its answer comes in."""

    def __init__(self, instance: Instance, policy: str, node_limit: Optional[int], on_start) -> None:
        self.base, self.policy, self.node_limit, self.on_start = instance, policy, node_limit, on_start
        self.tasks: dict[str, Task] = {}
        self.answers: dict[str, Optional[Solution]] = {}
        self.errors: dict[str, Optional[str]] = {}
        self.waiting: dict[str, list[Chain]] = {}

    def start(self, chains: list[Chain]) -> list[Task]:
        return [t for c in chains for t in self._advance(c, None)]

    def answered(self, o: Outcome) -> list[Task]:
        """The runner's ``more``: record an answer, move the chains waiting on it on."""
        self.answers[o.name] = Solution.model_validate_json(o.solution_json) if o.solution_json else None
        self.errors[o.name] = o.error
        return [t for c in self.waiting.pop(o.name, []) for t in self._advance(c, self.answers[o.name])]

    def instance(self, changes: list[dict[str, Any]]) -> Instance:
        """The round as changed by ``changes`` (already asked)."""
        return parse_instance(json.loads(self.tasks[ask_name(changes)].instance_json), "sensitivity")

    def _advance(self, chain: Chain, value: Optional[Solution]) -> list[Task]:
        """Send ``value`` and run ``chain`` until it asks for an answer not known yet."""
        while True:
            try:
                changes = chain.send(value)
            except StopIteration:
                return []
            name = ask_name(changes)
            if name in self.answers:
                value = self.answers[name]
                continue
            self.waiting.setdefault(name, []).append(chain)
            if name in self.tasks:
                return []
            sset = parse_scenario_set({"base": "-", "policy": self.policy, "node_limit": self.node_limit,
                                       "scenarios": [{"name": name, "changes": changes}]})
            self.tasks[name] = build_tasks(sset, self.base)[0]
            if self.on_start is not None:
                self.on_start(len(self.tasks))
            return [self.tasks[name]]


def _one(changes: list[dict[str, Any]], into: dict[str, Optional[Solution]], key: str) -> Chain:
    into[key] = yield changes


def _mentee_chain(resolver: _Resolver, mentee: str, singles: list[Proposal], tried: dict[int, Optional[Solution]],
                  pairs: list[tuple[Proposal, Proposal, Optional[Solution]]]) -> Chain:
    """One unmatched mentee's questions: its single changes, cheapest first, until one
    matches it; where none does, each of its PAIR_TRIES cheapest changes followed by
    the change its reason calls for in that change's answer (mentee_proposals on the
    changed round), until a pair matches it."""
    order = cheapest_first(singles)
    for k in order:
        tried[k] = yield [singles[k].change]
        if _partner(tried[k], mentee):
            return
    for k in order[:PAIR_TRIES]:
        answer = tried[k]
        if answer is None or answer.objective is None:
            continue
        changed = resolver.instance([singles[k].change])
        nxt = mentee_proposals(changed, answer, mentees={mentee}).get(mentee, [])
        q = next((q for q in nxt if q.change != singles[k].change), None)
        if q is None:
            continue
        both = yield [singles[k].change, q.change]
        pairs.append((singles[k], q, both))
        if _partner(both, mentee):
            return


def chain_bound(singles: list[Proposal]) -> int:
    """The most re-solves one mentee's chain can ask for."""
    return len(singles) + min(PAIR_TRIES, len(singles))


def proven(solution: Solution) -> bool:
    """The solution's values are a proven optimum of its exact policy: any re-solve of the
    unchanged round reaches the same values, so it is not re-solved."""
    return (POLICIES[solution.policy].exact and solution.status == "optimal" and solution.objective is not None
            and all(st.status == "optimal" for st in solution.stats.stages))


def analyse(instance: Instance, sha256: str, solution: Solution, workers: int, dask: Optional[str],
            outdir, node_limit: Optional[int] = None, max_resolves: int = 200, on_done=None,
            on_start=None) -> Sensitivity:
    """Ask every question as a chain of re-solves (``on_start`` is told how many have been
    asked so far, ``on_done`` of each that finishes) and read the answers. Under
    ``max_resolves``, questions are admitted in order while they fit: the unchanged
    round when the solution is not proven, the full mentors, the donors, then each
    unmatched mentee with the most re-solves its chain could ask for."""
    t0 = time.perf_counter()
    resolver = _Resolver(instance, solution.policy, node_limit, on_start)
    chains: list[Chain] = []
    room = max_resolves

    def admit(need: int) -> bool:
        nonlocal room
        if need > room:
            return False
        room -= need
        return True

    got: dict[str, Optional[Solution]] = {}
    from_solution = proven(solution)
    if not from_solution:
        room -= 1  # every figure is a difference from the unchanged round: always re-solved
        chains.append(_one([], got, "base"))
    load: dict[str, int] = {}
    for p in solution.partnerships:
        load[p.mentor] = load.get(p.mentor, 0) + 1
    mentors = [op for op in instance.operators if op.mentor is not None]
    full = {op.id for op in mentors if load.get(op.id, 0) >= op.mentor.capacity}
    for op in mentors:
        if op.id in full and admit(1):
            chains.append(_one([MentorCapacity(op="mentor_capacity", operator=op.id,
                                               capacity=op.mentor.capacity + 1).model_dump()], got, f"place {op.id}"))
    step = _budget_step(solution)
    for d in instance.donors:
        if admit(1):
            chains.append(_one([SetBudget(op="set_budget", donor=d.id, budget=d.budget + step).model_dump()], got,
                               f"budget {d.id}"))
    proposals = mentee_proposals(instance, solution)
    tried: dict[str, dict[int, Optional[Solution]]] = {}
    pairs: dict[str, list[tuple[Proposal, Proposal, Optional[Solution]]]] = {}
    for u in solution.unmatched:
        singles = proposals.get(u.mentee, [])
        if singles and admit(chain_bound(singles)):
            tried[u.mentee], pairs[u.mentee] = {}, []
            chains.append(_mentee_chain(resolver, u.mentee, singles, tried[u.mentee], pairs[u.mentee]))
    run_sweep(resolver.start(chains), outdir, workers, dask, on_done, more=resolver.answered)
    reference = solution if from_solution else got.get("base")
    if reference is None or reference.objective is None:
        raise RuntimeError(f"the unchanged instance could not be re-solved: {resolver.errors.get('base')}")
    base = reference.objective

    def delta(s: Optional[Solution]) -> Optional[Delta]:
        if s is None or s.objective is None:
            return None
        return Delta(coverage=round(s.objective.coverage - base.coverage, 9),
                     quality=round(s.objective.quality - base.quality, 9),
                     cost=s.objective.cost - base.cost)

    mentor_values = []
    for op in mentors:
        key = f"place {op.id}"
        if op.id in full:
            label = "re-solved with one more place" if key in got else "full; not re-solved (--max-resolves)"
        else:
            label = "has free places: not re-solved" + ("" if instance.donors else " (worth nothing without donors)")
        mentor_values.append(MentorValue(mentor=op.id, capacity=op.mentor.capacity, load=load.get(op.id, 0),
                                         delta=delta(got.get(key)), label=label))
    committed = {d.id: d.committed for d in solution.donors}
    donor_values = []
    for d in instance.donors:
        key = f"budget {d.id}"
        dl = delta(got.get(key))
        donor_values.append(DonorValue(
            donor=d.id, budget=d.budget, committed=committed.get(d.id, 0), step=step, delta=dl,
            coverage_per_unit=None if dl is None else dl.coverage / step,
            label=f"re-solved with {step:,} more" if key in got else "not re-solved (--max-resolves)"))
    needs = []
    for u in solution.unmatched:
        singles = proposals.get(u.mentee, [])
        answers = tried.get(u.mentee, {})
        props = [_answered(p, answers[k], u.mentee, delta) if k in answers else p for k, p in enumerate(singles)]
        both = [_answered(_joint(instance, p, q), s, u.mentee, delta) for p, q, s in pairs.get(u.mentee, [])]
        needs.append(_need(u.mentee, u.reason, props, both, admitted=u.mentee in tried))
    return Sensitivity(
        instance_sha256=sha256, policy=solution.policy,
        method=solution.policy + ("" if node_limit is None else f", node limit {node_limit:,}"),
        base_from="solution" if from_solution else "re-solved",
        base=Delta(coverage=base.coverage, quality=base.quality, cost=base.cost),
        mentors=mentor_values, donors=donor_values, mentees=needs, resolves=len(resolver.tasks),
        seconds=round(time.perf_counter() - t0, 3))


def _answered(p: Proposal, s: Optional[Solution], mentee: str, delta) -> Proposal:
    partner = _partner(s, mentee)
    return p.model_copy(update={"matched": None if s is None else partner is not None, "partner": partner,
                                "delta": delta(s)})


def _joint(instance: Instance, p: Proposal, q: Proposal) -> Proposal:
    """Two changes made together, as one proposal. A second place at the same mentor,
    more money or one more partnership for the same donor is one larger change (``q``
    was built on the round ``p`` changed, so its figure already holds ``p``'s)."""
    kind = max(p.kind, q.kind, key=KIND_ORDER.__getitem__)
    a, b = p.change, q.change
    same = a.get("op") == b.get("op")
    if same and a["op"] == "set_budget" and a.get("donor") == b.get("donor"):
        total = p.amount + q.amount
        return Proposal(kind=kind, amount=total, change=b, text=f"{total:,} more for {b['donor']}",
                        why=f"the first {p.amount:,} funds others")
    if same and a["op"] == "mentor_capacity" and a.get("operator") == b.get("operator"):
        was = instance.operator(b["operator"]).mentor.capacity
        return Proposal(kind=kind, change=b, text=f"{b['capacity'] - was} more places at {b['operator']} "
                                                  f"({was} -> {b['capacity']})")
    if same and a["op"] == "donor_rules" and a.get("donor") == b.get("donor") \
            and set(a) == set(b) == {"op", "donor", "max_partnerships"}:
        was = next(d.max_partnerships for d in instance.donors if d.id == b["donor"])
        return Proposal(kind=kind, change=b, text=f"{b['donor']} funds {b['max_partnerships']} partnerships "
                                                  f"instead of {was}", why=q.why)
    return Proposal(kind=kind, amount=p.amount + q.amount, text=f"{p.text}, and then {q.text}", change=a, then=b,
                    why="; ".join(w for w in (p.why, q.why) if w))


#: Why nothing within the round can match a mentee for which no change could be built.
_NOTHING = {
    "no_mentor_strength": "no mentor in the round is strong in an area it needs",
    "no_eligible_donor": "no mentor passes the round's rules for it, so no donor's rule can help",
    "distance_rule": "no mentor passes the round's other rules for it",
    "below_min_score": "no mentor passes the round's other rules for it",
    "capacity": "no mentor it could have",
    "budget": "no mentor with room that a donor could fund",
}


def _need(mentee: str, reason: str, props: list[Proposal], pairs: list[Proposal], admitted: bool) -> MenteeNeed:
    def cheapest(items: list[Proposal]) -> Optional[int]:
        return next((k for k in cheapest_first(items) if items[k].matched), None)

    one, two = cheapest(props), cheapest(pairs)
    best = props[one] if one is not None else pairs[two] if two is not None else None
    tried = sum(p.matched is not None for p in props)
    if best is not None:
        verdict = f"{best.text}: then matched with {best.partner}"
    elif not props:
        verdict = f"nothing within the round can match it: {_NOTHING.get(reason, 'no change of the round applies')}"
    elif not admitted:
        verdict = f"not re-solved: its {len(props)} change(s) did not fit under --max-resolves"
    else:
        verdict = f"no change tried works ({tried} alone" + (f", {len(pairs)} in pairs)" if pairs else ")")
    return MenteeNeed(mentee=mentee, reason=reason, proposals=props, cheapest=one, pairs=pairs, cheapest_pair=two,
                      verdict=verdict)


def _budget_step(solution: Solution) -> int:
    """The median cost of the round's partnerships (one more partnership's worth)."""
    costs = sorted(p.cost for p in solution.partnerships if not p.pinned)
    return max(1, costs[len(costs) // 2]) if costs else 50_000
