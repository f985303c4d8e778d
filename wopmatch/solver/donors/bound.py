"""A stage's LP relaxation with donors, by column generation, and the bound it proves.

Columns x[e,d] (pair e funded by donor d) and rows as rows.py writes them. The restricted master
holds a few columns per mentee, in one live HiGHS LP (highspy) that each round
extends and re-solves from its last basis (a fixed number of simplex iterations
at most: no clock); its duals price every fundable column (compiled on large
rounds: kernels.py), and each mentee's most positive ones join the master.
Repeat until no column prices positive (the master's optimum is the LP optimum),
``ColgenSettings.rounds`` have run or its iterations are spent.

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

import highspy
import numpy as np

from ..graph.encoding import CandidateGraph
from ..interrupt import check
from .rows import Keep, counted, entries, float_bounds, row_bounds

#: Pairs whose penalties are computed at once (core here, fill.smallest_penalties):
#: (block, donors) float64 arrays of this many rows.
BLOCK = 1 << 20
#: From this many (pair, donor) columns on, pricing and penalties run compiled (kernels.py):
#: at 20,000 x 5,000 x 5 (143 million) numpy took 2.7 s a round, the kernel 0.33 s.
COMPILED_MIN_COLUMNS = 2_000_000


@dataclass(frozen=True)
class ColgenSettings:
    """A fixed amount of work, so the bound repeats exactly on any machine."""

    #: Master solves at most.
    rounds: int = 40
    #: Columns each mentee may bring into the master per round.
    per_mentee: int = 4
    #: Simplex iterations per master solve at most (None: no limit).
    iterations: Optional[int] = 200_000
    #: Simplex iterations over all the master solves at most (None: no limit).
    work: Optional[int] = None
    #: A column prices positive when its reduced cost exceeds this (objective units).
    tolerance: float = 1e-6


@dataclass(frozen=True)
class Relaxed:
    """The LP bound of one stage and what is needed to fix variables against it."""

    bound: float  # upper bound on the stage's objective (maximised form), stage units
    lp_value: float  # the last optimal master's value (-inf when none was): the LP optimum when converged
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

    def penalty(self, g: CandidateGraph, lo: int, hi: int) -> np.ndarray:
        """(hi - lo, k) penalties p(e, d) >= 0 of the pairs lo..hi-1; inf where d cannot
        fund e. Compiled on large rounds (_compiled): the same operations as
        best - values(), in the same order, so the same numbers."""
        if not _compiled(g):
            return self.best[g.pair_mentee[lo:hi]][:, None] - self.values(g, np.arange(lo, hi))
        from .kernels import penalty_kernel  # numba loads for a large round only

        out = np.empty((hi - lo, g.n_donors))
        penalty_kernel(lo, hi, g.pair_mentee, g.pair_mentor, g.cost, g.fundable, self.a, self.u, self.b, self.c,
                       self.best, out)
        return out

    def core(self, g: CandidateGraph, target: float) -> np.ndarray:
        """(E, k) mask of the columns a solution of value >= ``target`` may use."""
        slack = self.bound - target + 1e-9 * abs(self.bound) + 1e-6  # float rounding only widens the core
        out = np.zeros(g.fundable.shape, bool)
        for lo in range(0, g.n_candidates, BLOCK):
            hi = min(lo + BLOCK, g.n_candidates)
            out[lo:hi] = self.penalty(g, lo, hi) <= slack
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
    master = _Master(g, f, keep, settings.iterations)
    master.add(*_first_columns(g, f, start, settings.per_mentee))
    rounds, converged = 0, False
    x = np.zeros(master.n_cols)
    lp_value = -np.inf
    best_bound, best_state = np.inf, None
    while rounds < settings.rounds and (deadline is None or rounds == 0 or time.perf_counter() < deadline):
        rounds += 1
        solved = master.solve(None if settings.work is None else settings.work - master.iterations)
        if solved is None:
            break
        optimal, x_now, value_now, duals = solved
        if optimal:
            x, lp_value = x_now, value_now
        # Stopped at an iteration limit, the simplex's duals still give a bound (it holds at any duals).
        state = _state(g, f, keep, duals)
        bound, best, new_pair, new_donor = _price(g, state, settings)
        if bound < best_bound:
            best_bound, best_state = bound, replace(state, best=best)
        if not optimal:
            break
        if not master.add(new_pair, new_donor):
            converged = True
            break
        x = np.concatenate([x, np.zeros(master.n_cols - len(x))])
    if best_state is None:  # not even the first master solved: the zero duals still give a bound
        best_state = _state(g, f, keep, None)
        best_bound, best, _, _ = _price(g, best_state, settings)
        best_state = replace(best_state, best=best)
    return replace(best_state, bound=float(best_bound), lp_value=float(lp_value), converged=converged,
                   rounds=rounds, seconds=time.perf_counter() - t0, col_pair=master.col_pair.copy(),
                   col_donor=master.col_donor.copy(), col_x=x)


def _first_columns(g: CandidateGraph, f: np.ndarray, start, per_mentee: int) -> tuple[np.ndarray, np.ndarray]:
    """The start's columns, and each mentee's ``per_mentee`` best by f_e - cost_e * r
    (r a rough price of money: half the median f per median cost; ties to the
    lower pair), each with the donor of largest budget that can fund it (ties: the
    first). One pass of the pricing kernel, at every duals zero but the budgets' r."""
    pairs, donors = np.asarray(start[0], np.int64), np.asarray(start[1], np.int64)
    if g.n_candidates == 0:
        return pairs, donors
    cost = g.cost.astype(np.float64)
    positive = cost[cost > 0]
    rate = 0.5 * float(np.median(f)) / float(np.median(positive)) if len(positive) else 0.0
    # The donors by budget, largest first (ties: lower index), so that the kernel's first
    # best donor (the same r' for every donor here) is the one of largest budget.
    order = np.lexsort((np.arange(g.n_donors), -g.budget))
    moved = replace(g, fundable=np.ascontiguousarray(g.fundable[:, order]))
    state = Relaxed(bound=0.0, lp_value=0.0, converged=False, rounds=0, seconds=0.0, col_pair=pairs,
                    col_donor=donors, col_x=np.zeros(0), a=f, u=np.zeros(g.n_mentors), b=np.full(g.n_donors, rate),
                    c=np.zeros(g.n_donors), best=np.zeros(g.n_mentees), mentee_dual=np.zeros(g.n_mentees))
    _, _, top, donor = _price(moved, state, ColgenSettings(per_mentee=per_mentee, tolerance=-np.inf))
    donor = order[donor]
    return np.concatenate([pairs, top]), np.concatenate([donors, donor])


