"""Lagrangian relaxation of donor budgets, for every lexicographic stage.

A stage maximises sum_e f_e x_e (coverage units, quality units, or minus cost)
subject to the assignment rows (each mentee at most once, each mentor at most
its capacity), each donor's budget and partnership count, and the rows kept
from earlier stages (sum_e g_e x_e >= h: coverage at its optimum in stage 2,
coverage and quality in stage 3). Relax the budgets (multiplier lambda_d >= 0
per currency unit), the counts (mu_d >= 0) and the kept rows (beta >= 0). Every
pair e then takes its best donor,

    v_e = max_{d in D_e} v_ed,   v_ed = f_e + sum_k beta_k g_ke - lambda_d c_e - mu_d,

and what is left is an assignment problem, one min-cost flow:

    L = max_y sum_e v_e y_e + sum_d (lambda_d B_d + mu_d K_d) - sum_k beta_k h_k.

For all multipliers >= 0, L bounds the stage from above (weak duality). Arc
values are scaled by a power of two S and rounded down to integers for the
flow; the bound adds 1/S per pair that can be matched, so it stays a proof.
Multipliers follow Polyak subgradient steps, a fixed number of iterations (no
clock), so the result repeats exactly.

The relaxation also fixes variables (the core). With node potentials of the
optimal flow at the best multipliers (one Bellman-Ford pass, flow.py), every
feasible x satisfies

    S * f(x) <= S * L - sum_{(e,d) in x} p_ed,   p_ed = max(rc_e, 0) + S (v_e - v_ed),

rc_e the reduced cost of arc e. A solution better than the incumbent z (f >= z
+ step) therefore uses only variables with p_ed <= S (L - z - step): the core.
The best solution over the core is the stage's optimum (or z is).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from .encoding import NO_LIMIT, CandidateGraph
from .flow import _min_cost_flow, network, residual_potentials


@dataclass(frozen=True)
class Relaxation:
    """The best bound found and what is needed to fix variables against it."""

    bound: float  # upper bound on the stage (maximised form), in stage units
    scale: float  # S
    bound_scaled: float  # S * bound, computed once
    reduced_cost: np.ndarray  # (E,) rc_e at the best multipliers, in scaled units
    a: np.ndarray  # (E,) f + beta.g at the best multipliers
    lam: np.ndarray
    mu: np.ndarray
    beta: np.ndarray
    iterations: int
    seconds: float

    def penalty(self, g: CandidateGraph) -> np.ndarray:
        """(E, K) p_ed in scaled units; inf where d cannot fund e."""
        v = self.a[:, None] - self.lam[None, :] * g.cost[:, None].astype(np.float64) - self.mu[None, :]
        v = np.where(g.fundable, v, -np.inf)
        best = v.max(axis=1, initial=-np.inf) if g.n_donors else np.zeros(g.n_candidates)
        with np.errstate(invalid="ignore"):
            p = np.maximum(self.reduced_cost, 0)[:, None] + self.scale * (best[:, None] - v)
        return np.where(g.fundable, p, np.inf)

    def core(self, g: CandidateGraph, target: float) -> np.ndarray:
        """(E, K) mask of the variables a solution of value >= target may use."""
        slack = self.bound_scaled - self.scale * target
        slack += 1e-9 * abs(self.bound_scaled) + 4  # float rounding: only ever widens the core
        return self.penalty(g) <= slack


@dataclass(frozen=True)
class LagrangeResult:
    """Stage 1: the relaxation plus the best repaired assignment."""

    relaxation: Relaxation
    pairs: np.ndarray
    donors: np.ndarray
    value: int  # coverage units of pairs

    @property
    def bound(self) -> float:
        return self.relaxation.bound


Repair = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def relax_stage(
    g: CandidateGraph,
    f: np.ndarray,
    keep: list[tuple[np.ndarray, float]],
    best_value: float,
    iterations: int = 150,
    deadline: Optional[float] = None,
    repair: Optional[Repair] = None,
    repaired: Optional[Callable[[np.ndarray, np.ndarray], None]] = None,
    step: float = 1.0,
) -> Relaxation:
    """Subgradient on the multipliers of budgets, counts and ``keep`` rows
    (coef . y >= rhs). ``best_value`` is the incumbent's stage value (the Polyak
    target); with ``repair``, every fifth relaxed assignment is repaired and
    passed to ``repaired`` (which may raise the target through its return)."""
    t0 = time.perf_counter()
    k = g.n_donors
    e_all = g.n_candidates
    f = np.asarray(f, np.float64)
    cost = g.cost.astype(np.float64)
    capped = g.max_count < NO_LIMIT
    budget = g.budget.astype(np.float64)
    count_cap = np.where(capped, g.max_count, 0).astype(np.float64)
    coefs = [np.asarray(c, np.float64) for c, _ in keep]
    rhs = np.array([h for _, h in keep], np.float64)
    keep_scale = np.array([max(float(np.mean(np.abs(c[c != 0]))) if np.any(c) else 1.0, 1e-300) for c in coefs])
    net = network(g)
    tail, head, upper, supply, pair = net.tail, net.head, net.upper, net.supply, net.pair
    lower = np.zeros_like(upper)
    max_matched = int(min(len(net.free), g.capacity.sum()))
    cost_scale = float(np.mean(cost)) if e_all else 1.0
    fmax = float(np.max(np.abs(f))) if e_all else 1.0
    lam, mu = np.zeros(k), np.zeros(k)
    # Start each kept row's multiplier where one typical pair of it is worth the
    # largest stage value: earlier stages dominate, as they do lexicographically.
    beta = np.array([fmax / s for s in keep_scale]) if keep else np.zeros(0)
    best: Optional[tuple] = None
    theta, stall, done = 1.0, 0, 0
    target = float(best_value)

    def evaluate(lam, mu, beta):
        a = f + sum((b * c for b, c in zip(beta, coefs, strict=True)), np.zeros(e_all))
        if k:
            v = np.where(g.fundable, a[:, None] - lam[None, :] * cost[:, None] - mu[None, :], -np.inf)
            d_best = np.argmax(v, axis=1)
            v_best = v[np.arange(e_all), d_best]
        else:
            d_best, v_best = np.zeros(e_all, np.int64), a
        scale = _scale(v_best, max_matched, net.n_nodes)
        arc_cost = np.zeros(len(upper), np.int64)
        arc_cost[pair] = -np.floor(v_best * scale).astype(np.int64)
        flow = _min_cost_flow(tail, head, lower, upper, arc_cost, supply, net.n_nodes)
        chosen = np.flatnonzero(flow[pair] > 0)
        # Each matched pair lost less than 1/S to rounding down.
        bound_scaled = float(-(arc_cost @ flow)) + max_matched + scale * (
            float(lam @ budget) + float(mu @ count_cap) - float(beta @ rhs))
        return a, d_best, scale, arc_cost, flow, chosen, bound_scaled

    for it in range(iterations):
        if deadline is not None and time.perf_counter() > deadline:
            break
        done = it + 1
        a, d_best, scale, arc_cost, flow, chosen, bound_scaled = evaluate(lam, mu, beta)
        bound = bound_scaled / scale
        if best is None or bound < best[0] - 1e-12 * abs(best[0]):
            best, stall = (bound, lam.copy(), mu.copy(), beta.copy()), 0
        else:
            stall += 1
            if stall >= 8:
                theta, stall = theta / 2, 0
        if repair is not None and (it % 5 == 0 or it == iterations - 1):
            p, d = repair(chosen, d_best[chosen])
            if repaired is not None:
                target = max(target, float(repaired(p, d)))
        if best[0] - target < step:
            break
        # Subgradients of L: budget and count slack, and kept rows' surplus.
        spend = np.bincount(d_best[chosen], weights=cost[chosen], minlength=k) if k else np.zeros(0)
        used = np.bincount(d_best[chosen], minlength=k).astype(np.float64) if k else np.zeros(0)
        g_lam = (budget - spend) / cost_scale
        g_mu = np.where(capped, count_cap - used, 0.0)
        surplus = [float(c[chosen].sum()) - h for c, h in zip(coefs, rhs, strict=True)]
        g_beta = np.array(surplus) / keep_scale if keep else beta
        norm = float(g_lam @ g_lam + g_mu @ g_mu + g_beta @ g_beta)
        if norm == 0:
            break
        t = theta * max(bound - target, step) / norm
        lam = np.maximum(0.0, lam - t * g_lam / cost_scale)
        mu = np.maximum(0.0, mu - t * g_mu)
        beta = np.maximum(0.0, beta - t * g_beta / keep_scale) if keep else beta
    if best is None:  # no iteration ran (deadline already passed)
        best = (np.inf, lam, mu, beta)
    _, lam, mu, beta = best
    # Potentials at the best multipliers: one more flow, and a Bellman-Ford pass.
    a, d_best, scale, arc_cost, flow, chosen, bound_scaled = evaluate(lam, mu, beta)
    pi = residual_potentials(tail, head, lower, upper, arc_cost, flow, net.n_nodes)
    rc = (arc_cost + pi[tail] - pi[head])[pair].astype(np.float64)
    return Relaxation(bound_scaled / scale, scale, bound_scaled, rc, a, lam, mu, beta, done,
                      time.perf_counter() - t0)


def _scale(values: np.ndarray, max_matched: int, n_nodes: int) -> float:
    """A power of two S for the arc values: S * max|v| stays below what the flow
    (costs times nodes under 2^62) and a float sum of matched values (2^52) hold."""
    top = float(np.max(np.abs(values[np.isfinite(values)]), initial=0.0))
    if top == 0:
        return 1.0
    limit = min(2.0**52 / (max_matched + 1), 2.0**62 / (n_nodes + 1) / 8)
    return float(2.0 ** np.floor(np.log2(limit / top)))


def coverage_lagrangian(
    g: CandidateGraph,
    start_pairs: np.ndarray,
    start_donors: np.ndarray,
    iterations: int = 150,
    deadline: Optional[float] = None,
) -> LagrangeResult:
    """Stage 1: the relaxation, with every fifth relaxed assignment repaired into
    a feasible one (funded by a donor with room, or dropped, then filled
    greedily); the best repaired assignment is kept."""
    units = g.mentee_weight_units[g.pair_mentee].astype(np.int64)
    best = [np.asarray(start_pairs, np.int64), np.asarray(start_donors, np.int64), 0]
    best[2] = int(units[best[0]].sum())

    def repaired(p, d) -> int:
        val = int(units[p].sum())
        if val > best[2]:
            best[:] = [p, d, val]
        return best[2]

    relaxation = relax_stage(g, units, [], best[2], iterations, deadline,
                             repair=lambda chosen, pref: _repair(g, chosen, pref), repaired=repaired)
    return LagrangeResult(relaxation, best[0], best[1], best[2])


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
