"""The greedy heuristic: the hand method facilitators use.

Candidates are taken in descending score (ties: mentee id, then mentor id, as
encoded) when the mentee is still free, the mentor has room and, with donors,
some donor that can fund the pair has budget and count left; the first such
donor in instance order funds it. O(E log E); also the MIP's starting point.
"""

from __future__ import annotations

import heapq
from typing import Optional

import numpy as np

from ..graph.compiled import kernels_apply
from ..graph.encoding import CandidateGraph
from ..graph.streams import MenteeStreams, Order, Streamed, first_donor
from ..tuning import StreamParams

#: Candidates handled per chunk of the Python scan (bounded memory for Python lists).
CHUNK = 1 << 20
#: From this many pairs to scan on, the compiled scan (graph/kernels.take_in_order) runs:
#: 9.3 s -> 3.0 s at 20,000 x 5,000 x 5 (2.5 s of it the sort by score); below, loading
#: numba in a fresh process costs more than it saves (the test suite, full of small solves
#: in child processes, took 26 s longer with the compiled scan everywhere).
COMPILED_MIN_PAIRS = 1_000_000


def greedy_assignment(g: CandidateGraph, order: np.ndarray | None = None,
                      compiled: Optional[bool] = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (candidate indices, donor index or -1) of a feasible assignment,
    taking candidates in ``order`` (default: descending score). Any order gives
    a maximal assignment: no pair left out could still be added. ``compiled``:
    scan with the numba kernel (None: from COMPILED_MIN_PAIRS pairs in ``order`` on)."""
    if order is None:
        # Candidates are encoded in (mentee, mentor) order, so a stable sort on the
        # score alone breaks ties by mentee, then mentor.
        order = np.argsort(-g.score, kind="stable")
    if len(order) >= COMPILED_MIN_PAIRS if compiled is None else compiled:
        from ..graph.kernels import take_in_order  # numba loads only for a large scan

        out_pair = np.empty(g.n_mentees, np.int64)
        out_donor = np.empty(g.n_mentees, np.int64)
        n = take_in_order(np.ascontiguousarray(order, np.int64), g.pair_mentee, g.pair_mentor, g.cost, g.fundable,
                          g.capacity.astype(np.int64), g.budget.astype(np.int64), g.max_count.astype(np.int64),
                          g.n_mentees, out_pair, out_donor)
        return out_pair[:n], out_donor[:n]
    taken = bytearray(g.n_mentees)
    room = g.capacity.tolist()
    budget = g.budget.tolist()
    count = g.max_count.tolist()
    k = g.n_donors
    donor_bits = [1 << d for d in range(k)]
    cheapest = int(g.cost.min(initial=0))
    pairs: list[int] = []
    donors: list[int] = []
    for start in range(0, len(order), CHUNK):
        idx = order[start:start + CHUNK]
        # Which donors can fund each pair, as one integer bit mask per pair.
        masks = (g.fundable[idx].astype(np.int64) << np.arange(k)).sum(axis=1) if k else np.zeros(len(idx), np.int64)
        for e, i, j, c, mask in zip(idx.tolist(), g.pair_mentee[idx].tolist(), g.pair_mentor[idx].tolist(),
                                    g.cost[idx].tolist(), masks.tolist(), strict=True):
            if taken[i] or room[j] <= 0:
                continue
            d = -1
            if k:
                for x in range(k):  # the first donor in instance order with room
                    if mask & donor_bits[x] and budget[x] >= c and count[x] > 0:
                        d = x
                        break
                if d < 0:
                    continue
                budget[d] -= c
                count[d] -= 1
            taken[i] = 1
            room[j] -= 1
            pairs.append(e)
            donors.append(d)
        if k and not any(b >= cheapest and n > 0 for b, n in zip(budget, count, strict=True)):
            break  # no donor can fund even the cheapest pair: nothing more can be taken
    return np.array(pairs, np.int64), np.array(donors, np.int64)


def streamed_greedy(g: CandidateGraph, order: Order, params: StreamParams, seed: int = 0,
                    use_kernels: Optional[bool] = None) -> Streamed:
    """greedy_assignment in the order of ``order``, merging the mentees' streams.
    ``use_kernels``: run the compiled merge (None: wherever it applies, compiled.kernels_apply)."""
    if kernels_apply(g) if use_kernels is None else use_kernels:
        from ..graph import kernels

        i, j, eligible, refills = kernels.greedy(g, order, seed, params.chunk, params.refill_growth, params.max_refill)
        return Streamed(i, j, np.full(len(i), -1, np.int64), eligible, refills)
    s = MenteeStreams(g, order, params, seed)
    heap = []
    for i in np.flatnonzero(g.free_mentee).tolist():
        h = s.head(i)
        if h is not None:
            heap.append((h.key, i, s.secondary(h)))
    heapq.heapify(heap)
    room, budget, count = g.capacity.tolist(), g.budget.tolist(), g.max_count.tolist()
    alive = g.capacity > 0
    s.alive = alive  # a full mentor never frees up in greedy: refills skip it
    out: list[tuple[int, int, int]] = []
    while heap:
        _, i, _ = heapq.heappop(heap)
        h = s.head(i)
        assert h is not None
        j = h.mentor
        if room[j] > 0:
            d = first_donor(h.fund, h.cost, budget, count) if g.has_donors else -1
            if d >= 0 or not g.has_donors:
                room[j] -= 1
                if room[j] == 0:
                    alive[j] = False
                if d >= 0:
                    budget[d] -= h.cost
                    count[d] -= 1
                out.append((i, j, d))
                continue
        s.advance(i)
        h = s.head(i)
        if h is not None:
            heapq.heappush(heap, (h.key, i, s.secondary(h)))
    arr = np.array(out, np.int64).reshape(-1, 3)
    return Streamed(arr[:, 0], arr[:, 1], arr[:, 2], s.eligible, s.refills)