class _Master:
    """The restricted master as one live HiGHS LP: each round adds its columns
    and the simplex starts from the last optimal basis (a master rebuilt and
    solved from scratch took 2 to 11 s a round at 20,000 x 5,000 x 5)."""

    def __init__(self, g: CandidateGraph, f: np.ndarray, keep: list[Keep], iterations: Optional[int]):
        self.g, self.f, self.keep = g, f, keep
        self.col_pair = np.zeros(0, np.int64)
        self.col_donor = np.zeros(0, np.int64)
        h = self.h = highspy.Highs()
        for option, value in (("output_flag", False), ("presolve", "off"), ("solver", "simplex"), ("threads", 1)):
            h.setOptionValue(option, value)
        self.iteration_limit = highspy.kHighsIInf if iterations is None else int(iterations)
        self.iterations = 0  # over every solve so far
        lower, upper = float_bounds(*row_bounds(g, keep), len(keep))
        lower, upper = np.maximum(lower, -highspy.kHighsInf), np.minimum(upper, highspy.kHighsInf)
        h.addRows(len(lower), lower, upper, 0, np.zeros(len(lower), np.int32), np.zeros(0, np.int32), np.zeros(0))
        h.changeObjectiveSense(highspy.ObjSense.kMaximize)

    @property
    def n_cols(self) -> int:
        return len(self.col_pair)

    def add(self, pairs: np.ndarray, donors: np.ndarray) -> int:
        """Add the columns not yet in the master; how many were new."""
        fresh = _not_in(pairs, donors, self.col_pair, self.col_donor)
        # the same column twice in one call: keep its first
        key = pairs[fresh] * (self.g.n_donors + 1) + donors[fresh]
        _, first = np.unique(key, return_index=True)
        pairs, donors = pairs[fresh][np.sort(first)], donors[fresh][np.sort(first)]
        nv = len(pairs)
        if nv == 0:
            return 0
        rows, cols, coefs = entries(self.g, self.keep, pairs, donors)
        order = np.lexsort((rows, cols))
        starts = np.searchsorted(cols[order], np.arange(nv)).astype(np.int32)
        self.h.addCols(nv, self.f[pairs], np.zeros(nv), np.ones(nv), len(order), starts,
                       rows[order].astype(np.int32), coefs[order])
        self.col_pair = np.concatenate([self.col_pair, pairs])
        self.col_donor = np.concatenate([self.col_donor, donors])
        return nv

    def solve(self, most: Optional[int] = None):
        """(optimal, x, the master's value, duals with the signs _state expects:
        >= 0 on a binding <= row of the maximisation); ``optimal`` False when the
        simplex stopped at ``iterations`` or ``most`` simplex iterations (its
        current point then). None when no iterations are left or HiGHS gives no duals."""
        limit = self.iteration_limit if most is None else min(most, self.iteration_limit)
        if limit <= 0:
            return None
        self.h.setOptionValue("simplex_iteration_limit", int(limit))
        self.h.run()  # a short, iteration-limited LP: a stop is checked once it returns
        check()
        self.iterations += int(self.h.getInfo().simplex_iteration_count)
        optimal = self.h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        sol = self.h.getSolution()
        if not sol.dual_valid:
            return None
        return (optimal, np.asarray(sol.col_value), float(self.h.getInfo().objective_function_value),
                np.asarray(sol.row_dual))


