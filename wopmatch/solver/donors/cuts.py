"""Count cuts: how many partnerships each donor can fund at most, from its budget.

Every set of partnerships one donor funds is a matching (each mentee once, each
mentor within its capacity) of total cost within its budget, so it has at most
k_d partnerships, k_d the largest k whose cheapest k-matching over the pairs the
donor can fund costs at most the budget (one min-cost flow per k tried). The row
sum_e x[e,d] <= k_d cuts no 0/1 assignment off, and the LP needs it: without it
the LP funds fractions of pairs past the last whole one, and that slack comes back
in every later stage. Measured on 200 x 60 x 5 (seed 1): the coverage LP fell from
129.36 to the integer optimum 128.0, and the quality LP's gap to its optimum from
2.3% to 0.3% (benchmarks/RESULTS.md, "Donor rounds"). The rows join the donors'
own ``max_partnerships`` as tighter counts (rows.py); nothing else changes.
"""

from __future__ import annotations

import numpy as np
from ortools.graph.python import min_cost_flow

from ..graph.encoding import CandidateGraph


def donor_counts(g: CandidateGraph, max_pairs: int) -> np.ndarray:
    """Each donor's count: its own limit, tightened by the cut above where the
    donor can fund at most ``max_pairs`` pairs (tuning.count_cut_max_pairs: the
    flows cost a few seconds at 2,000 x 500, where the cut moved no bound)."""
    counts = g.max_count.astype(np.int64).copy()
    for d in range(g.n_donors):
        pairs = np.flatnonzero(g.fundable[:, d])
        if not len(pairs) or len(pairs) > max_pairs:
            continue
        counts[d] = min(int(counts[d]), _most_within(g, pairs, int(g.budget[d]), int(counts[d])))
    return counts


def _most_within(g: CandidateGraph, pairs: np.ndarray, budget: int, limit: int) -> int:
    """The largest k (at most ``limit``) whose cheapest k-matching over ``pairs`` costs at
    most ``budget``: a binary search from above by the count of the mentees' cheapest
    pairs that fit (k pairs of k mentees cost at least their k cheapest minima)."""
    cheapest = np.cumsum(np.sort(_cheapest_per_mentee(g, pairs)))
    hi = min(int(np.searchsorted(cheapest, budget, side="right")), int(g.capacity.sum()), limit)
    lo = 0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _matching_cost(g, pairs, mid) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _cheapest_per_mentee(g: CandidateGraph, pairs: np.ndarray) -> np.ndarray:
    """The cheapest cost among ``pairs`` of each mentee that has one."""
    low = np.full(g.n_mentees, np.iinfo(np.int64).max)
    np.minimum.at(low, g.pair_mentee[pairs], g.cost[pairs].astype(np.int64))
    return low[low < np.iinfo(np.int64).max]


def _matching_cost(g: CandidateGraph, pairs: np.ndarray, k: int) -> float:
    """The cost of the cheapest matching of ``k`` pairs among ``pairs`` (inf when none has k)."""
    flow = min_cost_flow.SimpleMinCostFlow()
    n, m = g.n_mentees, g.n_mentors
    source, sink = n + m, n + m + 1
    mentees = np.unique(g.pair_mentee[pairs]).astype(np.int64)
    flow.add_arcs_with_capacity_and_unit_cost(np.full(len(mentees), source), mentees, np.ones(len(mentees), np.int64),
                                              np.zeros(len(mentees), np.int64))
    flow.add_arcs_with_capacity_and_unit_cost(g.pair_mentee[pairs].astype(np.int64),
                                              n + g.pair_mentor[pairs].astype(np.int64),
                                              np.ones(len(pairs), np.int64), g.cost[pairs].astype(np.int64))
    flow.add_arcs_with_capacity_and_unit_cost(n + np.arange(m, dtype=np.int64), np.full(m, sink),
                                              np.maximum(g.capacity, 0).astype(np.int64), np.zeros(m, np.int64))
    flow.set_node_supply(source, k)
    flow.set_node_supply(sink, -k)
    return float(flow.optimal_cost()) if flow.solve() == flow.OPTIMAL else np.inf

