"""Lexicographic min-cost flows over a working set of candidates, each stage
proven by pricing: every flow-based policy at sizes where the whole candidate
graph does not fit (optimal, min-cost, max-min and regional-equity without
donors; docs/model.md, "A priced working set").

The network is a ``flow.Structure`` (source, groups, mentees, mentors, sink,
with bounds) plus one arc mentee -> mentor per eligible pair, and a list of
stages, each with a cost on the structural arcs and a pair cost that is a
combination of the pair's quality units and money cost.

1. One pass over every eligible pair, in blocks (``PairSource``), keeps a first
   working set: each mentee's ``k_mentee`` best pairs and each mentor's
   ``k_mentor`` x capacity best mentees, and records each mentee's best score
   and dearest cost over all its pairs (what a folded cost needs, ``fold``).
2. Stage k is solved on the working set, node potentials pi_k are read from the
   residual graph, and every pruned pair on the faces of the stages before (for
   each earlier stage j, rc_j = 0) is priced: rc_k = c_k + pi_k(mentee) -
   pi_k(mentor). While some are negative, the most negative ``add_per_mentee``
   per mentee join the working set (and pairs of positive reduced cost beyond
   each mentee's ``keep_per_mentee`` cheapest leave it). Once none is, pi_k is
   dual feasible for the whole graph, so the stage's value is optimal for it
   (LP duality on a totally unimodular network).
3. The structural arcs are fixed by their reduced costs (flow.py's optimal face)
   and so are the pairs (rc_j > 0: unused, rc_j < 0: used), and the next stage
   starts. Pruned pairs off a face stay at 0, which is what the face says of them.
   Where the face is narrow (``close_after``), the last pricing pass also collects
   the pruned pairs with rc = 0: with them the working set holds the whole face,
   and the later stages are exact on it without pricing.

A pair filter (``min_score``) restricts the pairs to those scoring at least a
threshold (max-min's bottleneck). Eligible pairs are kept between passes where
they fit the cache; past it each pass encodes its blocks again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import Iterator, Optional

import numpy as np

from ..graph.encoding import BLOCK_PAIRS, CandidateGraph
from ..graph.units import QUALITY_SCALE, quality_units
from ..progress import report
from ..tuning import PricingParams
from .flow import FlowError, Network, StageResult, Structure, fits, min_cost_flow, residual_potentials

log = logging.getLogger("wopmatch.solver")


@dataclass(frozen=True)
class Stage:
    """Minimise arc_cost . x_structural + sum over pairs of (money * cost - quality * Q)."""

    name: str
    arc_cost: np.ndarray  # (structural arcs,) int64
    quality: int = 0  # weight of a pair's quality units (maximised)
    money: int = 0  # weight of a pair's money cost (minimised)

    def pair_cost(self, q: np.ndarray, cost: Optional[np.ndarray]) -> np.ndarray:
        if self.money:
            assert cost is not None
            c = self.money * cost if self.money != 1 else cost.astype(np.int64)
            return c - self.quality * q if self.quality else c
        return -self.quality * q if self.quality else np.zeros(len(q), np.int64)


@dataclass(frozen=True)
class Folded:
    """Two stages as one integer cost: ``k * first / unit + second``, with ``k``
    more than any difference the second can make (flow.combined_scale does the
    same on a whole graph). A stage of coverage alone ties widely in reduced cost
    (pi(i) - pi(j)), so pricing adds many equivalent pairs a round; with the
    next stage folded in, the ties go and pricing converges in few rounds."""

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
    Quality is tried at the finest resolution first, down to 1e-3 (at 100,000 x
    20,000, 1e-9 does not fit); the stages solved with the folded one must use its
    ``scale``."""
    assert not (first.quality or first.money) and not second.arc_cost.any()
    assert bool(second.quality) != bool(second.money) and source.passes > 0
    g = source.g
    nz = np.abs(first.arc_cost[first.arc_cost != 0])
    unit = int(np.gcd.reduce(nz)) if len(nz) else 1
    reduced = first.arc_cost // unit
    for scale in ([10**d for d in range(9, 2, -1)] if second.quality else [QUALITY_SCALE]):
        if second.quality:
            per = second.quality * quality_units(g.mentee_weight, source.best_score, scale)
        else:
            per = second.money * source.dearest
        k = 1 + int(per[g.free_mentee].sum())
        if fits(int(np.abs(reduced).max(initial=0)) * k + int(per.max(initial=0)), structure.n_nodes):
            return Folded(Stage(f"{first.name}+{second.name}", reduced * k, quality=second.quality,
                                money=second.money), k, unit, scale)
    return None