def _state(g: CandidateGraph, f: np.ndarray, keep: list[Keep], y: Optional[np.ndarray]) -> Relaxed:
    """The master's duals (zero when None), each clipped to the sign its row
    allows (a dual of the wrong sign would break the bound), with the constant
    part of L in ``bound`` and ``best`` still empty (_price fills them)."""
    n, m, k = g.n_mentees, g.n_mentors, g.n_donors
    limited = counted(g)
    if y is None:
        y = np.zeros(n + m + k + len(limited) + len(keep))
    u = np.maximum(y[n:n + m], 0.0)
    b = np.maximum(y[n + m:n + m + k], 0.0)
    c = np.zeros(k)
    c[limited] = np.maximum(y[n + m + k:n + m + k + len(limited)], 0.0)
    a = f.copy()
    rows = float(u @ g.capacity + b @ g.budget + c[limited] @ g.max_count[limited])
    for (coef, value, sense), dual in zip(keep, y[n + m + k + len(limited):], strict=True):
        # In the maximised form a kept row g.x >= h (sense +1) has a dual <= 0, g.x <= h (-1) one >= 0;
        # the row's bound is the one modelled (rows.float_bounds: half a unit of slack).
        dual = min(dual, 0.0) if sense > 0 else max(dual, 0.0)
        a -= dual * coef
        rows += dual * (value - 0.5 * sense)
    empty = np.zeros(0, np.int64)
    return Relaxed(bound=rows, lp_value=0.0, converged=False, rounds=0, seconds=0.0, col_pair=empty, col_donor=empty,
                   col_x=np.zeros(0), a=a, u=u, b=b, c=c, best=np.zeros(n), mentee_dual=np.maximum(y[:n], 0.0))


