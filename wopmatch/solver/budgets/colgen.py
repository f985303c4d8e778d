"""A stage's LP relaxation with donors, by column generation, and the bound it proves.

Variables x[e,d] (pair e funded by donor d) as in mip.py. The restricted master
holds a few columns per mentee; HiGHS's dual simplex solves it (a fixed number of
simplex iterations at most: no clock); its duals price every fundable column,
block by block, and each mentee's most positive ones join the master. Repeat
until no column prices positive (the master's optimum is the LP optimum) or
``ColgenSettings.rounds`` have run.

The bound holds at any duals, so also when the loop stops early. With the duals
u (mentor rows), b, c (budget and count rows) and beta (rows kept from earlier
stages), all sign-corrected, relax every row but the mentees' own: each mentee
then takes at most one column, the one of largest value

    r'(e,d) = a_e - u_j - b_d cost_e - c_d,      a_e = f_e + sum_k beta_k g_ke,

so that    f(x) <= L = sum_rows y_r * (row bound) + sum_i max(0, max_{e,d in i} r'(e,d)).

Reduced-cost fixing follows (``Relaxed.penalty``): a column with penalty
p = max(0, M_i) - r'(e,d) lowers L by p when it is chosen, so a solution of value
at least t uses only columns with p <= L - t.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Optional

import numpy as np

from ..graph.encoding import NO_LIMIT, CandidateGraph
from .highs import solve_lp
from .mip import Keep, _constraints, _model

#: Pairs priced at once: (block, donors) float64 arrays of this many rows.
BLOCK = 1 << 20


@dataclass(frozen=True)
class ColgenSettings:
    """A fixed amount of work, so the bound repeats exactly on any machine."""

    #: Master solves at most.
    rounds: int = 40
    #: Columns each mentee may bring into the master per round.
    per_mentee: int = 4
    #: Simplex iterations per master solve at most (None: no limit).
    iterations: Optional[int] = 200_000
    #: A column prices positive when its reduced cost exceeds this (objective units).
    tolerance: float = 1e-6


@dataclass(frozen=True)
class Relaxed:
    """The LP bound of one stage and what is needed to fix variables against it."""

    bound: float  # upper bound on the stage's objective (maximised form), stage units
    lp_value: float  # the last master's optimum: the LP optimum when converged
    converged: bool
    rounds: int
    seconds: float
    col_pair: np.ndarray  # the master's columns
    col_donor: np.ndarray
    col_x: np.ndarray  # their values in the last master's optimum
    a: np.ndarray  # (E,) f + beta.g
    u: np.ndarray  # (m,) mentor duals
    b: np.ndarray  # (k,) budget duals
    c: np.ndarray  # (k,) count duals
    best: np.ndarray  # (n,) max(0, M_i)
    mentee_dual: np.ndarray  # (n,) the mentee rows' duals

    def values(self, g: CandidateGraph, pairs: np.ndarray) -> np.ndarray:
        """(len(pairs), k) r'(e, d) of those pairs; -inf where d cannot fund e."""
        v = (self.a[pairs] - self.u[g.pair_mentor[pairs]])[:, None] - self.b[None, :] * \
            g.cost[pairs].astype(np.float64)[:, None] - self.c[None, :]
        return np.where(g.fundable[pairs], v, -np.inf)

    def penalty(self, g: CandidateGraph, pairs: np.ndarray) -> np.ndarray:
        """(len(pairs), k) penalties p(e, d) >= 0; inf where d cannot fund e."""
        return self.best[g.pair_mentee[pairs]][:, None] - self.values(g, pairs)

    def core(self, g: CandidateGraph, target: float) -> np.ndarray:
        """(E, k) mask of the columns a solution of value >= ``target`` may use."""
        slack = self.bound - target + 1e-9 * abs(self.bound) + 1e-6  # float rounding only widens the core
        out = np.zeros(g.fundable.shape, bool)
        for lo in range(0, g.n_candidates, BLOCK):
            pairs = np.arange(lo, min(lo + BLOCK, g.n_candidates))
            out[pairs] = self.penalty(g, pairs) <= slack
        return out


