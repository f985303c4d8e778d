"""Metrics of a solution, for comparing policies (docs/policies.md#metrics).

Everything but the blocking pairs follows from the instance and the solution.
A blocking pair is an eligible pair (i, j) outside the matching that both would
rather have: mentee i is unmatched or prefers j to its partner, and mentor j
has a free place or prefers i to one of its mentees. Preferences are by the level
each stated about the other, then by score, ties broken by the lower id (as the
``stable`` policy proposes; encoding.preference). Pinned
partnerships are fixed: their mentees never block, and the places they take
are not free. Funding is not considered, so with donors a pair may block
although no donor could fund it. Counted over every eligible pair, in blocks
(or pair by pair by the compiled kernel of kernels.py on large instances).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, Iterable, Optional

import numpy as np

from ...models.instance import Instance
from ...models.solution import GroupMetrics, Metrics, Solution, Wishes
from ..graph.compiled import KERNEL_MIN_PAIRS, kernels_apply
from ..graph.encoding import BLOCK_PAIRS, CandidateGraph, preference


def solution_metrics(instance: Instance, solution: Solution, graph: CandidateGraph) -> Metrics:
    ops = {op.id: op for op in instance.operators}
    mentees = [op for op in instance.operators if op.mentee is not None]
    partner = {p.mentee: p for p in solution.partnerships}
    total_weight = sum(op.mentee.weight for op in mentees)  # type: ignore[union-attr]
    coverage = sum(ops[m].mentee.weight for m in partner)  # type: ignore[union-attr]
    scores = [p.score for p in solution.partnerships]
    cost = sum(p.cost for p in solution.partnerships)
    quality = sum(ops[p.mentee].mentee.weight * p.score for p in solution.partnerships)  # type: ignore[union-attr]

    def groups(key) -> dict[str, GroupMetrics]:
        members: dict[str, list[Any]] = defaultdict(list)
        for op in mentees:
            for g in key(op):
                members[g].append(op)
        return {g: _group(ops_, partner) for g, ops_ in sorted(members.items())}

    load = Counter(p.mentor for p in solution.partnerships)
    mentors = [op for op in instance.operators if op.mentor is not None]
    histogram = Counter(load.get(op.id, 0) for op in mentors)
    capacity = sum(op.mentor.capacity for op in mentors)  # type: ignore[union-attr]
    return Metrics(
        mentees=len(mentees), matched=len(partner), coverage=round(coverage, 9),
        coverage_rate=_rate(coverage, total_weight), match_rate=_rate(len(partner), len(mentees)),
        by_region=groups(lambda op: [op.region]), by_language=groups(lambda op: op.languages),
        by_work_area=groups(lambda op: [a for a in instance.work_areas if op.mentee.needs.get(a, 0) >= 1]),
        quality=round(quality, 9), mean_score=round(sum(scores) / len(scores), 9) if scores else None,
        min_score=min(scores) if scores else None, cost=cost,
        cost_per_matched=round(cost / len(partner), 2) if partner else None,
        mentors=len(mentors), mentors_used=len(load),
        mentors_full=sum(load.get(op.id, 0) >= op.mentor.capacity > 0 for op in mentors),  # type: ignore[union-attr]
        mentor_load={str(k): v for k, v in sorted(histogram.items())},
        capacity_used=_rate(sum(load.values()), capacity),
        donor_utilisation={d.id: _rate(d.committed, d.budget) for d in solution.donors},
        blocking_pairs=blocking_pairs(graph, solution),
        wishes=wishes(graph, solution),
        gap_coverage=solution.gap.coverage, gap_quality=solution.gap.quality, gap_cost=solution.gap.cost,
    )


def wishes(g: CandidateGraph, solution: Solution) -> Optional[dict[str, Wishes]]:
    """Per side, the operators that rated a possible partner 1 or 2 and how many of them got
    one (and one they rated 2); None when no operator states an interest. From the graph's
    stated pairs (every mentee-mentor pair either side rated), so at numpy's speed."""
    if not g.has_interests:
        return None
    mentee, mentor = np.divmod(g.stated_key, max(1, g.n_mentors))
    ii = np.array([g.mentee_index[p.mentee] for p in solution.partnerships], np.int64)
    jj = np.array([g.mentor_index[p.mentor] for p in solution.partnerships], np.int64)
    got_me, got_mo = g.stated(ii, jj)  # each partnership's levels, as each side stated them
    out = {}
    for name, who, rated, partner_of, got, size in (
            ("mentees", mentee, g.stated_by_mentee, ii, got_me, g.n_mentees),
            ("mentors", mentor, g.stated_by_mentor, jj, got_mo, g.n_mentors)):
        stated = np.zeros(size, bool)
        stated[who[rated > 0]] = True
        best = np.zeros(size, np.int64)  # the highest level each got among its partnerships
        np.maximum.at(best, partner_of, got)
        out[name] = Wishes(stated=int(stated.sum()), met=int((stated & (best > 0)).sum()),
                           first_choice=int((stated & (best == 2)).sum()))
    return out