def _price(g: CandidateGraph, state: Relaxed, settings: ColgenSettings, compiled: Optional[bool] = None):
    """(L, max(0, M_i) per mentee, the columns that price positive against the
    mentee duals, at most ``per_mentee`` a mentee: the largest, ties to the lower
    pair; in pair order). ``compiled``: by kernels.price_kernel (None: on large
    rounds, _compiled), else by numpy; the same answer (tests/test_colgen.py)."""
    most = settings.per_mentee
    if not (_compiled(g) if compiled is None else compiled):
        v = state.values(g, np.arange(g.n_candidates))
        top = v.max(axis=1)
        best = np.zeros(g.n_mentees)
        np.maximum.at(best, g.pair_mentee, top)
        rc = top - state.mentee_dual[g.pair_mentee]
        hit = np.flatnonzero(rc > settings.tolerance)
        order = np.lexsort((hit, -rc[hit], g.pair_mentee[hit]))
        group = g.pair_mentee[hit][order]
        rank = np.arange(len(order)) - np.searchsorted(group, group)
        chosen = np.sort(hit[order[rank < most]])
        return state.bound + float(best.sum()), best, chosen, v[chosen].argmax(axis=1).astype(np.int64)
    from .kernels import price_kernel  # numba loads for a large round only

    best = np.zeros(g.n_mentees)
    out_pair = np.empty(g.n_mentees * most, np.int64)
    out_donor = np.empty(g.n_mentees * most, np.int64)
    count = price_kernel(_mentee_starts(g), g.pair_mentor, g.cost, g.fundable, state.a, state.u, state.b, state.c,
                         state.mentee_dual, float(settings.tolerance), most, best, out_pair, out_donor)
    return state.bound + float(best.sum()), best, out_pair[:count], out_donor[:count]


def _compiled(g: CandidateGraph) -> bool:
    """Whether the kernels price this round: from COMPILED_MIN_COLUMNS (pair, donor)
    columns on. Below, numpy is quick, and loading numba into a fresh process (the
    service's and the sweeps' solves) costs more than it saves."""
    return g.n_candidates * g.n_donors >= COMPILED_MIN_COLUMNS


def _mentee_starts(g: CandidateGraph) -> np.ndarray:
    """Where each mentee's pairs begin (the graph lists them mentee by mentee), and the end."""
    return np.searchsorted(g.pair_mentee, np.arange(g.n_mentees + 1)).astype(np.int64)


def _not_in(pairs, donors, col_pair, col_donor) -> np.ndarray:
    k = max(int(col_donor.max(initial=0)), int(donors.max(initial=0))) + 2
    return ~np.isin(pairs * k + donors + 1, col_pair * k + col_donor + 1)


def pool_of(g: CandidateGraph, relaxed: Relaxed, per: int) -> tuple[np.ndarray, np.ndarray]:
    """(pairs, donors) of the columns LNS works over: ``per`` columns of smallest penalty
    per free mentee, and the LP optimum's support; each once, by pair then donor. A list,
    not an (E, k) mask: at 20,000 x 5,000 x 5 a mask is 143 million cells to build for
    every neighbourhood."""
    pairs, donors = smallest_penalties(g, relaxed, per * max(int(g.free_mentee.sum()), 1))
    on = relaxed.col_x > 1e-9
    pairs, donors = np.r_[pairs, relaxed.col_pair[on]], np.r_[donors, relaxed.col_donor[on]]
    ok = g.fundable[pairs, donors]
    return distinct_columns(pairs[ok], donors[ok], g.n_donors)


def distinct_columns(pairs: np.ndarray, donors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The columns (pair, donor) given, each once, by pair then donor (``k`` donors)."""
    key = np.unique(np.asarray(pairs, np.int64) * k + np.asarray(donors, np.int64))
    return key // k, key % k


def smallest_penalties(g: CandidateGraph, relaxed: Relaxed, most: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``most`` columns (pair, donor) of smallest penalty, in penalty order
    (ties: lower pair, then lower donor first)."""
    k = g.n_donors
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
