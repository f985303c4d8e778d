"""Lexicographic min-cost flows on any matching network, over a working set of
candidates, each stage proven by pricing (the exact policies other than
``optimal`` at sizes where the whole candidate graph does not fit).

pricing.py does this for ``optimal``'s network and objective, tuned for it.
Here the network is given: structural arcs (source, groups, mentees, mentors,
sink, with bounds) plus one arc mentee -> mentor per eligible pair, and a list
of stages, each with a cost on the structural arcs and a pair cost that is a
combination of the pair's quality units and money cost.

Stage k is solved on the working set, node potentials pi_k are read from the
residual graph, and every pruned pair on the faces of the stages before (for
each earlier stage j, rc_j = 0) is priced: rc_k = c_k + pi_k(mentee) -
pi_k(mentor). While some are negative, the most negative per mentee join the
working set. Once none is, pi_k is dual feasible for the whole graph, so the
stage's value is optimal for it; the structural arcs are fixed by their
reduced costs (flow.py's optimal face) and so are the pairs (rc_j > 0: unused,
rc_j < 0: used), and the next stage starts. Pruned pairs off a face stay at 0,
which is what the face says of them.

A pair filter (``min_score``) restricts the pairs to those scoring at least a
threshold (max-min's bottleneck). Eligible pairs are kept between passes where
they fit ``cache_bytes``; past it each pass encodes its blocks again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Iterator, Optional

import numpy as np

from ..graph.encoding import BLOCK_PAIRS, CandidateGraph
from ..progress import report
from .flow import COST_LIMIT, QUALITY_SCALE, FlowError, StageResult, _min_cost_flow, residual_potentials
from .optimal_pricing import COMPACT_MIN, _best_per_mentor, _Pairs, _with_pairs

log = logging.getLogger("wopmatch.solver")
#: First working set: each mentee's best pairs, and each mentor's best mentees per unit of capacity.
K_MENTEE = 16
K_MENTOR = 8
#: Pairs added per mentee in a round (the most negative reduced cost first).
ADD_PER_MENTEE = 64
#: Between rounds the working set keeps, besides the pairs in the flow and those
#: of reduced cost <= 0, each mentee's this many of least reduced cost.
KEEP_PER_MENTEE = 32
MAX_ROUNDS = 100
#: Eligible pairs kept in memory between passes (24 bytes a pair).
CACHE_BYTES = 2_000_000_000


@dataclass(frozen=True)
class Structure:
    """The arcs other than the pairs, and where mentees and mentors sit."""

    tail: np.ndarray
    head: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    supply: np.ndarray
    n_nodes: int
    mentee_node: np.ndarray  # (n,) node of each mentee
    mentor_node: np.ndarray  # (m,) node of each mentor


@dataclass(frozen=True)
class Stage:
    """Minimise arc_cost . x_structural + sum over pairs of (money * cost - quality * Q)."""

    name: str
    arc_cost: np.ndarray  # (structural arcs,) int64
    quality: int = 0  # weight of a pair's quality units (maximised)
    money: int = 0  # weight of a pair's money cost (minimised)

    def pair_cost(self, q: np.ndarray, cost: Optional[np.ndarray]) -> np.ndarray:
        c = np.zeros(len(q), np.int64)
        if self.quality:
            c -= self.quality * q
        if self.money:
            assert cost is not None
            c += self.money * cost
        return c


@dataclass(frozen=True)
class Folded:
    """Two stages as one integer cost: ``k * first / unit + second``, with ``k``
    more than any difference the second can make (flow.combined_scale does the
    same for optimal). A stage of coverage alone ties widely in reduced cost
    (pi(i) - pi(j)), so pricing adds many equivalent pairs a round; with the
    next stage folded in, the ties go and pricing converges as for optimal."""

    stage: Stage
    k: int
    unit: int  # the gcd of the first stage's arc costs
    scale: int = QUALITY_SCALE  # quality units per unit of weight x score (coarser when the finest does not fit)

    def first_value(self, value: int) -> int:
        """The first stage's value, in its own units, from the folded value."""
        v1 = value // self.k if self.stage.money else -((-value) // self.k)  # second in [0, k) or (-k, 0]
        return v1 * self.unit

    def enough(self, first: int) -> int:
        """The folded value at or below which the first stage's value is at most ``first``."""
        v1 = first // self.unit
        return v1 * self.k if self.stage.quality else (v1 + 1) * self.k - 1