def _group(members: Iterable[Any], partner: dict[str, Any]) -> GroupMetrics:
    members = list(members)
    weight = sum(op.mentee.weight for op in members)
    matched = [op for op in members if op.id in partner]
    cov = sum(op.mentee.weight for op in matched)
    return GroupMetrics(mentees=len(members), matched=len(matched), coverage=round(cov, 9),
                        coverage_rate=_rate(cov, weight), match_rate=_rate(len(matched), len(members)))


def _rate(a: float, b: float) -> float | None:
    return round(a / b, 9) if b else None


def blocking_pairs(g: CandidateGraph, solution: Solution, compiled: Optional[bool] = None) -> int:
    """The number of blocking pairs (module docstring), over every eligible pair.
    ``compiled``: count with the compiled kernel (None: where it applies, from KERNEL_MIN_PAIRS pairs on)."""
    n, m = g.n_mentees, g.n_mentors
    if n == 0 or m == 0:
        return 0
    mentee_rank, mentor_rank = g.mentee_rank, g.mentor_rank
    mentee_at, mentor_at = g.mentee_index, g.mentor_index
    # each mentee's partner (score, mentor rank); unmatched: -inf
    p_score = np.full(n, -np.inf)
    p_rank = np.full(n, m, np.int64)
    # each mentor's worst mentee (score, mentee rank; the worst has the lowest
    # score, then the highest id rank) and its load, pinned partnerships aside
    w_score = np.full(m, np.inf)
    w_rank = np.full(m, -1, np.int64)
    load = np.zeros(m, np.int64)
    kept = [p for p in solution.partnerships if not p.pinned]
    ii = np.array([mentee_at[p.mentee] for p in kept], np.int64)
    jj = np.array([mentor_at[p.mentor] for p in kept], np.int64)
    by_mentee, by_mentor = g.stated(ii, jj)
    scores = np.array([p.score for p in kept], np.float64)
    for i, j, mine, theirs in zip(ii.tolist(), jj.tolist(), preference(by_mentee, scores).tolist(),
                                  preference(by_mentor, scores).tolist()):
        p_score[i], p_rank[i] = mine, mentor_rank[j]
        load[j] += 1
        r = mentee_rank[i]
        if theirs < w_score[j] or (theirs == w_score[j] and r > w_rank[j]):
            w_score[j], w_rank[j] = theirs, r
    room = load < g.capacity
    rows_all = np.flatnonzero(g.free_mentee)
    if compiled is None:  # numba is imported only for instances that large
        compiled = n * m >= KERNEL_MIN_PAIRS and kernels_apply(g, funding=False)
    if compiled:  # the same count, pair by pair
        from ..graph import kernels

        return kernels.count_blocking(g, rows_all, p_score, p_rank, w_score, w_rank, room, mentor_rank, mentee_rank)
    total = 0
    step = max(1, BLOCK_PAIRS // m)
    for start in range(0, len(rows_all), step):
        rows = rows_all[start:start + step]
        block = g.pair_block(rows, costs=False)
        ok = g.eligible(block)
        s = preference(block.wish_mentee, block.score)  # as the solution file states scores
        ps, pr = p_score[rows][:, None], p_rank[rows][:, None]
        mentee_wants = (s > ps) | ((s == ps) & (mentor_rank[None, :] < pr))
        mi = mentee_rank[rows][:, None]
        t = preference(block.wish_mentor, block.score)
        mentor_wants = room[None, :] | (t > w_score[None, :]) | ((t == w_score[None, :]) & (mi < w_rank[None, :]))
        total += int((ok & mentee_wants & mentor_wants & (g.capacity[None, :] > 0)).sum())
    return total