def resolution_note(scale: int) -> str:
    """Noted in stats.method when quality was optimised coarser than usual."""
    return "" if scale == QUALITY_SCALE else f", quality resolution 1e-{len(str(scale)) - 1}"


@dataclass
class Pairs:
    """Candidate pairs with the features the graph needs, keyed mentee * m + mentor."""

    mentee: np.ndarray
    mentor: np.ndarray
    score: np.ndarray
    cost: np.ndarray
    distance: np.ndarray
    focus: np.ndarray

    FIELDS = ("mentee", "mentor", "score", "cost", "distance", "focus")

    @staticmethod
    def empty() -> "Pairs":
        return Pairs(*(np.zeros(0, t) for t in (np.int32, np.int32, float, np.int64, float, np.int64)))

    @staticmethod
    def listed(g: CandidateGraph, mentee: np.ndarray, mentor: np.ndarray) -> "Pairs":
        pl = g.pair_list(mentee, mentor)
        return Pairs(mentee.astype(np.int32), mentor.astype(np.int32), pl.score, pl.cost, pl.distance, pl.focus)

    def keys(self, m: int) -> np.ndarray:
        return self.mentee.astype(np.int64) * m + self.mentor

    def select(self, idx: np.ndarray) -> "Pairs":
        return Pairs(*(getattr(self, f)[idx] for f in self.FIELDS))

    @staticmethod
    def union(parts: list["Pairs"], m: int) -> "Pairs":
        """Concatenate, drop repeated pairs, sort by (mentee, mentor)."""
        allp = Pairs(*(np.concatenate([getattr(p, f) for p in parts]) for f in Pairs.FIELDS))
        _, first = np.unique(allp.keys(m), return_index=True)  # sorted keys = (mentee, mentor) order
        return allp.select(first)


def working_graph(g: CandidateGraph, work: Pairs) -> CandidateGraph:
    """The instance's graph with the working set as its candidates (what the decoder reads)."""
    return replace(g, pair_mentee=work.mentee, pair_mentor=work.mentor, score=work.score, cost=work.cost,
                   distance=work.distance, focus=work.focus, fundable=np.zeros((len(work.mentee), 0), bool))


@dataclass
class _Flat:
    """One block's eligible pairs (those passing the filter), flat, in (mentee, mentor) order."""

    rows: np.ndarray  # the block's mentee indices
    local: np.ndarray  # int32: each pair's row in the block (its mentee is rows[local])
    mentor: np.ndarray  # int32
    score: np.ndarray
    cost: Optional[np.ndarray]

    @property
    def mentee(self) -> np.ndarray:
        return self.rows[self.local]