def fold(first: Stage, second: Stage, source: "PairSource", structure: Structure) -> Optional[Folded]:
    """``first`` (a cost on the structural arcs only) and ``second`` (one pair
    term, quality or money) as one stage, or None when the folded cost would not
    fit OR-Tools' cost range (then the caller runs them apart). ``k`` is 1 + the
    sum over free mentees of their largest pair term, from the source's first pass.
    Quality is tried at the finest resolution first, down to 1e-3 (as optimal's
    pricing does: at 100,000 x 20,000, 1e-9 does not fit); the stages solved with
    the folded one must use its ``scale``."""
    assert not (first.quality or first.money) and not second.arc_cost.any()
    assert bool(second.quality) != bool(second.money) and source.passes > 0
    g = source.g
    nz = np.abs(first.arc_cost[first.arc_cost != 0])
    unit = int(np.gcd.reduce(nz)) if len(nz) else 1
    reduced = first.arc_cost // unit
    for scale in ([10**d for d in range(9, 2, -1)] if second.quality else [QUALITY_SCALE]):
        if second.quality:
            per = second.quality * quality_of(g, np.arange(g.n_mentees), source.best_score, scale)
        else:
            per = second.money * source.dearest
        k = 1 + int(per[g.free_mentee].sum())
        if (int(np.abs(reduced).max(initial=0)) * k + int(per.max(initial=0))) * (structure.n_nodes + 1) \
                < COST_LIMIT:
            return Folded(Stage(f"{first.name}+{second.name}", reduced * k, quality=second.quality,
                                money=second.money), k, unit, scale)
    return None


def resolution_note(scale: int) -> str:
    """Noted in stats.method when quality was optimised coarser than usual."""
    return "" if scale == QUALITY_SCALE else f", quality resolution 1e-{len(str(scale)) - 1}"


@dataclass
class _Flat:
    """One block's eligible pairs (those passing the filter), flat, in (mentee, mentor) order."""

    rows: np.ndarray  # the block's mentee indices
    mentee: np.ndarray  # int32
    mentor: np.ndarray  # int32
    score: np.ndarray
    cost: Optional[np.ndarray]


