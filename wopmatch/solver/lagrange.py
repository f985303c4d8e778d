"""Lagrangian relaxation of donor budgets for the coverage stage.

Relax each donor's budget (multiplier lambda_d >= 0, per currency unit) and
partnership count (mu_d >= 0). Every candidate pair e then takes its best donor,

    v_e(lambda, mu) = max_{d in D_e} ( W_i(e) - lambda_d c_e - mu_d ),

and what is left is an assignment problem, one min-cost flow:

    L(lambda, mu) = max_x sum_e max(v_e, 0) x_e  +  sum_d lambda_d B_d + mu_d K_d
                    s.t. each mentee <= 1, each mentor <= u_j.

For every lambda, mu >= 0, L is an upper bound on the best coverage with
budgets (weak duality). Arc values are rounded down to integers for the flow;
the bound adds 1 per pair that can be matched, so it stays a proof. Multipliers
follow Polyak subgradient steps, in a fixed number of iterations (no clock), so
the result repeats exactly. Every few iterations the relaxed assignment is
repaired into a feasible one (funded by a donor with room, or dropped, then
filled greedily), and the best is kept.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .encoding import NO_LIMIT, CandidateGraph
from .flow import _min_cost_flow, network


@dataclass(frozen=True)
class LagrangeResult:
    bound: float  # upper bound on coverage units of the free part
    pairs: np.ndarray  # best feasible assignment found: candidate indices
    donors: np.ndarray  # and their donors
    value: int  # its coverage units
    iterations: int
    seconds: float
    pool: np.ndarray  # (E,) bool: candidates used by any relaxed or repaired assignment
    lam: np.ndarray  # multipliers of the best bound
    mu: np.ndarray


def coverage_lagrangian(
    g: CandidateGraph,
    start_pairs: np.ndarray,
    start_donors: np.ndarray,
    iterations: int = 150,
    deadline: Optional[float] = None,
) -> LagrangeResult:
    t0 = time.perf_counter()
    k = g.n_donors
    free = np.flatnonzero(g.free_mentee)
    e_all = g.n_candidates
    w = g.mentee_weight_units[g.pair_mentee].astype(np.float64)
    cost = g.cost.astype(np.float64)
    capped = g.max_count < NO_LIMIT
    budget = g.budget.astype(np.float64)
    count_cap = np.where(capped, g.max_count, 0).astype(np.float64)
    net = network(g)
    tail, head, base_upper, supply, pair = net.tail, net.head, net.upper, net.supply, net.pair
    lower = np.zeros_like(base_upper)
    max_matched = int(min(len(free), g.capacity.sum()))

    best_pairs, best_donors = np.asarray(start_pairs, np.int64), np.asarray(start_donors, np.int64)
    best_value = int(g.mentee_weight_units[g.pair_mentee[best_pairs]].sum())
    best_bound = np.inf
    # Scale: one step moves lambda by about (value of a mentee) / (typical cost).
    cost_scale = float(np.mean(cost)) if e_all else 1.0
    lam = np.zeros(k)
    mu = np.zeros(k)
    best_lam, best_mu = lam.copy(), mu.copy()
    theta, stall = 1.0, 0
    done = 0
    fundable = g.fundable
    pool = np.zeros(e_all, bool)
    pool[best_pairs] = True
    for it in range(iterations):
        if deadline is not None and time.perf_counter() > deadline:
            break
        done = it + 1
        # Best donor per candidate under the current multipliers.
        v = np.where(fundable, w[:, None] - lam[None, :] * cost[:, None] - mu[None, :], -np.inf)
        d_best = np.argmax(v, axis=1) if k else np.zeros(e_all, np.int64)
        v_best = v[np.arange(e_all), d_best] if e_all else np.zeros(0)
        value = np.floor(np.maximum(v_best, 0.0))  # integer arc values, rounded down...
        upper = base_upper.copy()
        upper[pair] = np.where(v_best > 0, 1, 0)
        arc_cost = np.zeros(len(upper), np.int64)
        arc_cost[pair] = -value.astype(np.int64)
        flow = _min_cost_flow(tail, head, lower, upper, arc_cost, supply, net.n_nodes)
        chosen = np.flatnonzero(flow[pair] > 0)
        pool[chosen] = True
        # ...so the true optimum is at most 1 more per matched arc.
        sub = float(value[chosen].sum()) + max_matched
        bound = sub + float(lam @ budget) + float(mu @ count_cap)
        if bound < best_bound - 1e-9:
            best_bound, stall = bound, 0
            best_lam, best_mu = lam.copy(), mu.copy()
        else:
            stall += 1
            if stall >= 8:
                theta, stall = theta / 2, 0
        if it % 5 == 0 or it == iterations - 1:
            p, d = _repair(g, chosen, d_best[chosen])
            pool[p] = True
            val = int(g.mentee_weight_units[g.pair_mentee[p]].sum())
            if val > best_value:
                best_pairs, best_donors, best_value = p, d, val
        if best_bound - best_value < 1:
            break
        # Subgradients of L: budget and count slack of the relaxed assignment.
        spend = np.bincount(d_best[chosen], weights=cost[chosen], minlength=k)
        used = np.bincount(d_best[chosen], minlength=k).astype(np.float64)
        g_lam = (budget - spend) / cost_scale
        g_mu = np.where(capped, count_cap - used, 0.0)
        norm = float(g_lam @ g_lam + g_mu @ g_mu)
        if norm == 0:
            break
        step = theta * max(bound - best_value, 1.0) / norm
        lam = np.maximum(0.0, lam - step * g_lam / cost_scale)
        mu = np.maximum(0.0, mu - step * g_mu)
    return LagrangeResult(float(best_bound), best_pairs, best_donors, best_value, done,
                          time.perf_counter() - t0, pool, best_lam, best_mu)


def _repair(g: CandidateGraph, chosen: np.ndarray, preferred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A feasible assignment near the relaxed one: keep its pairs while a donor
    that can fund them has room (the preferred donor first, cheapest pairs
    first), then fill free mentees greedily with the cheapest affordable pairs."""
    budget = g.budget.copy()
    count = g.max_count.copy()
    room = g.capacity.copy()
    taken = np.zeros(g.n_mentees, bool)
    pairs: list[int] = []
    donors: list[int] = []

    def fund(e: int, first: int) -> int:
        c = g.cost[e]
        if first >= 0 and g.fundable[e, first] and budget[first] >= c and count[first] > 0:
            return first
        ok = g.fundable[e] & (budget >= c) & (count > 0)
        if not ok.any():
            return -1
        return int(np.argmax(np.where(ok, budget, -1)))  # the donor with most budget left

    def take(e: int, d: int) -> None:
        budget[d] -= g.cost[e]
        count[d] -= 1
        room[g.pair_mentor[e]] -= 1
        taken[g.pair_mentee[e]] = True
        pairs.append(e)
        donors.append(d)

    for idx in np.argsort(g.cost[chosen], kind="stable"):
        e = int(chosen[idx])
        d = fund(e, int(preferred[idx]))
        if d >= 0:
            take(e, d)
    # Fill: candidates of still-free mentees, by weight (desc) then cost (asc).
    open_ = np.flatnonzero(~taken[g.pair_mentee] & (room[g.pair_mentor] > 0))
    order = open_[np.lexsort((g.cost[open_], -g.mentee_weight_units[g.pair_mentee[open_]]))]
    for e in order.tolist():
        if taken[g.pair_mentee[e]] or room[g.pair_mentor[e]] <= 0:
            continue
        d = fund(e, -1)
        if d >= 0:
            take(e, d)
    return np.array(pairs, np.int64), np.array(donors, np.int64)