class PairSource:
    """Every eligible pair of the instance (``g`` encoded without candidates),
    block by block; kept in memory when they fit ``params.cache_bytes``, else
    encoded at each pass. ``money``: with each pair's cost (a pass then computes
    distances, most of a block's time). Passes yield only the pairs scoring at
    least ``min_score`` (which may change between passes); ``eligible`` counts
    them all, once the first pass is done."""

    def __init__(self, g: CandidateGraph, money: bool, params: PricingParams,
                 min_score: Optional[float] = None) -> None:
        if g.has_donors:
            raise FlowError("pricing is for budget-free instances")
        self.g = g
        self.money = money
        self.params = params
        self.min_score = min_score
        self.block_pairs = params.block_pairs or BLOCK_PAIRS
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
        at = np.flatnonzero(g.eligible(block))
        r = at // g.n_mentors
        return _Flat(rows, r.astype(np.int32), (at - r * g.n_mentors).astype(np.int32), block.score.ravel()[at],
                     block.cost.ravel()[at] if self.money else None)

    def blocks(self) -> Iterator[_Flat]:
        self.passes += 1
        if self._cache is not None:
            for rows, kept in zip(self._rows(), self._cache, strict=True):
                yield self._filtered(kept if kept is not None else self._encode(rows))
            return
        cache: list[Optional[_Flat]] = []
        used = 0
        eligible = 0
        per_pair = 24 if self.money else 16
        for rows in self._rows():
            flat = self._encode(rows)
            eligible += len(flat.local)
            self._note_extremes(flat)
            size = per_pair * len(flat.local)
            if used + size <= self.params.cache_bytes:
                cache.append(flat)
                used += size
            else:
                cache.append(None)
            yield self._filtered(flat)
        self._cache, self.eligible = cache, eligible

    def _note_extremes(self, flat: _Flat) -> None:
        if len(flat.local) == 0:
            return
        starts = np.flatnonzero(np.r_[True, flat.local[1:] != flat.local[:-1]])  # flat is in mentee order
        owner = flat.rows[flat.local[starts]]
        self.best_score[owner] = np.maximum.reduceat(flat.score, starts)
        if flat.cost is not None:
            self.dearest[owner] = np.maximum.reduceat(flat.cost, starts)

    def _filtered(self, flat: _Flat) -> _Flat:
        if self.min_score is None:
            return flat
        ok = flat.score >= self.min_score
        return _Flat(flat.rows, flat.local[ok], flat.mentor[ok], flat.score[ok],
                     None if flat.cost is None else flat.cost[ok])


@dataclass
class LexResult:
    work: Pairs  # the final working set
    chosen: np.ndarray  # indices into work of the pairs in the flow
    stages: list[StageResult] = field(default_factory=list)
    values: list[int] = field(default_factory=list)  # each stage's optimal value
    rounds: int = 0  # pricing passes after the first working set's


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