class PairSource:
    """Every eligible pair of the instance, block by block; kept in memory when
    they fit ``cache_bytes``, else encoded at each pass. Passes yield only the
    pairs scoring at least ``min_score`` (which may change between passes);
    ``eligible`` counts them all, once the first pass is done."""

    def __init__(self, g: CandidateGraph, money: bool, min_score: Optional[float] = None,
                 block_pairs: int = BLOCK_PAIRS, cache_bytes: Optional[int] = None) -> None:
        self.g = g
        self.money = money
        self.min_score = min_score
        self.block_pairs = block_pairs
        self.cache_bytes = CACHE_BYTES if cache_bytes is None else cache_bytes
        self._cache: Optional[list[Optional[_Flat]]] = None
        self.eligible = 0
        self.passes = 0
        #: each mentee's best score and dearest cost over all its eligible pairs (after the first pass)
        self.best_score = np.zeros(g.n_mentees)
        self.dearest = np.zeros(g.n_mentees, np.int64)

    def _rows(self) -> Iterator[np.ndarray]:
        g = self.g
        rows = np.flatnonzero(g.free_mentee)
        step = max(1, self.block_pairs // max(1, g.n_mentors))
        for start in range(0, len(rows), step):
            yield rows[start:start + step]

    def _encode(self, rows: np.ndarray) -> _Flat:
        g = self.g
        block = g.pair_block(rows, costs=self.money)
        r, c = np.nonzero(g.eligible(block))
        return _Flat(rows, rows[r].astype(np.int32), c.astype(np.int32), block.score[r, c],
                     block.cost[r, c] if self.money else None)

    def blocks(self) -> Iterator[_Flat]:
        self.passes += 1
        if self._cache is not None:
            for rows, kept in zip(self._rows(), self._cache, strict=True):
                yield self._filtered(kept if kept is not None else self._encode(rows))
            return
        cache: list[Optional[_Flat]] = []
        used = 0
        eligible = 0
        for rows in self._rows():
            flat = self._encode(rows)
            eligible += len(flat.mentee)
            self._note_extremes(flat)
            size = 24 * len(flat.mentee)
            if used + size <= self.cache_bytes:
                cache.append(flat)
                used += size
            else:
                cache.append(None)
            yield self._filtered(flat)
        self._cache, self.eligible = cache, eligible

    def _note_extremes(self, flat: _Flat) -> None:
        if len(flat.mentee) == 0:
            return
        starts = np.flatnonzero(np.r_[True, flat.mentee[1:] != flat.mentee[:-1]])  # flat is in mentee order
        owner = flat.mentee[starts]
        self.best_score[owner] = np.maximum.reduceat(flat.score, starts)
        if flat.cost is not None:
            self.dearest[owner] = np.maximum.reduceat(flat.cost, starts)

    def _filtered(self, flat: _Flat) -> _Flat:
        if self.min_score is None:
            return flat
        ok = flat.score >= self.min_score
        return _Flat(flat.rows, flat.mentee[ok], flat.mentor[ok], flat.score[ok],
                     None if flat.cost is None else flat.cost[ok])


def quality_of(g: CandidateGraph, mentee: np.ndarray, score: np.ndarray, scale: int = QUALITY_SCALE) -> np.ndarray:
    return np.rint(g.mentee_weight[mentee] * score * scale).astype(np.int64)


@dataclass
class LexResult:
    work: _Pairs  # the final working set
    chosen: np.ndarray  # indices into work of the pairs in the flow
    stages: list[StageResult] = field(default_factory=list)
    values: list[int] = field(default_factory=list)  # each stage's optimal value
    rounds: int = 0


def first_working_set(source: PairSource, rank: str = "quality") -> _Pairs:
    """Each mentee's ``K_MENTEE`` best pairs and each mentor's ``K_MENTOR`` x
    capacity best mentees, best by quality (``rank='quality'``) or by least cost."""
    g = source.g
    m = g.n_mentors
    per_mentor = K_MENTOR * g.capacity
    kmax = int(per_mentor.max(initial=0))
    picked: list[np.ndarray] = []
    pool = np.zeros(0, np.int64)  # keys mentee * m + mentor: each mentor's best mentees so far
    pool_key = np.zeros(0, np.float64)
    pending: list[tuple[np.ndarray, np.ndarray]] = []  # blocks' candidates not yet merged into the pool
    pending_n = 0
    for flat in source.blocks():
        if len(flat.mentee) == 0:
            continue
        key = -flat.score * g.mentee_weight[flat.mentee] if rank == "quality" else flat.cost.astype(np.float64)
        local = np.searchsorted(flat.rows, flat.mentee)
        dense = np.full((len(flat.rows), m), np.inf)
        dense[local, flat.mentor] = key
        k = min(K_MENTEE, m)
        cols = np.argpartition(dense, k - 1, axis=1)[:, :k]
        r = np.repeat(np.arange(len(flat.rows)), k)
        c = cols.ravel()
        ok = np.isfinite(dense[r, c])
        picked.append(flat.rows[r[ok]].astype(np.int64) * m + c[ok])
        if kmax:
            kk = min(kmax, len(flat.rows))
            rr = np.argpartition(dense, kk - 1, axis=0)[:kk] if kk < len(flat.rows) else \
                np.tile(np.arange(len(flat.rows))[:, None], (1, m))
            cc = np.tile(np.arange(m), rr.shape[0])
            rr = rr.ravel()
            ok = np.isfinite(dense[rr, cc])
            pending.append((flat.rows[rr[ok]].astype(np.int64) * m + cc[ok], dense[rr[ok], cc[ok]]))
            pending_n += int(ok.sum())
            if pending_n >= max(4 * len(pool), COMPACT_MIN):  # sorting once per block cost 5 minutes at 100k
                pool, pool_key = _best_per_mentor(pool, pool_key, pending, m, per_mentor)
                pending, pending_n = [], 0
    if pending:
        pool, pool_key = _best_per_mentor(pool, pool_key, pending, m, per_mentor)
    keys = np.unique(np.concatenate([*picked, pool])) if picked or len(pool) else np.zeros(0, np.int64)
    return _Pairs.listed(g, keys // m, keys % m)


def solve_lexicographic(source: PairSource, structure: Structure, stages: list[Stage],
                        work: Optional[_Pairs] = None, rank: str = "quality",
                        scale: int = QUALITY_SCALE, enough: Optional[int] = None) -> LexResult:
    """Each stage optimal over every pair of ``source`` on the faces of the ones
    before (see the module doc). ``work``: a first working set (for instance
    one on which the structure's lower bounds are known to be feasible).
    ``enough`` (one stage only): stop as soon as the working set reaches a value
    this low, without proving more (a feasibility probe); the value returned is
    then only an upper bound on the stage's optimum."""
    assert enough is None or len(stages) == 1
    g = source.g
    m = g.n_mentors
    if work is None:
        t0 = time.perf_counter()
        work = first_working_set(source, rank)
        timings = [StageResult("working-set", time.perf_counter() - t0, len(work.mentee))]
    else:
        if source.min_score is not None:
            work = work.select(np.flatnonzero(work.score >= source.min_score))
        timings = []
    s_lower, s_upper = structure.lower.copy(), structure.upper.copy()
    faces: list[tuple[Stage, np.ndarray]] = []
    values: list[int] = []
    rounds = 0
    x = np.zeros(0, np.int64)
    ns = len(structure.tail)
    for stage in stages:
        stage_rounds = 0
        while True:
            rounds += 1
            stage_rounds += 1
            if stage_rounds > MAX_ROUNDS:
                raise FlowError(f"pricing stage {stage.name!r} did not converge in {MAX_ROUNDS} rounds")
            q = quality_of(g, work.mentee, work.score, scale)
            tail = np.concatenate([structure.tail, structure.mentee_node[work.mentee]])
            head = np.concatenate([structure.head, structure.mentor_node[work.mentor]])
            p_lower = np.zeros(len(work.mentee), np.int64)
            p_upper = np.ones(len(work.mentee), np.int64)
            for st, pi_k in faces:  # each face fixes only the pairs the faces before it left free
                rc = st.pair_cost(q, work.cost) + pi_k[tail[ns:]] - pi_k[head[ns:]]
                free = p_lower < p_upper
                p_upper[free & (rc > 0)] = 0
                p_lower[free & (rc < 0)] = 1
            lower = np.concatenate([s_lower, p_lower])
            upper = np.concatenate([s_upper, p_upper])
            cost = np.concatenate([stage.arc_cost, stage.pair_cost(q, work.cost)])
            t1 = time.perf_counter()
            x = _min_cost_flow(tail, head, lower, upper, cost, structure.supply, structure.n_nodes)
            pi = residual_potentials(tail, head, lower, upper, cost, x, structure.n_nodes)
            timings.append(StageResult(f"{stage.name} round {stage_rounds}", time.perf_counter() - t1,
                                       int(cost @ x)))
            if enough is not None and int(cost @ x) <= enough:
                return LexResult(work, np.flatnonzero(x[ns:] > 0), timings, [int(cost @ x)], rounds)
            t2 = time.perf_counter()
            add = _price(source, work, faces, stage, pi, structure, scale)
            timings.append(StageResult(f"{stage.name} pricing {stage_rounds}", time.perf_counter() - t2,
                                       len(add.mentee)))
            log.info("pricing: stage %s round %d: flow %.1f s on %d pairs, pricing %.1f s, %d pairs to add",
                     stage.name, stage_rounds, t2 - t1, len(work.mentee), time.perf_counter() - t2, len(add.mentee))
            report(f"pricing, {stage.name} stage, round {stage_rounds}")
            if len(add.mentee) == 0:
                break
            rc_work = cost[ns:] + pi[tail[ns:]] - pi[head[ns:]]
            keep = _worth_keeping(work.mentee, rc_work, x[ns:] > 0, KEEP_PER_MENTEE)
            work = _Pairs.union([work.select(keep), add], m)
        values.append(int(cost @ x))
        faces.append((stage, pi))
        rc_s = stage.arc_cost + pi[structure.tail] - pi[structure.head]
        s_upper, s_lower = np.where(rc_s > 0, s_lower, s_upper), np.where(rc_s < 0, s_upper, s_lower)
    return LexResult(work, np.flatnonzero(x[ns:] > 0), timings, values, rounds)


def _worth_keeping(mentee: np.ndarray, rc: np.ndarray, used: np.ndarray, per_mentee: int) -> np.ndarray:
    order = np.lexsort((rc, mentee))
    owner = mentee[order]
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order)) - np.searchsorted(owner, owner, side="left")
    return np.flatnonzero(used | (rc <= 0) | (rank < per_mentee))


