"""Budget-free exact solve on a working set of candidates, proven by pricing.

At 20,000 x 5,000 there are 32 million eligible pairs (6 GB as a full graph); at
100,000 x 20,000 about 740 million. Most can never be in an optimal matching.

1. One pass over all pairs, in blocks, keeps a working set: each mentee's
   ``K_MENTEE`` best pairs by quality, and each mentor's ``K_MENTOR x capacity``
   best mentees (so that mentors other than the few stars every mentee ranks
   first still get candidates). The same pass records each mentee's best
   quality over *all* its pairs, which fixes the combined coverage+quality cost
   (flow.combined_scale) exactly as on the full graph.
2. Solve the combined stage on the working set; node potentials pi from the
   residual graph (flow.residual_potentials).
3. Price every pruned eligible pair: rc = -Q_e + pi(i) - pi(j). If any rc < 0,
   add the most negative ``ADD_PER_MENTEE`` per mentee and go to 2. Otherwise
   pi is dual feasible for the full graph, so the working-set flow is optimal
   for the full graph (LP duality on a totally unimodular network).
4. The pruned pairs with rc = 0 belong to the full optimal face: add them, fix
   arcs by their reduced costs, and solve stage 3 (cost) on that face.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Optional

import numpy as np

from ..graph.encoding import BLOCK_PAIRS, CandidateGraph
from ..progress import report
from .flow import (
    QUALITY_SCALE,
    FlowError,
    FlowResult,
    StageResult,
    _min_cost_flow,
    combined_costs,
    combined_scale,
    network,
    residual_potentials,
)

log = logging.getLogger("wopmatch.solver")

#: Best pairs per mentee (by quality) in the first working set.
K_MENTEE = 16
#: Best mentees per mentor, per unit of capacity, in the first working set.
K_MENTOR = 8
#: Violating pairs added per mentee in a pricing round (the most negative first).
#: Measured at 20,000 x 5,000 with KEEP_PER_MENTEE = 32: 128 -> 6 rounds, 36.9 s;
#: 64 -> 7 rounds, 40.4 s; (32 added, 16 kept) -> 9 rounds, 37.3 s; without
#: dropping pairs, 32 -> 8 rounds, 51.5 s (each round re-solves the flow from scratch).
ADD_PER_MENTEE = 128
#: From this many free-mentee x mentor pairs on (100,000 x 20,000), memory rules:
#: no kept pairs (each pass encodes its blocks again), and ADD_PER_MENTEE_LARGE
#: additions. Measured there before pairs were dropped between rounds: 128 with a
#: 2 GB cache, 12.0 GB peak; 32 without, 13 rounds, 1,881 s, 7.5 GB. Since: 128
#: without, 9 rounds, 925 s, 5.4 GB.
LARGE_PAIRS = 1_000_000_000
ADD_PER_MENTEE_LARGE = 128
MAX_ROUNDS = 50
#: Between rounds, the working set drops pairs of positive reduced cost beyond
#: each mentee's this many cheapest (None: keep everything).
KEEP_PER_MENTEE: Optional[int] = 32


@dataclass(frozen=True)
class PricingResult:
    graph: CandidateGraph  # the final working set: the chosen indices refer to it
    flow: FlowResult
    eligible: int  # eligible pairs in the whole instance
    rounds: int  # pricing passes (the last one found nothing to add)
    quality_scale: int = QUALITY_SCALE  # quality units per unit of weight x score used


@dataclass
class _Pairs:
    """Candidate pairs with the features the graph needs, keyed mentee * m + mentor."""

    mentee: np.ndarray
    mentor: np.ndarray
    score: np.ndarray
    cost: np.ndarray
    distance: np.ndarray
    focus: np.ndarray

    @staticmethod
    def empty() -> "_Pairs":
        return _Pairs(*(np.zeros(0, t) for t in (np.int32, np.int32, float, np.int64, float, np.int64)))

    @staticmethod
    def listed(g: CandidateGraph, mentee: np.ndarray, mentor: np.ndarray) -> "_Pairs":
        pl = g.pair_list(mentee, mentor)
        return _Pairs(mentee.astype(np.int32), mentor.astype(np.int32), pl.score, pl.cost, pl.distance, pl.focus)

    def keys(self, m: int) -> np.ndarray:
        return self.mentee.astype(np.int64) * m + self.mentor

    def select(self, idx: np.ndarray) -> "_Pairs":
        return _Pairs(*(getattr(self, f)[idx] for f in ("mentee", "mentor", "score", "cost", "distance", "focus")))

    @staticmethod
    def union(parts: list["_Pairs"], m: int) -> "_Pairs":
        """Concatenate, drop repeated pairs, sort by (mentee, mentor)."""
        allp = _Pairs(*(np.concatenate([getattr(p, f) for p in parts])
                        for f in ("mentee", "mentor", "score", "cost", "distance", "focus")))
        _, first = np.unique(allp.keys(m), return_index=True)  # sorted keys = (mentee, mentor) order
        return allp.select(first)


def _quality(g: CandidateGraph, block, scale: int) -> np.ndarray:
    return np.rint(g.mentee_weight[block.rows][:, None] * block.score * scale).astype(np.int64)


def _block_rows(g: CandidateGraph, block_pairs: int):
    rows = np.flatnonzero(g.free_mentee)
    step = max(1, block_pairs // max(1, g.n_mentors))
    for start in range(0, len(rows), step):
        yield rows[start:start + step]


@dataclass(frozen=True)
class _Eligible:
    """A block's eligible pairs, kept between pricing passes (16 bytes a pair)."""

    mentee: np.ndarray  # int32
    mentor: np.ndarray  # int32
    weighted_score: np.ndarray  # weight x score, as _quality computes it before scaling


