"""Incumbents from an LP relaxation (colgen.py): the columns of smallest
penalty (which certify.py's restricted MIPs are built from), and LP-fill: keep
the columns the LP optimum sets to 1 (a sub-assignment of a feasible point, so
feasible), then add columns in order of penalty while the mentee is free, the
mentor has room and the donor has budget and count.
"""

from __future__ import annotations

import numpy as np

from ..graph.encoding import CandidateGraph
from .colgen import BLOCK, Relaxed


def smallest_penalties(g: CandidateGraph, relaxed: Relaxed, most: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``most`` columns (pair, donor) of smallest penalty, in penalty order
    (ties: lower pair, then lower donor first)."""
    k = max(g.n_donors, 1)
    keep_pen, keep_col = np.zeros(0), np.zeros(0, np.int64)
    for lo in range(0, g.n_candidates, BLOCK):
        pairs = np.arange(lo, min(lo + BLOCK, g.n_candidates))
        pen = relaxed.penalty(g, lo, lo + len(pairs)).ravel()
        col = (pairs[:, None] * k + np.arange(k)[None, :]).ravel()
        ok = np.isfinite(pen)
        pen, col = np.concatenate([keep_pen, pen[ok]]), np.concatenate([keep_col, col[ok]])
        if len(pen) > most:
            cut = np.argpartition(pen, most - 1)[:most]
            pen, col = pen[cut], col[cut]
        keep_pen, keep_col = pen, col
    order = np.lexsort((keep_col, keep_pen))
    col = keep_col[order]
    return col // k, col % k


def lp_fill(g: CandidateGraph, relaxed: Relaxed, pairs: np.ndarray, donors: np.ndarray,
            ) -> tuple[np.ndarray, np.ndarray]:
    """The LP optimum's integral columns, then ``pairs``/``donors`` in order,
    each added while it fits."""
    whole = relaxed.col_x > 1 - 1e-6
    taken = np.zeros(g.n_mentees, bool)
    room = g.capacity.astype(np.int64).copy()
    budget = g.budget.astype(np.int64).copy()
    count = g.max_count.astype(np.int64).copy()
    out_p: list[int] = []
    out_d: list[int] = []
    first = zip(relaxed.col_pair[whole].tolist(), relaxed.col_donor[whole].tolist(), strict=True)
    rest = zip(np.asarray(pairs).tolist(), np.asarray(donors).tolist(), strict=True)
    for source in (first, rest):
        for e, d in source:
            i, j, c = int(g.pair_mentee[e]), int(g.pair_mentor[e]), int(g.cost[e])
            if taken[i] or room[j] <= 0 or (g.n_donors and (budget[d] < c or count[d] <= 0)):
                continue
            taken[i] = True
            room[j] -= 1
            if g.n_donors:
                budget[d] -= c
                count[d] -= 1
            out_p.append(e)
            out_d.append(d if g.n_donors else -1)
    return np.asarray(out_p, np.int64), np.asarray(out_d, np.int64)