def first_working_set(source: PairSource, rank: str = "quality") -> Pairs:
    """Each mentee's ``k_mentee`` best pairs and each mentor's ``k_mentor`` x
    capacity best mentees, best by quality (``rank='quality'``) or by least cost."""
    g, params = source.g, source.params
    m = g.n_mentors
    per_mentor = params.k_mentor * g.capacity
    kmax = int(per_mentor.max(initial=0))
    picked: list[np.ndarray] = []
    pool = np.zeros(0, np.int64)  # keys mentee * m + mentor: each mentor's best mentees so far
    pool_key = np.zeros(0, np.float64)
    pending: list[tuple[np.ndarray, np.ndarray]] = []  # blocks' candidates not yet merged into the pool
    pending_n = 0
    for flat in source.blocks():
        if len(flat.local) == 0:
            continue
        local = flat.local
        key = -flat.score * g.mentee_weight[flat.rows][local] if rank == "quality" else flat.cost.astype(np.float64)
        dense = np.full((len(flat.rows), m), np.inf)
        dense[local, flat.mentor] = key
        k = min(params.k_mentee, m)
        if k:
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
            if pending_n >= max(4 * len(pool), params.compact_min):
                pool, pool_key = _best_per_mentor(pool, pool_key, pending, m, per_mentor)
                pending, pending_n = [], 0
    if pending:
        pool, pool_key = _best_per_mentor(pool, pool_key, pending, m, per_mentor)
    keys = np.unique(np.concatenate([*picked, pool])) if picked or len(pool) else np.zeros(0, np.int64)
    return Pairs.listed(g, keys // m, keys % m)


@dataclass
class _Faces:
    """The stages solved so far: each one's potentials fix the pairs off its optimal face."""

    stages: list[tuple[Stage, np.ndarray]] = field(default_factory=list)

    def pair_bounds(self, q: np.ndarray, cost: Optional[np.ndarray], net: Network) -> tuple[np.ndarray, np.ndarray]:
        """Bounds of the pairs of ``net``: each face fixes only the pairs the faces before it left free."""
        p = net.pair
        lower, upper = net.lower[p].copy(), net.upper[p].copy()
        for st, pi_k in self.stages:
            rc = st.pair_cost(q, cost) + pi_k[net.tail[p]] - pi_k[net.head[p]]
            free = lower < upper
            upper[free & (rc > 0)] = 0
            lower[free & (rc < 0)] = 1
        return lower, upper

    def on_every_face(self, flat: _Flat, q: np.ndarray, node_pi: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """Which of a block's pairs have reduced cost 0 on every face so far (the rest
        stay at 0); ``node_pi``: each face's potentials of the block's rows and of the mentors."""
        ok = np.ones(len(q), bool)
        for (st, _), (row_pi, mentor_pi) in zip(self.stages, node_pi, strict=True):
            ok &= st.pair_cost(q, flat.cost) + row_pi[flat.local] - mentor_pi[flat.mentor] == 0
        return ok


def solve_lexicographic(source: PairSource, structure: Structure, stages: list[Stage],
                        work: Optional[Pairs] = None, rank: str = "quality", scale: int = QUALITY_SCALE,
                        enough: Optional[int] = None, close_after: Optional[int] = None) -> LexResult:
    """Each stage optimal over every pair of ``source`` on the faces of the ones
    before (see the module doc). ``work``: a first working set (for instance
    one on which the structure's lower bounds are known to be feasible).
    ``enough`` (one stage only): stop as soon as the working set reaches a value
    this low, without proving more (a feasibility probe); the value returned is
    then only an upper bound on the stage's optimum. ``close_after``: the index of
    the stage whose face the working set is completed to; the stages after it
    run without pricing."""
    assert enough is None or len(stages) == 1
    g = source.g
    m = g.n_mentors
    max_rounds = source.params.max_rounds
    if work is None:
        t0 = time.perf_counter()
        work = first_working_set(source, rank)
        timings = [StageResult("working-set", time.perf_counter() - t0, len(work.mentee))]
    else:
        if source.min_score is not None:
            work = work.select(np.flatnonzero(work.score >= source.min_score))
        timings = []
    s_lower, s_upper = structure.lower.copy(), structure.upper.copy()
    faces = _Faces()
    values: list[int] = []
    rounds = 0
    x = np.zeros(0, np.int64)
    ns = len(structure.tail)
    closed = False
    for index, stage in enumerate(stages):
        stage_rounds = 0
        while True:
            stage_rounds += 1
            if stage_rounds > max_rounds:
                raise FlowError(f"pricing stage {stage.name!r} did not converge in {max_rounds} rounds")
            q = quality_units(g.mentee_weight[work.mentee], work.score, scale)
            net = structure.with_pairs(work.mentee, work.mentor)
            p_lower, p_upper = faces.pair_bounds(q, work.cost, net)
            lower = np.concatenate([s_lower, p_lower])
            upper = np.concatenate([s_upper, p_upper])
            cost = np.concatenate([stage.arc_cost, stage.pair_cost(q, work.cost)])
            t1 = time.perf_counter()
            x = min_cost_flow(net, cost, lower, upper)
            value = int(cost @ x)
            last = closed and index == len(stages) - 1  # no pricing and no stage after: no potentials needed
            pi = None if last else residual_potentials(net, lower, upper, cost, x)
            timings.append(StageResult(f"{stage.name} round {stage_rounds}", time.perf_counter() - t1, value))
            if enough is not None and value <= enough:
                return LexResult(work, np.flatnonzero(x[ns:] > 0), timings, [value], rounds)
            if closed:  # the working set holds the whole face of the closed stage: nothing to price
                break
            close = close_after == index
            t2 = time.perf_counter()
            rounds += 1
            add, zero = _price(source, work, faces, stage, pi, structure, scale, close)
            timings.append(StageResult(f"{stage.name} pricing {stage_rounds}", time.perf_counter() - t2,
                                       len(add.mentee)))
            log.info("pricing: stage %s round %d: flow %.1f s on %d pairs, pricing %.1f s, %d pairs to add",
                     stage.name, stage_rounds, t2 - t1, len(work.mentee), time.perf_counter() - t2, len(add.mentee))
            report(f"pricing, {stage.name} stage, round {stage_rounds}")
            if len(add.mentee) == 0:
                if close:
                    work, x = _closed(g, work, zero, x, ns)
                    closed = True
                break
            keep = _worth_keeping(work.mentee, cost[ns:] + pi[net.tail[ns:]] - pi[net.head[ns:]], x[ns:] > 0,
                                  source.params.keep_per_mentee)
            work = Pairs.union([work.select(keep), add], m)
        values.append(value)
        if pi is None:
            break
        faces.stages.append((stage, pi))
        rc_s = stage.arc_cost + pi[structure.tail] - pi[structure.head]
        s_upper, s_lower = np.where(rc_s > 0, s_lower, s_upper), np.where(rc_s < 0, s_upper, s_lower)
    return LexResult(work, np.flatnonzero(x[ns:] > 0), timings, values, rounds)


def _closed(g: CandidateGraph, work: Pairs, zero: tuple[np.ndarray, np.ndarray], x: np.ndarray,
            ns: int) -> tuple[Pairs, np.ndarray]:
    """The working set with the pruned pairs of the stage's face (reduced cost 0,
    ``zero`` = their mentees and mentors) added, and the stage's flow on it (the
    potentials stay valid: the new pairs have reduced cost 0 and carry no flow)."""
    if len(zero[0]) == 0:
        return work, x
    m = g.n_mentors
    used_keys = work.keys(m)[x[ns:] > 0]
    closed = Pairs.union([work, Pairs.listed(g, *zero)], m)
    return closed, np.concatenate([x[:ns], np.isin(closed.keys(m), used_keys).astype(np.int64)])


def _worth_keeping(mentee: np.ndarray, rc: np.ndarray, used: np.ndarray, per_mentee: Optional[int]) -> np.ndarray:
    """Indices of the working-set pairs to keep for the next round: those in the
    flow, those with reduced cost <= 0, and each mentee's ``per_mentee`` of least
    reduced cost (None: all). The rest cannot be in an optimal flow under the
    current potentials; a later pricing pass adds any back that could."""
    if per_mentee is None:
        return np.arange(len(mentee))
    order = np.lexsort((rc, mentee))
    owner = mentee[order]
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order)) - np.searchsorted(owner, owner, side="left")
    return np.flatnonzero(used | (rc <= 0) | (rank < per_mentee))


