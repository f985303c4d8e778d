"""Runner-up mentors for every mentee (``solve --alternates K``).

For each mentee, its K best eligible mentors other than its partner, by score
(ties: mentor order in the instance), each with why the matching did not use
it, judged against the matching as it stands:

- ``full``: the mentor has no free place (its partnerships, pinned ones
  included, fill its capacity);
- ``budget``: it has room, but every donor that could fund the pair has too
  little budget or count left (instances with donors only);
- ``lower_score``: it has room and funding, and scores below the mentee's partner;
- ``available``: it has room and funding, and scores at least as well, or the
  mentee is unmatched. An optimal matching leaves no unmatched mentee with an
  available alternate (matching it would raise coverage).

Eligible pairs are encoded in blocks of mentees, as everywhere else, so the
cost is one pass over the pairs whatever the size.
"""

from __future__ import annotations

import numpy as np

from ...models.solution import Alternate, MenteeAlternates, Solution
from ..graph.encoding import BLOCK_PAIRS, CandidateGraph
from .decode import DIGITS


def find_alternates(g: CandidateGraph, solution: Solution, k: int) -> list[MenteeAlternates]:
    if k <= 0:
        return []
    n, m = g.n_mentees, g.n_mentors
    mentee_at, mentor_at = g.mentee_index, g.mentor_index
    donor_at = {d: x for x, d in enumerate(g.donor_ids)}
    partner = np.full(n, -1, np.int64)
    partner_score = np.full(n, -np.inf)
    load = np.zeros(m, np.int64)
    left = g.budget.copy()  # the graph's capacities, budgets and counts are those left after the pins
    count_left = g.max_count.copy()
    for p in solution.partnerships:
        i, j = mentee_at[p.mentee], mentor_at[p.mentor]
        partner[i], partner_score[i] = j, p.score
        if p.pinned:
            continue
        load[j] += 1
        if p.donor is not None:
            left[donor_at[p.donor]] -= p.cost
            count_left[donor_at[p.donor]] -= 1
    room = load < g.capacity

    out: list[MenteeAlternates] = []
    step = max(1, BLOCK_PAIRS // max(1, m))
    for start in range(0, n, step):
        rows = np.arange(start, min(n, start + step))
        block = g.pair_block(rows)
        ok = g.eligible(block)
        has_partner = partner[rows] >= 0
        ok[np.flatnonzero(has_partner), partner[rows][has_partner]] = False
        score = np.where(ok, block.score, -np.inf)
        kk = min(k, m)
        # best kk per row by (score desc, mentor asc): a stable sort of -score
        top = np.argsort(-score, axis=1, kind="stable")[:, :kk]
        if g.has_donors:
            fund = g.fundable_in_block(block)  # (B, m, donors)
            money = (left[None, None, :] >= block.cost[:, :, None]) & (count_left[None, None, :] > 0)
            funded = (fund & money).any(axis=2)
        else:
            funded = np.ones_like(ok)
        for r, i in enumerate(rows):
            alts = []
            for j in top[r]:
                if not ok[r, j]:
                    break
                if not room[j]:
                    status = "full"
                elif not funded[r, j]:
                    status = "budget"
                elif round(float(block.score[r, j]), DIGITS) < partner_score[i]:  # as the files state them
                    status = "lower_score"
                else:
                    status = "available"
                alts.append(Alternate(mentor=g.mentor_id(int(j)), score=round(float(block.score[r, j]), DIGITS),
                                      cost=int(block.cost[r, j]), status=status))
            out.append(MenteeAlternates(mentee=g.mentee_id(int(i)), alternates=alts))
    out.sort(key=lambda a: a.mentee)
    return out
