"""Compiled passes over every (pair, donor) column for colgen.py (numba): a
round's pricing and a stage's penalties, a million pairs at a time in numpy took
2.5 s and 2.6 s at 20,000 x 5,000 x 5 (28.7 million pairs), compiled 0.33 s and 0.31 s
(colgen.COMPILED_MIN_COLUMNS: from 2 million columns on).

Both compute r'(e, d) = a_e - u_j - b_d cost_e - c_d with the same operations
in the same order as colgen.Relaxed.values, so the results are bit for bit
numpy's (tests/test_colgen.py compares them). Single-threaded: deterministic.
``cache=True`` keeps the compiled code beside this file; ``warm()`` fills the
cache (``make`` runs it after installing).
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True)
def price_kernel(starts, pair_mentor, cost, fundable, a, u, b, c, mentee_dual, tol, most,
                 best, out_pair, out_donor):
    """One pass over the pairs, mentee by mentee (``starts``: where each one's
    pairs begin, and the end): r'(e, d) as colgen.Relaxed.values computes it
    (the same operations in the same order), each mentee's largest into
    ``best`` (at least 0), and its ``most`` pairs of largest reduced cost above
    ``tol`` (each with the donor of the largest r', the first on ties), in pair
    order, appended to out_pair / out_donor. Returns how many were appended."""
    k = fundable.shape[1]
    top_rc = np.empty(most)
    top_pair = np.empty(most, np.int64)
    top_donor = np.empty(most, np.int64)
    count = 0
    for i in range(len(starts) - 1):
        held = 0
        bi = 0.0
        for e in range(starts[i], starts[i + 1]):
            base = a[e] - u[pair_mentor[e]]
            ce = np.float64(cost[e])
            v = -np.inf
            dv = -1
            for d in range(k):
                if fundable[e, d]:
                    x = base - b[d] * ce - c[d]
                    if x > v or dv < 0:
                        v = x
                        dv = d
            if dv < 0:
                continue
            if v > bi:
                bi = v
            rc = v - mentee_dual[i]
            if not rc > tol:
                continue
            if held < most:
                pos = held
                held += 1
            elif rc > top_rc[held - 1]:
                pos = held - 1
            else:
                continue
            while pos > 0 and rc > top_rc[pos - 1]:  # ties keep the earlier pair ahead
                top_rc[pos] = top_rc[pos - 1]
                top_pair[pos] = top_pair[pos - 1]
                top_donor[pos] = top_donor[pos - 1]
                pos -= 1
            top_rc[pos] = rc
            top_pair[pos] = e
            top_donor[pos] = dv
        best[i] = bi
        order = np.argsort(top_pair[:held])
        for r in range(held):
            out_pair[count] = top_pair[order[r]]
            out_donor[count] = top_donor[order[r]]
            count += 1
    return count


@nb.njit(cache=True)
def penalty_kernel(lo, hi, pair_mentee, pair_mentor, cost, fundable, a, u, b, c, best, out):
    """Into ``out`` (hi - lo, k): best[i] - r'(e, d) for the pairs lo..hi-1, inf where d cannot fund e."""
    for e in range(lo, hi):
        base = a[e] - u[pair_mentor[e]]
        ce = np.float64(cost[e])
        top = best[pair_mentee[e]]
        for d in range(fundable.shape[1]):
            out[e - lo, d] = top - (base - b[d] * ce - c[d]) if fundable[e, d] else np.inf


def warm() -> None:
    """Compile the pricing and penalty kernels into numba's cache (``make`` runs this after installing)."""
    z = np.zeros(1)
    price_kernel(np.zeros(2, np.int64), np.zeros(1, np.int32), np.zeros(1, np.int64), np.ones((1, 1), bool),
                 z, z, z, z, z, 1e-6, 1, np.zeros(1), np.zeros(1, np.int64), np.zeros(1, np.int64))
    penalty_kernel(0, 1, np.zeros(1, np.int32), np.zeros(1, np.int32), np.zeros(1, np.int64), np.ones((1, 1), bool),
                    z, z, z, z, z, np.zeros((1, 1)))