def _price(source: PairSource, work: Pairs, faces: _Faces, stage: Stage, pi: np.ndarray, structure: Structure,
           scale: int, ties: bool) -> tuple[Pairs, tuple[np.ndarray, np.ndarray]]:
    """Pruned pairs on every earlier face with negative reduced cost in ``stage``
    (the ``add_per_mentee`` most negative per mentee; ties: higher quality, then
    lower mentor), and with ``ties`` the mentees and mentors of those of reduced
    cost 0 (else none)."""
    g = source.g
    m = g.n_mentors
    per_mentee = source.params.add_per_mentee
    work_keys = work.keys(m)
    adds: list[Pairs] = []
    zero_mentee: list[np.ndarray] = []
    zero_mentor: list[np.ndarray] = []
    mentor_pi = pi[structure.mentor_node]
    face_mentor_pi = [pi_k[structure.mentor_node] for _, pi_k in faces.stages]
    for flat in source.blocks():
        if len(flat.local) == 0:
            continue
        # per block, what depends on the mentee is read once per row, then per pair from the row
        rows_node = structure.mentee_node[flat.rows]
        node_pi = [(pi_k[rows_node], fm) for (_, pi_k), fm in zip(faces.stages, face_mentor_pi, strict=True)]
        cand = ~_in_work(flat, work_keys, m)
        q = quality_units(g.mentee_weight[flat.rows][flat.local], flat.score, scale)
        if faces.stages:
            cand &= faces.on_every_face(flat, q, node_pi)
        rc = stage.pair_cost(q, flat.cost) + pi[rows_node][flat.local] - mentor_pi[flat.mentor]
        if ties:
            zero = np.flatnonzero(cand & (rc == 0))
            zero_mentee.append(flat.rows[flat.local[zero]])
            zero_mentor.append(flat.mentor[zero])
        neg = np.flatnonzero(cand & (rc < 0))
        if len(neg) == 0:
            continue
        take = _most_negative(neg, flat.local, flat.mentor, rc, q, per_mentee)
        adds.append(Pairs.listed(g, flat.rows[flat.local[take]], flat.mentor[take]))
    add = Pairs.union(adds, m) if adds else Pairs.empty()
    zero = (np.concatenate(zero_mentee), np.concatenate(zero_mentor)) if zero_mentee else \
        (np.zeros(0, np.int32), np.zeros(0, np.int32))
    return add, zero