def _price(source: PairSource, work: _Pairs, faces: list[tuple[Stage, np.ndarray]], stage: Stage,
           pi: np.ndarray, structure: Structure, scale: int) -> _Pairs:
    """Pruned pairs on every earlier face with negative reduced cost in ``stage``
    (the ``ADD_PER_MENTEE`` most negative per mentee; ties: higher quality, then lower mentor)."""
    g = source.g
    m = g.n_mentors
    work_keys = work.keys(m)
    adds: list[_Pairs] = []
    for flat in source.blocks():
        if len(flat.mentee) == 0:
            continue
        keys = flat.mentee.astype(np.int64) * m + flat.mentor
        pos = np.minimum(np.searchsorted(work_keys, keys), max(len(work_keys) - 1, 0))
        cand = ~(work_keys[pos] == keys) if len(work_keys) else np.ones(len(keys), bool)
        q = quality_of(g, flat.mentee, flat.score, scale)
        tail = structure.mentee_node[flat.mentee]
        head = structure.mentor_node[flat.mentor]
        for st, pi_k in faces:
            cand &= st.pair_cost(q, flat.cost) + pi_k[tail] - pi_k[head] == 0
        rc = stage.pair_cost(q, flat.cost) + pi[tail] - pi[head]
        neg = np.flatnonzero(cand & (rc < 0))
        if len(neg) == 0:
            continue
        # ties in reduced cost (common in a coverage stage: rc = pi(i) - pi(j)) go to the better pair,
        # not the lower mentor index, which would send every mentee to the same few mentors
        order = neg[np.lexsort((flat.mentor[neg], -q[neg], rc[neg], flat.mentee[neg]))]
        owner = flat.mentee[order]
        rank = np.arange(len(order)) - np.searchsorted(owner, owner, side="left")
        take = np.sort(order[rank < ADD_PER_MENTEE])
        adds.append(_Pairs.listed(g, flat.mentee[take], flat.mentor[take]))
    return _Pairs.union(adds, m) if adds else _Pairs.empty()


