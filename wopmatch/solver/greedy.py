"""The greedy heuristic: the hand method facilitators use.

Candidates are taken in descending score (ties: mentee id, then mentor id, as
encoded) when the mentee is still free, the mentor has room and, with donors,
some donor that can fund the pair has budget and count left; the first such
donor in instance order funds it. O(E log E); also the MIP's starting point.
"""

from __future__ import annotations

import numpy as np

from .encoding import CandidateGraph


def greedy_assignment(g: CandidateGraph) -> tuple[np.ndarray, np.ndarray]:
    """Return (candidate indices, donor index or -1) of a feasible assignment."""
    order = np.lexsort((g.pair_mentor, g.pair_mentee, -g.score))
    taken = np.zeros(g.n_mentees, bool)
    room = g.capacity.copy()
    budget = g.budget.copy()
    count = g.max_count.copy()
    pairs: list[int] = []
    donors: list[int] = []
    mentee, mentor, cost = g.pair_mentee, g.pair_mentor, g.cost
    fundable = g.fundable
    for e in order.tolist():
        i, j = mentee[e], mentor[e]
        if taken[i] or room[j] <= 0:
            continue
        d = -1
        if g.has_donors:
            ok = fundable[e] & (budget >= cost[e]) & (count > 0)
            if not ok.any():
                continue
            d = int(np.argmax(ok))
            budget[d] -= cost[e]
            count[d] -= 1
        taken[i] = True
        room[j] -= 1
        pairs.append(e)
        donors.append(d)
    return np.array(pairs, np.int64), np.array(donors, np.int64)
