"""Mentee-proposing deferred acceptance with mentor capacities (the ``stable`` policy's
algorithm; its rules are in policies/stable.py): on the whole candidate graph, or
with each mentee's list read from its stream where the graph is not built."""

from __future__ import annotations

import heapq
from typing import Optional

import numpy as np

from ..graph.compiled import kernels_apply
from ..graph.encoding import CandidateGraph, preference
from ..graph.streams import MenteeStreams, Streamed, first_donor
from ..tuning import StreamParams


def streamed_deferred_acceptance(g: CandidateGraph, params: StreamParams,
                                 use_kernels: Optional[bool] = None) -> Streamed:
    """deferred_acceptance with each mentee's list read from its stream (no candidate graph).
    ``use_kernels``: run it compiled (None: wherever that applies, compiled.kernels_apply)."""
    k = g.n_donors
    mentee_rank = g.mentee_rank
    if kernels_apply(g) if use_kernels is None else use_kernels:
        from ..graph import kernels

        i, j, eligible, refills = kernels.deferred_acceptance(g, g.mentor_rank, mentee_rank, params.chunk,
                                                                params.refill_growth, params.max_refill)
        return Streamed(i, j, np.full(len(i), -1, np.int64), eligible, refills)
    s = MenteeStreams(g, "stable", params)
    m_rank = mentee_rank.tolist()
    budget, count, capacity = g.budget.tolist(), g.max_count.tolist(), g.capacity.tolist()
    held: list[list[tuple[float, int, int]]] = [[] for _ in range(g.n_mentors)]  # (preference, -id rank, mentee)
    partner: dict[int, tuple[int, int, int]] = {}  # mentee -> (mentor, donor, cost)
    free = [i for i in np.flatnonzero(g.free_mentee).tolist() if s.head(i) is not None]
    free.reverse()
    while free:
        i = free.pop()
        while (h := s.head(i)) is not None:
            s.advance(i)
            j = h.mentor
            if capacity[j] <= 0:
                continue
            key = (h.held, -m_rank[i], i)  # how much the mentor wants it, then the lower id
            full = len(held[j]) >= capacity[j]
            if full and key <= held[j][0]:
                continue
            d = -1
            if k:
                d = first_donor(h.fund, h.cost, budget, count)
                if d < 0:
                    continue
                budget[d] -= h.cost
                count[d] -= 1
            partner[i] = (j, d, h.cost)
            if full:
                _, _, out = heapq.heapreplace(held[j], key)
                _, x, c = partner.pop(out)
                if x >= 0:
                    budget[x] += c
                    count[x] += 1
                free.append(out)
            else:
                heapq.heappush(held[j], key)
            break
    mentees = sorted(partner)
    return Streamed(np.array(mentees, np.int64), np.array([partner[i][0] for i in mentees], np.int64),
                    np.array([partner[i][1] for i in mentees], np.int64), s.eligible, s.refills)


def deferred_acceptance(g: CandidateGraph) -> tuple[np.ndarray, np.ndarray]:
    n, m, k = g.n_mentees, g.n_mentors, g.n_donors
    mentee_rank, mentor_rank = g.mentee_rank, g.mentor_rank
    # Preferences (encoding.preference) are on a stated level, then scores as the solution file
    # states them (9 decimals): 0.72 and 0.7200000000000001 are the same score, and ids break the tie.
    by_mentee, by_mentor = g.stated(g.pair_mentee, g.pair_mentor)
    wanted = preference(by_mentee, g.score)
    # Each mentee's list: its candidates by (its preference desc, mentor id asc).
    order = np.lexsort((mentor_rank[g.pair_mentor], -wanted, g.pair_mentee))
    starts = np.searchsorted(g.pair_mentee[order], np.arange(n + 1))
    nxt = starts[:-1].copy()
    end = starts[1:]
    pair_mentor = g.pair_mentor.tolist()
    held_key = preference(by_mentor, g.score).tolist()  # how much the mentor wants each candidate
    cost = g.cost.tolist()
    fundable = g.fundable.tolist() if k else None
    budget, count = g.budget.tolist(), g.max_count.tolist()
    capacity = g.capacity.tolist()
    order_l = order.tolist()
    m_rank = mentee_rank.tolist()
    held: list[list[tuple[float, int, int]]] = [[] for _ in range(m)]  # min-heap of (preference, -id rank, candidate)
    funder: dict[int, int] = {}  # candidate -> donor
    free = [i for i in range(n) if starts[i] < starts[i + 1]]
    free.reverse()  # propose in mentee index order (a stack)
    while free:
        i = free.pop()
        while nxt[i] < end[i]:
            e = order_l[nxt[i]]
            nxt[i] += 1
            j = pair_mentor[e]
            if capacity[j] <= 0:
                continue
            key = (held_key[e], -m_rank[i], e)
            full = len(held[j]) >= capacity[j]
            if full and key <= held[j][0]:
                continue  # the mentor prefers every mentee it holds
            d = -1
            if k:
                row = fundable[e]
                d = next((x for x in range(k) if row[x] and budget[x] >= cost[e] and count[x] > 0), -1)
                if d < 0:
                    continue  # no donor can fund it now
                budget[d] -= cost[e]
                count[d] -= 1
                funder[e] = d
            if full:
                _, _, out = heapq.heapreplace(held[j], key)
                if k:
                    x = funder.pop(out)
                    budget[x] += cost[out]
                    count[x] += 1
                free.append(int(g.pair_mentee[out]))
            else:
                heapq.heappush(held[j], key)
            break
    chosen = sorted(e for h in held for _, _, e in h)
    return np.array(chosen, np.int64), np.array([funder.get(e, -1) for e in chosen], np.int64)
