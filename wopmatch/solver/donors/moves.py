"""The moves a stage is worked with (engine.py decides which runs when). Each takes
the stage's state and returns what it found: ``Found(pairs, donors, bound)``, an
assignment meeting every row that is better than the incumbent (or None), and a
bound the move proved (or None), both in the stage's maximised form.

- ``lp_fill``: the LP optimum's whole columns, then columns in order of penalty
  while they fit (each mentee once, mentors' capacity, donors' budgets and counts).
- ``lns``: large-neighbourhood search, one round. A neighbourhood frees some
  mentees (those two donors fund, those whose LP value differs from the
  incumbent's, or every mentee when the pool is small); the rest of the incumbent
  stays, and HiGHS re-optimises the freed mentees over the stage's pool (the
  columns of smallest penalty, the LP's support and the incumbent's), within
  node and relative-gap limits, from the incumbent as its start.
- ``core_mip``, ``core_cp_sat`` and ``direct_cp_sat`` (a small round's first try, with its
  own work limit): the stage over its core, every column an
  assignment better than the incumbent can use (bound.Relaxed.core): the
  optimum there is the stage's, so "nothing better" proves the incumbent, and a
  solver's bound over the core bounds the stage.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from ..graph.encoding import NO_LIMIT, CandidateGraph
from .bound import distinct_columns, smallest_penalties
from .rows import PROOF_TOLERANCE, Keep, StageModel
from .state import NOTHING, Found
from .solvers import Answer, solve_cp, solve_mip

if TYPE_CHECKING:
    from .state import Stage


def lp_fill(s: "Stage") -> Found:
    g, relaxed = s.g, s.relaxed
    pairs, donors = smallest_penalties(g, relaxed, s.run.params.pool_ladder[0] * max(s.n_free, 1))
    whole = relaxed.col_x > 1 - 1e-6
    taken = np.zeros(g.n_mentees, bool)
    room = g.capacity.astype(np.int64).copy()
    budget = g.budget.astype(np.int64).copy()
    count = g.max_count.astype(np.int64).copy()
    out_p: list[int] = []
    out_d: list[int] = []
    first = zip(relaxed.col_pair[whole].tolist(), relaxed.col_donor[whole].tolist(), strict=True)
    rest = zip(pairs.tolist(), donors.tolist(), strict=True)
    for source in (first, rest):
        for e, d in source:
            i, j, c = int(g.pair_mentee[e]), int(g.pair_mentor[e]), int(g.cost[e])
            if taken[i] or room[j] <= 0 or budget[d] < c or count[d] <= 0:
                continue
            taken[i] = True
            room[j] -= 1
            budget[d] -= c
            count[d] -= 1
            out_p.append(e)
            out_d.append(d)
    p, d = np.asarray(out_p, np.int64), np.asarray(out_d, np.int64)
    return Found(p, d, None) if s.meets(p) and s.gain_of(p) > s.gain else NOTHING


def lns(s: "Stage") -> Found:
    params = s.run.params
    free = neighbourhood(s, s.pool_rounds)
    whole = bool(np.all(free == s.g.free_mentee))
    if free.sum() > params.lns_max_free:  # a random part of it, the same on every run
        part = s.rng.choice(np.flatnonzero(free), params.lns_max_free, replace=False)
        free = np.zeros(len(free), bool)
        free[part] = True
    fixed = ~free[s.g.pair_mentee[s.best.pairs]]
    g, keep = residual(s.g, s.keep, s.best.pairs[fixed], s.best.donors[fixed])
    pool_pairs, pool_donors = s.pool
    mine = free[s.g.pair_mentee[pool_pairs]]
    columns = distinct_columns(np.r_[pool_pairs[mine], s.best.pairs[~fixed]],
                               np.r_[pool_donors[mine], s.best.donors[~fixed]], g.n_donors)
    model = StageModel.build(g, s.objective, keep, *columns)
    start = model.vector(s.best.pairs[~fixed], s.best.donors[~fixed])
    gap = max(s.step - 0.5, params.lns_gap * abs(model.gain(start)))
    answer = _highs(s, model, start, params.lns_nodes, gap)
    # every later round solves a part of the same pool: once the whole pool is solved, none can gain
    exhausted = whole and answer.optimal
    if answer.gain <= model.gain(start):
        return Found(None, None, None, exhausted)
    p, d = model.chosen(answer.x)
    return Found(np.concatenate([s.best.pairs[fixed], p]), np.concatenate([s.best.donors[fixed], d]), None, exhausted)


def neighbourhood(s: "Stage", k: int) -> np.ndarray:
    """The mentees the ``k``-th LNS round over the current pool frees: round 0 frees every
    mentee when the pool is small enough for one MIP (tuning.lns_max_columns); then, in
    turn, the mentees two donors fund with the unmatched ones the pool lets them fund
    (every pair of donors, in a seeded order), and the mentees whose coverage in the LP
    optimum differs from the incumbent's."""
    g, best = s.g, s.best
    if k == 0 and len(s.pool[0]) <= s.run.params.lns_max_columns:
        return g.free_mentee.copy()
    matched = np.zeros(g.n_mentees, bool)
    matched[g.pair_mentee[best.pairs]] = True
    plans = s.donor_pairs
    if k % 2 == 1 or not len(plans):
        lp = np.zeros(g.n_mentees)
        np.add.at(lp, g.pair_mentee[s.relaxed.col_pair], s.relaxed.col_x)
        return (np.abs(lp - matched) > 1e-6) & g.free_mentee
    chosen = plans[(k // 2) % len(plans)]
    donor_of = np.full(g.n_mentees, -1)
    donor_of[g.pair_mentee[best.pairs]] = best.donors
    reach = np.zeros(g.n_mentees, bool)
    reach[g.pair_mentee[s.pool[0][np.isin(s.pool[1], chosen)]]] = True
    return (np.isin(donor_of, chosen) | (reach & ~matched)) & g.free_mentee


def residual(g: CandidateGraph, keep: list[Keep], pairs: np.ndarray, donors: np.ndarray
             ) -> tuple[CandidateGraph, list[Keep]]:
    """The round with the partnerships (pairs, donors) fixed: what capacity, budget,
    counts and kept rows leave for the rest."""
    capacity = g.capacity - np.bincount(g.pair_mentor[pairs], minlength=g.n_mentors)
    budget = g.budget - np.bincount(donors, weights=g.cost[pairs], minlength=g.n_donors).astype(np.int64)
    used = np.bincount(donors, minlength=g.n_donors)
    count = np.where(g.max_count < NO_LIMIT, g.max_count - used, g.max_count)
    rest = [(coef, value - int(coef[pairs].sum()), sense) for coef, value, sense in keep]
    return replace(g, capacity=capacity.astype(g.capacity.dtype), budget=budget.astype(g.budget.dtype),
                   max_count=count.astype(g.max_count.dtype)), rest


def core_mip(s: "Stage") -> Found:
    model, start = _core(s)
    params = s.run.params
    answer = _highs(s, model, start, max(params.core_nodes, params.core_work // model.size),
                    max(s.step - 0.5, PROOF_TOLERANCE * abs(s.top)))
    bound = float(answer.gain) if answer.proven(s.step) else answer.bound
    if answer.gain > s.gain:
        p, d = model.chosen(answer.x)
        return Found(p, d, bound)
    return Found(None, None, bound)


def core_cp_sat(s: "Stage") -> Found:
    params = s.run.params
    work = params.cp_sat_probe_work if s.enough is not None else \
        params.cp_sat_work if s.name == "coverage" else params.cp_sat_later_work
    return _cp_sat(s, work)


def direct_cp_sat(s: "Stage") -> Found:
    """A small round's stage (tuning.direct_max_mentees) tried by CP-SAT over its core at
    once, before any LNS: on such rounds it proves most stages in a tenth of a second."""
    return _cp_sat(s, s.run.params.direct_work)


def _cp_sat(s: "Stage", work: float) -> Found:
    model, _ = _core(s)
    params = s.run.params
    answer = solve_cp(model, s.gain, s.step, s.top, work, s.run.workers, s.run.seed, s.time_left(),
                      params.cp_sat_linearization)
    s.cp_sat_workers = max(s.cp_sat_workers, s.run.workers)
    if answer.x is not None and answer.gain > s.gain:
        p, d = model.chosen(answer.x)
        return Found(p, d, answer.bound)
    return Found(None, None, answer.bound)


def _highs(s: "Stage", model: StageModel, start: np.ndarray, nodes: int, gap: float) -> Answer:
    """HiGHS over a stage's model (LNS and core MIPs alike). After coverage without
    presolve and with the objective scaled to a leading coefficient in [1, 10): on
    the quality stage's coefficients of ~1e10, HiGHS's presolve alone took 0.3-0.9 s
    of 190-670-column cores, and the twenty 200 x 60 x 5 and 300 x 70 x 3 rounds
    solved in a median 3.7 s instead of 4.5 (2,000 x 500 x 5, seeds 1-3 of both
    profiles: 7.6-22 s instead of 13-25, quality better on 5 of 6). Coverage keeps
    both: without them one 2,000 x 500 x 5 round ended a weight step short."""
    later = s.name != "coverage"
    return solve_mip(model, start, s.run, s.run.nodes(nodes), s.time_left(), gap=gap, presolve=not later,
                     scaled=later)


def _core(s: "Stage") -> tuple[StageModel, np.ndarray]:
    """The stage's model over its core (and the incumbent's columns), and the incumbent in it."""
    mask = s.relaxed.core(s.g, s.gain + s.step)
    mask[s.best.pairs, s.best.donors] = True
    model = StageModel.over(s.g, s.objective, s.keep, mask)
    return model, model.vector(s.best.pairs, s.best.donors)