def flow_on(work: _Pairs, structure: Structure, stage: Stage, g: CandidateGraph, scale: int = QUALITY_SCALE) -> int:
    """One stage's optimal value on the working set alone, without pricing: an
    upper bound on what the whole graph reaches (its value is never lower).
    Raises FlowError when the structure's bounds cannot be met there."""
    q = quality_of(g, work.mentee, work.score, scale)
    tail = np.concatenate([structure.tail, structure.mentee_node[work.mentee]])
    head = np.concatenate([structure.head, structure.mentor_node[work.mentor]])
    lower = np.concatenate([structure.lower, np.zeros(len(work.mentee), np.int64)])
    upper = np.concatenate([structure.upper, np.ones(len(work.mentee), np.int64)])
    cost = np.concatenate([stage.arc_cost, stage.pair_cost(q, work.cost)])
    return int(cost @ _min_cost_flow(tail, head, lower, upper, cost, structure.supply, structure.n_nodes))


def plain_structure(g: CandidateGraph) -> Structure:
    """flow.network without the pairs: S -> free mentee [0, 1], mentor -> T
    [0, capacity], bypass S -> T; nodes S = 0, mentees 1..n, mentors, T."""
    n, m = g.n_mentees, g.n_mentors
    source, sink = 0, n + m + 1
    free = np.flatnonzero(g.free_mentee)
    tail = np.concatenate([np.zeros(len(free), np.int64), 1 + n + np.arange(m), [source]])
    head = np.concatenate([1 + free, np.full(m, sink), [sink]])
    upper = np.concatenate([np.ones(len(free), np.int64), g.capacity, [len(free)]]).astype(np.int64)
    supply = np.zeros(n + m + 2, np.int64)
    supply[source], supply[sink] = len(free), -len(free)
    return Structure(tail, head, np.zeros_like(upper), upper, supply, n + m + 2, 1 + np.arange(n), 1 + n + np.arange(m))


def coverage_cost(g: CandidateGraph, structure: Structure) -> np.ndarray:
    """Stage 1 on plain_structure: each free mentee matched earns its weight units."""
    free = np.flatnonzero(g.free_mentee)
    c = np.zeros(len(structure.tail), np.int64)
    c[: len(free)] = -g.mentee_weight_units[free]
    return c


def working_graph(g: CandidateGraph, work: _Pairs) -> CandidateGraph:
    """The instance's graph with the working set as its candidates (what the decoder reads)."""
    return _with_pairs(g, work)