def relax(g: CandidateGraph, f: np.ndarray, keep: list[Keep], start: tuple[np.ndarray, np.ndarray],
          settings: ColgenSettings = ColgenSettings(), deadline: Optional[float] = None) -> Relaxed:
    """The LP bound of max f.x (f per pair, stage units) over the budgeted
    assignments that satisfy ``keep``, by column generation from the columns of
    ``start`` (pairs, donors) and each mentee's best few (_first_columns). ``deadline`` (a
    time.perf_counter() value: the solve's time limit) stops it after the round
    it falls in; the bound holds all the same."""
    t0 = time.perf_counter()
    f = np.asarray(f, np.float64)
    col_pair, col_donor = _first_columns(g, f, start, settings.per_mentee)
    rounds, converged = 0, False
    x = np.zeros(len(col_pair))
    lp_value = 0.0
    best_bound, best_state = np.inf, None
    while rounds < settings.rounds and (deadline is None or rounds == 0 or time.perf_counter() < deadline):
        rounds += 1
        solved = _solve_master(g, f, keep, col_pair, col_donor, settings.iterations)
        if solved is None:  # the simplex hit its iteration limit: price at the last duals
            break
        x, lp_value, duals = solved
        state = _state(g, f, keep, duals)
        bound, best, new_pair, new_donor = _price(g, state, settings)
        if bound < best_bound:
            best_bound, best_state = bound, replace(state, best=best)
        fresh = _not_in(new_pair, new_donor, col_pair, col_donor)
        if not fresh.any():
            converged = True
            break
        col_pair = np.concatenate([col_pair, new_pair[fresh]])
        col_donor = np.concatenate([col_donor, new_donor[fresh]])
        x = np.concatenate([x, np.zeros(int(fresh.sum()))])
    if best_state is None:  # not even the first master solved: the zero duals still give a bound
        best_state = _state(g, f, keep, None)
        best_bound, best, _, _ = _price(g, best_state, settings)
        best_state = replace(best_state, best=best)
    return replace(best_state, bound=float(best_bound), lp_value=float(lp_value), converged=converged,
                   rounds=rounds, seconds=time.perf_counter() - t0, col_pair=col_pair, col_donor=col_donor, col_x=x)


def _first_columns(g: CandidateGraph, f: np.ndarray, start, per_mentee: int) -> tuple[np.ndarray, np.ndarray]:
    """The start's columns, and each mentee's ``per_mentee`` best by f_e - cost_e * r
    (r a rough price of money: half the median f per median cost), each with
    the donor of largest budget that can fund it."""
    pairs, donors = np.asarray(start[0], np.int64), np.asarray(start[1], np.int64)
    if g.n_candidates == 0:
        return pairs, donors
    cost = g.cost.astype(np.float64)
    positive = cost[cost > 0]
    rate = 0.5 * float(np.median(f)) / float(np.median(positive)) if len(positive) else 0.0
    score = np.where(g.fundable.any(axis=1), f - rate * cost, -np.inf)
    top = _top_per_group(g.pair_mentee, score, per_mentee)
    top = top[np.isfinite(score[top])]
    room = np.where(g.fundable[top], g.budget[None, :].astype(np.float64), -1.0)
    return np.concatenate([pairs, top]), np.concatenate([donors, room.argmax(axis=1).astype(np.int64)])


def _solve_master(g, f, keep, col_pair, col_donor, iterations):
    rows, cols, coefs, rhs = _constraints(g, col_pair, col_donor)
    extra = [(coef[col_pair], value, sense) for coef, value, sense in keep]
    model = _model(len(col_pair), rows, cols, coefs, rhs, extra, f[col_pair], True, integer=False)
    result = solve_lp(model, iterations)
    if result is None:
        return None
    sol = result.solutions[0]
    x = np.zeros(len(col_pair))
    primal = sol.primal_solution.variable_values
    x[np.asarray(primal.ids, np.int64)] = np.asarray(primal.values)
    y = np.zeros(len(rhs) + len(extra))
    if sol.HasField("dual_solution"):
        duals = sol.dual_solution.dual_values
        y[np.asarray(duals.ids, np.int64)] = np.asarray(duals.values)
    return x, float(f[col_pair] @ x), y