#: Bytes of eligible pairs kept in memory between pricing passes; blocks past
#: it are encoded again at every pass (at 20,000 x 5,000 all 32M pairs fit in 0.5 GB).
PRICING_CACHE_BYTES = 2_000_000_000


def _with_pairs(g: CandidateGraph, p: _Pairs) -> CandidateGraph:
    return replace(g, pair_mentee=p.mentee, pair_mentor=p.mentor, score=p.score, cost=p.cost, distance=p.distance,
                   focus=p.focus, fundable=np.zeros((len(p.mentee), 0), bool))


#: Candidates for the per-mentor pool are merged (one sort) once this many have
#: gathered, or four times the pool's size: the same pool as merging every block.
COMPACT_MIN = 4_000_000


def _best_per_mentor(pool: np.ndarray, pool_key: np.ndarray, pending: list[tuple[np.ndarray, np.ndarray]], m: int,
                     per_mentor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each mentor's ``per_mentor`` best (key, then mentee) among the pool and the pending candidates."""
    keys = np.concatenate([pool, *(k for k, _ in pending)])
    kv = np.concatenate([pool_key, *(v for _, v in pending)])
    mentor = keys % m
    order = np.lexsort((keys // m, kv, mentor))
    ms = mentor[order]
    rank_in = np.arange(len(order)) - np.searchsorted(ms, ms)
    chosen = order[rank_in < per_mentor[ms]]
    return keys[chosen], kv[chosen]


def _first_working_set(g: CandidateGraph, block_pairs: int, cache_bytes: int):
    """The first working set, each mentee's best weight x score over all its
    eligible pairs (a float, so it can be put on any integer scale exactly as
    each pair is: rint is monotone), the number of eligible pairs, and each
    block's eligible pairs where they fit ``cache_bytes`` (else None)."""
    m = g.n_mentors
    best_ws = np.zeros(g.n_mentees)
    per_mentor_keep = K_MENTOR * g.capacity  # (m,)
    kmax = int(per_mentor_keep.max(initial=0))
    row_keys: list[np.ndarray] = []
    pool = np.zeros(0, np.int64)  # keys mentee * m + mentor of each mentor's best mentees so far
    pool_q = np.zeros(0, np.float64)  # minus their quality units (exact in a float: below 2^53)
    pending: list[tuple[np.ndarray, np.ndarray]] = []
    pending_n = 0
    eligible = 0
    cache: list[Optional[_Eligible]] = []
    cached_bytes = 0
    for rows in _block_rows(g, block_pairs):
        block = g.pair_block(rows, costs=False)
        ok = g.eligible(block)
        n_ok = int(ok.sum())
        eligible += n_ok
        weighted = g.mentee_weight[block.rows][:, None] * block.score
        if cached_bytes + 16 * n_ok <= cache_bytes:
            r_ok, c_ok = np.nonzero(ok)
            cache.append(_Eligible(block.rows[r_ok].astype(np.int32), c_ok.astype(np.int32), weighted[r_ok, c_ok]))
            cached_bytes += 16 * n_ok
        else:
            cache.append(None)
        ws = np.where(ok, weighted, -1.0)
        best_ws[block.rows] = np.maximum(ws.max(axis=1, initial=-1.0), 0.0)
        q = np.where(ok, _quality(g, block, QUALITY_SCALE), -1)  # ranks pairs for the working set
        # each mentee's best K_MENTEE
        k = min(K_MENTEE, m)
        cols = np.argpartition(-q, k - 1, axis=1)[:, :k] if k < m else np.tile(np.arange(m), (len(q), 1))
        r = np.repeat(np.arange(len(q)), cols.shape[1])
        c = cols.ravel()
        keep = ok[r, c]
        row_keys.append(block.rows[r[keep]] * m + c[keep])
        # each mentor's best mentees so far
        if kmax:
            kk = min(kmax, len(q))
            rr = np.argpartition(-q, kk - 1, axis=0)[:kk] if kk < len(q) else np.tile(np.arange(len(q))[:, None],
                                                                                        (1, m))
            cc = np.tile(np.arange(m), rr.shape[0])
            rr = rr.ravel()
            keep = ok[rr, cc]
            # each mentor's best by (quality desc, mentee asc), merged in batches
            pending.append((block.rows[rr[keep]].astype(np.int64) * m + cc[keep],
                            -q[rr[keep], cc[keep]].astype(np.float64)))
            pending_n += int(keep.sum())
            if pending_n >= max(4 * len(pool), COMPACT_MIN):
                pool, pool_q = _best_per_mentor(pool, pool_q, pending, m, per_mentor_keep)
                pending, pending_n = [], 0
    if pending:
        pool, pool_q = _best_per_mentor(pool, pool_q, pending, m, per_mentor_keep)
    keys = np.unique(np.concatenate([*row_keys, pool]))  # sorted: (mentee, mentor) order
    return _Pairs.listed(g, keys // m, keys % m), best_ws, eligible, cache


def solve_with_pricing(g: CandidateGraph, block_pairs: int = BLOCK_PAIRS) -> PricingResult:
    """``g`` is a graph of the instance without candidates (build_graph(..., candidates=False))."""
    if g.has_donors:
        raise FlowError("pricing is for budget-free instances")
    m = g.n_mentors
    if not g.free_mentee.any():  # every mentee is pinned: nothing to choose
        return PricingResult(g, FlowResult(np.zeros(0, np.int64), []), 0, 0, QUALITY_SCALE)
    t0 = time.perf_counter()
    large = int(g.free_mentee.sum()) * m >= LARGE_PAIRS
    adds = ADD_PER_MENTEE_LARGE if large else ADD_PER_MENTEE
    work, best_ws, eligible, cache = _first_working_set(g, block_pairs, 0 if large else PRICING_CACHE_BYTES)
    stages = [StageResult("working-set", time.perf_counter() - t0, len(work.mentee))]
    scale = _finest_scale(g, best_ws)
    best_q = np.rint(best_ws * scale).astype(np.int64)
    rounds = 0
    while True:
        rounds += 1
        if rounds > MAX_ROUNDS:
            raise FlowError(f"pricing did not converge in {MAX_ROUNDS} rounds")
        gw = _with_pairs(g, work)
        net = network(gw)
        cost = combined_costs(gw, net, best_q, scale)
        assert cost is not None  # _finest_scale checked the fit
        t1 = time.perf_counter()
        x = _min_cost_flow(net.tail, net.head, np.zeros_like(net.upper), net.upper, cost, net.supply, net.n_nodes)
        pi = residual_potentials(net.tail, net.head, np.zeros_like(net.upper), net.upper, cost, x, net.n_nodes)
        stages.append(StageResult(f"coverage+quality round {rounds}", time.perf_counter() - t1, int(cost @ x)))
        t2 = time.perf_counter()
        add, ties = _price(g, work, pi, block_pairs, scale, cache, adds)
        stages.append(StageResult(f"pricing round {rounds}", time.perf_counter() - t2, len(add.mentee)))
        log.info("pricing: round %d: flow %.1f s on %d pairs, pricing %.1f s, %d pairs to add", rounds, t2 - t1,
                 len(work.mentee), time.perf_counter() - t2, len(add.mentee))
        report(f"pricing, round {rounds}")
        if len(add.mentee) == 0:
            break
        if KEEP_PER_MENTEE is not None:
            work = work.select(_worth_keeping(work, cost[net.pair] + pi[net.tail[net.pair]] - pi[net.head[net.pair]],
                                              x[net.pair] > 0, KEEP_PER_MENTEE))
        work = _Pairs.union([work, add], m)

    # The pruned pairs with rc = 0 are on the optimal face too.
    final = _Pairs.union([work, ties], m) if len(ties.mentee) else work
    gf = _with_pairs(g, final)
    fnet = network(gf)
    fcost = combined_costs(gf, fnet, best_q, scale)
    assert fcost is not None
    flow = np.zeros(len(fnet.upper), np.int64)
    outside = np.ones(len(fnet.upper), bool)
    outside[fnet.pair] = False
    flow[outside] = x[np.r_[np.arange(net.pair.start), np.arange(net.pair.stop, len(net.upper))]]
    chosen_keys = work.keys(m)[x[net.pair] > 0]
    flow[fnet.pair] = np.isin(final.keys(m), chosen_keys).astype(np.int64)
    rc = fcost + pi[fnet.tail] - pi[fnet.head]
    lower = np.where(rc < 0, fnet.upper, 0)
    upper = np.where(rc > 0, 0, fnet.upper)
    money = np.zeros(len(fnet.upper), np.int64)
    money[fnet.pair] = gf.cost
    t3 = time.perf_counter()
    x3 = _min_cost_flow(fnet.tail, fnet.head, lower, upper, money, fnet.supply, fnet.n_nodes)
    stages.append(StageResult("cost", time.perf_counter() - t3, int(money @ x3)))
    return PricingResult(gf, FlowResult(np.flatnonzero(x3[fnet.pair] > 0), stages), eligible, rounds, scale)


def _worth_keeping(work: _Pairs, rc: np.ndarray, used: np.ndarray, per_mentee: int) -> np.ndarray:
    """Indices of the working-set pairs to keep for the next round: those in the
    flow, those with reduced cost <= 0, and each mentee's ``per_mentee`` of least
    reduced cost. The rest cannot be in an optimal flow under the current
    potentials; a later pricing pass adds any back that could."""
    order = np.lexsort((rc, work.mentee))
    owner = work.mentee[order]
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order)) - np.searchsorted(owner, owner, side="left")
    return np.flatnonzero(used | (rc <= 0) | (rank < per_mentee))


def _finest_scale(g: CandidateGraph, best_ws: np.ndarray) -> int:
    """The finest quality resolution (10^9 down to 10^3 units per unit of
    weight x score) at which coverage and quality fit one integer cost."""
    for digits in range(9, 2, -1):
        scale = 10**digits
        if combined_scale(g, np.rint(best_ws * scale).astype(np.int64)) is not None:
            return scale
    raise FlowError("coverage and quality do not fit one integer cost even at a quality resolution of 1e-3; "
                    "use --method flow")


def _price(g: CandidateGraph, work: _Pairs, pi: np.ndarray, block_pairs: int, scale: int,
           cache: list[Optional[_Eligible]], per_mentee: int) -> tuple[_Pairs, _Pairs]:
    """Pruned eligible pairs with negative reduced cost (the most negative
    ``per_mentee`` per mentee) and those with zero reduced cost."""
    n, m = g.n_mentees, g.n_mentors
    work_keys = work.keys(m)
    adds: list[_Pairs] = []
    ties: list[_Pairs] = []
    pi_mentor = pi[1 + n + np.arange(m)]
    for rows, kept in zip(_block_rows(g, block_pairs), cache, strict=True):
        if kept is not None:
            add, tie = _price_kept(g, kept, work_keys, pi, pi_mentor, scale, per_mentee)
            adds += [add] if add is not None else []
            ties += [tie] if tie is not None else []
            continue
        block = g.pair_block(rows, costs=False)
        ok = g.eligible(block)
        lo, hi = np.searchsorted(work_keys, [block.rows[0] * m, (block.rows[-1] + 1) * m])
        in_work = np.zeros_like(ok)
        kw = work_keys[lo:hi]
        pos = np.searchsorted(block.rows, kw // m)
        in_work[pos, kw % m] = True
        rc = -_quality(g, block, scale) + pi[1 + block.rows][:, None] - pi_mentor[None, :]
        cand = ok & ~in_work
        neg = cand & (rc < 0)
        if neg.any():
            score = np.where(neg, rc, 0)
            k = min(per_mentee, m)
            cols = np.argpartition(score, k - 1, axis=1)[:, :k] if k < m else np.tile(np.arange(m), (len(rc), 1))
            r = np.repeat(np.arange(len(rc)), cols.shape[1])
            c = cols.ravel()
            keep = neg[r, c]
            adds.append(_Pairs.listed(g, block.rows[r[keep]], c[keep]))
        zr, zc = np.nonzero(cand & (rc == 0))
        if len(zr):
            ties.append(_Pairs.listed(g, block.rows[zr], zc))
    add = _Pairs.union(adds, m) if adds else _Pairs.empty()
    tie = _Pairs.union(ties, m) if ties else _Pairs.empty()
    return add, tie


def _price_kept(g: CandidateGraph, kept: _Eligible, work_keys: np.ndarray, pi: np.ndarray, pi_mentor: np.ndarray,
                scale: int, per_mentee: int) -> tuple[Optional[_Pairs], Optional[_Pairs]]:
    """_price for a block whose eligible pairs were kept: the same pairs chosen,
    without encoding the block again."""
    m = g.n_mentors
    keys = kept.mentee.astype(np.int64) * m + kept.mentor
    pos = np.minimum(np.searchsorted(work_keys, keys), max(len(work_keys) - 1, 0))
    in_work = (work_keys[pos] == keys) if len(work_keys) else np.zeros(len(keys), bool)
    q = np.rint(kept.weighted_score * scale).astype(np.int64)
    rc = -q + pi[1 + kept.mentee] - pi_mentor[kept.mentor]
    neg = np.flatnonzero(~in_work & (rc < 0))
    add = None
    if len(neg):
        # the most negative per_mentee of each mentee (ties: lower mentor first)
        order = neg[np.lexsort((kept.mentor[neg], rc[neg], kept.mentee[neg]))]
        owner = kept.mentee[order]
        rank = np.arange(len(order)) - np.searchsorted(owner, owner, side="left")
        take = np.sort(order[rank < per_mentee])
        add = _Pairs.listed(g, kept.mentee[take], kept.mentor[take])
    zero = np.flatnonzero(~in_work & (rc == 0))
    tie = _Pairs.listed(g, kept.mentee[zero], kept.mentor[zero]) if len(zero) else None
    return add, tie