def _most_negative(neg: np.ndarray, local: np.ndarray, mentor: np.ndarray, rc: np.ndarray, q: np.ndarray,
                   per_mentee: int) -> np.ndarray:
    """Of the pairs ``neg`` (sorted indices into a block in (mentee, mentor) order),
    each mentee's ``per_mentee`` of least reduced cost, sorted. Ties in reduced cost
    (common in a coverage stage: rc = pi(i) - pi(j)) go to the better pair, then the
    lower mentor, not the lower mentor alone, which would send every mentee to the
    same few mentors. Mentees with no more than ``per_mentee`` such pairs keep them
    all, unsorted."""
    owner = local[neg]
    count = np.bincount(owner)
    crowded = count[owner] > per_mentee
    if not crowded.any():
        return neg
    many = neg[crowded]
    # Each crowded mentee's per_mentee-th least reduced cost t, by a partition of its row (a sort of
    # every negative pair cost more than the rest of a pass at 100,000 x 20,000): its pairs below t
    # are taken, and of those at t the best by quality, then mentor.
    rows = np.flatnonzero(count > per_mentee)
    at_row = np.full(len(count), -1, np.int64)
    at_row[rows] = np.arange(len(rows))
    row = at_row[local[many]]
    dense = np.full((len(rows), int(mentor.max()) + 1), np.iinfo(np.int64).max, np.int64)
    dense[row, mentor[many]] = rc[many]
    t = np.partition(dense, per_mentee - 1, axis=1)[:, per_mentee - 1][row]
    below = many[rc[many] < t]
    tied = many[rc[many] == t]
    room = per_mentee - np.bincount(at_row[local[below]], minlength=len(rows))
    # lexsort is stable and ``tied`` is in mentor order within a mentee: the mentor breaks the last ties
    order = tied[np.lexsort((-q[tied], local[tied]))]
    sorted_owner = local[order]
    rank = np.arange(len(order)) - np.searchsorted(sorted_owner, sorted_owner, side="left")
    taken = order[rank < room[at_row[sorted_owner]]]
    return np.sort(np.concatenate([neg[~crowded], below, taken]))


def _in_work(flat: _Flat, work_keys: np.ndarray, m: int) -> np.ndarray:
    """Which of a block's pairs are in the working set (sorted keys): the block's
    working pairs marked on a (rows x mentors) mask, then read back per pair; a
    block's rows are consecutive free mentees, so their keys are one range."""
    rows = flat.rows
    lo, hi = np.searchsorted(work_keys, [int(rows[0]) * m, (int(rows[-1]) + 1) * m])
    mask = np.zeros(len(rows) * m, bool)
    kw = work_keys[lo:hi]
    mask[np.searchsorted(rows, kw // m) * m + kw % m] = True
    return mask[flat.local.astype(np.int64) * m + flat.mentor]


def flow_on(work: Pairs, structure: Structure, stage: Stage, g: CandidateGraph, scale: int = QUALITY_SCALE) -> int:
    """One stage's optimal value on the working set alone, without pricing: an
    upper bound on what the whole graph reaches (its value is never lower).
    Raises FlowError when the structure's bounds cannot be met there."""
    q = quality_units(g.mentee_weight[work.mentee], work.score, scale)
    net = structure.with_pairs(work.mentee, work.mentor)
    cost = np.concatenate([stage.arc_cost, stage.pair_cost(q, work.cost)])
    return int(cost @ min_cost_flow(net, cost))