def _state(g: CandidateGraph, f: np.ndarray, keep: list[Keep], y: Optional[np.ndarray]) -> Relaxed:
    """The master's duals (zero when None), each clipped to the sign its row
    allows (a dual of the wrong sign would break the bound), with the constant
    part of L in ``bound`` and ``best`` still empty (_price fills them)."""
    n, m, k = g.n_mentees, g.n_mentors, g.n_donors
    counted = np.flatnonzero(g.max_count < NO_LIMIT)
    if y is None:
        y = np.zeros(n + m + k + len(counted) + len(keep))
    u = np.maximum(y[n:n + m], 0.0)
    b = np.maximum(y[n + m:n + m + k], 0.0)
    c = np.zeros(k)
    c[counted] = np.maximum(y[n + m + k:n + m + k + len(counted)], 0.0)
    a = f.copy()
    rows = float(u @ g.capacity + b @ g.budget + c[counted] @ g.max_count[counted])
    for (coef, value, sense), dual in zip(keep, y[n + m + k + len(counted):], strict=True):
        # In the maximised form a kept row g.x >= h (sense +1) has a dual <= 0, g.x <= h (-1) one >= 0;
        # the row's bound is the one modelled (mip._model: half a unit of slack).
        dual = min(dual, 0.0) if sense > 0 else max(dual, 0.0)
        a -= dual * coef
        rows += dual * (value - 0.5 * sense)
    empty = np.zeros(0, np.int64)
    return Relaxed(bound=rows, lp_value=0.0, converged=False, rounds=0, seconds=0.0, col_pair=empty, col_donor=empty,
                   col_x=np.zeros(0), a=a, u=u, b=b, c=c, best=np.zeros(n), mentee_dual=np.maximum(y[:n], 0.0))


def _price(g: CandidateGraph, state: Relaxed, settings: ColgenSettings):
    """(L, max(0, M_i) per mentee, the columns that price positive against the
    mentee duals, at most ``per_mentee`` a mentee)."""
    k = g.n_donors
    best = np.zeros(g.n_mentees)
    add_pair, add_donor, add_rc = [], [], []
    for lo in range(0, g.n_candidates, BLOCK):
        pairs = np.arange(lo, min(lo + BLOCK, g.n_candidates))
        v = state.values(g, pairs)
        top = v.max(axis=1) if k else v[:, 0]
        np.maximum.at(best, g.pair_mentee[pairs], top)
        d = v.argmax(axis=1)
        rc = top - state.mentee_dual[g.pair_mentee[pairs]]
        hit = np.flatnonzero(rc > settings.tolerance)
        if len(hit):
            keep_hit = hit[_top_per_group(g.pair_mentee[pairs[hit]], rc[hit], settings.per_mentee)]
            add_pair.append(pairs[keep_hit])
            add_donor.append(d[keep_hit])
            add_rc.append(rc[keep_hit])
    bound = state.bound + float(best.sum())
    if add_pair:
        pairs, donors, rc = np.concatenate(add_pair), np.concatenate(add_donor), np.concatenate(add_rc)
        sel = _top_per_group(g.pair_mentee[pairs], rc, settings.per_mentee)
        return bound, best, pairs[sel], donors[sel].astype(np.int64)
    return bound, best, np.zeros(0, np.int64), np.zeros(0, np.int64)


def _top_per_group(group: np.ndarray, score: np.ndarray, most: int) -> np.ndarray:
    """Indices of each group's ``most`` largest scores (ties: lower index first)."""
    if len(group) == 0:
        return np.zeros(0, np.int64)
    order = np.lexsort((np.arange(len(group)), -score, group))
    g_sorted = group[order]
    first = np.r_[0, np.flatnonzero(g_sorted[1:] != g_sorted[:-1]) + 1]
    rank = np.arange(len(order)) - np.repeat(first, np.diff(np.r_[first, len(order)]))
    return np.sort(order[rank < most])


def _not_in(pairs, donors, col_pair, col_donor) -> np.ndarray:
    k = max(int(col_donor.max(initial=0)), int(donors.max(initial=0))) + 2
    return ~np.isin(pairs * k + donors + 1, col_pair * k + col_donor + 1)
