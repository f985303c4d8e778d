"""Compiled pair kernels (numba): the greedy scan, the streamed heuristics, the blocking-pair count, the explanations.

At 100,000 x 20,000 the heuristics look at 2 x 10^9 mentee x mentor pairs, and
the numpy encoder (encoding.py) builds a dozen (rows x mentors) temporaries per
block: about 30 s per pass, and 0.5 ms for each one-mentee refill of a stream
(greedy makes about 200,000 of them). These kernels evaluate docs/format.md §3 one
mentee's row of mentors at a time, into reused scratch rows, and keep only what
the caller asks for (a mentee's next pairs in a given order, a count, a summary).

``take_in_order`` (the greedy scan over pairs already encoded, for scans of at
least heuristics.greedy.COMPILED_MIN_PAIRS pairs) applies everywhere: it computes
nothing that rounds. The others apply where eligibility needs no distance (no
``max_distance_km`` rule) and, for the streams and explanations, funding is not
modelled (no donors): the great-circle distance is computed by numpy's and numba's
own sin/cos, which may differ in the last bit, and a cost that rounds differently
would change the answer. Every other case runs the numpy code. A score is the same exact integer
dot product, then the same division and product as encoding._pair_features, so
it is bit for bit the same (with stated interests, the same interest term is added in the
same order, and preferences are encoding.preference's arithmetic): tests/test_kernels.py
compares both on random instances.

Single-threaded (no ``parallel``): deterministic whatever the machine, and safe
in the service's and Dask's worker processes. ``cache=True`` keeps the compiled
code beside this file (or in numba's user cache when that is not writable);
``warm()`` fills that cache (``make`` runs it after installing).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

from .compiled import kernels_apply
from .encoding import PREFERENCE_STEP, CandidateGraph

#: Orders a stream can list a mentee's pairs in (streams.Order), as the kernels' codes.
ORDER_CODES = {"score": 0, "stable": 1, "random": 2}
_GOLDEN = 0x9E3779B97F4A7C15


def applies(g: CandidateGraph, streams: bool = True) -> bool:
    """Whether the kernels give the encoder's answer here (module docstring); ``streams``:
    for the streams and explanations (donors matter), not the blocking-pair count."""
    return kernels_apply(g, funding=streams)


@dataclass(frozen=True)
class Features:
    """What the kernels read of a candidate graph: flat arrays and scalars."""

    me_op: np.ndarray
    me_bits: np.ndarray
    me_levels: np.ndarray
    me_den: np.ndarray  # 5 x the sum of each mentee's needs (the alignment's denominator)
    me_lang: np.ndarray
    me_region: np.ndarray
    mo_op: np.ndarray
    mo_bits: np.ndarray
    mo_levels_t: np.ndarray  # (areas, mentors): each area's strengths contiguous
    mo_lang_t: np.ndarray  # (words, mentors)
    mo_region: np.ndarray
    fb_start: np.ndarray  # forbidden (or vetoed) pairs of mentee i: fb_mentor[fb_start[i]:fb_start[i + 1]]
    fb_mentor: np.ndarray
    lang_hard: bool
    region_same: bool
    min_score: float
    cross_factor: float
    st_start: np.ndarray  # stated interests of mentee i's pairs: st_*[st_start[i]:st_start[i + 1]]
    st_mentor: np.ndarray
    st_me: np.ndarray  # the level the mentee stated about the mentor
    st_mo: np.ndarray  # the level the mentor stated about the mentee
    interest_weight: float

    def args(self) -> tuple:
        return (self.me_op, self.me_bits, self.me_levels, self.me_den, self.me_lang, self.me_region,
                self.mo_op, self.mo_bits, self.mo_levels_t, self.mo_lang_t, self.mo_region,
                self.fb_start, self.fb_mentor, self.lang_hard, self.region_same, self.min_score, self.cross_factor,
                self.st_start, self.st_mentor, self.st_me, self.st_mo, self.interest_weight)


def features(g: CandidateGraph) -> Features:
    me, mo, rules = g.mentees, g.mentors, g.instance.rules
    fb_start = np.searchsorted(g.forbidden_mentee, np.arange(g.n_mentees + 1)).astype(np.int64)
    st_mentee, st_mentor = np.divmod(g.stated_key, max(1, g.n_mentors))
    st_start = np.searchsorted(st_mentee, np.arange(g.n_mentees + 1)).astype(np.int64)

    def c(a: np.ndarray, dtype) -> np.ndarray:
        return np.ascontiguousarray(a, dtype=dtype)

    return Features(
        c(me.op, np.int64), c(me.bits, np.int64), c(me.levels, np.int64), c(5 * me.levels.sum(axis=1), np.int64),
        c(me.lang, np.uint64), c(me.region, np.int64),
        c(mo.op, np.int64), c(mo.bits, np.int64), c(mo.levels.T, np.int64), c(mo.lang.T, np.uint64),
        c(mo.region, np.int64), fb_start, c(g.forbidden_mentor, np.int64),
        rules.language == "hard", rules.region == "same", float(rules.min_score),
        1.0 - rules.cross_region_penalty, st_start, c(st_mentor, np.int64), c(g.stated_by_mentee, np.int64),
        c(g.stated_by_mentor, np.int64), float(rules.interest_weight))


@nb.njit(cache=True, nogil=True)
def _shared_language(i, me_lang, mo_lang_t, lang_hard, out):
    """out[j]: mentee i and mentor j share a language, or the language rule is not hard."""
    for j in range(len(out)):
        out[j] = not lang_hard
    if lang_hard:
        for w in range(me_lang.shape[1]):
            lw = me_lang[i, w]
            if lw != np.uint64(0):
                for j in range(len(out)):
                    out[j] |= (lw & mo_lang_t[w, j]) != np.uint64(0)


@nb.njit(cache=True, nogil=True)
def _row(i, alive, ok, score, F):
    """ok[j] and score[j] of mentee i with every live mentor j (a score only where ok); F = Features.args().

    Loops over all mentors without branches, so that they vectorise (about 1 ns a pair,
    against 8 with a test per pair); one call per mentee, as a call passes some twenty arrays."""
    (me_op, me_bits, me_levels, me_den, me_lang, me_region, mo_op, mo_bits, mo_levels_t, mo_lang_t, mo_region,
     fb_start, fb_mentor, lang_hard, region_same, min_score, cross_factor, st_start, st_mentor, st_me, st_mo,
     interest_weight) = F
    m = len(mo_op)
    _shared_language(i, me_lang, mo_lang_t, lang_hard, ok)
    for j in range(m):
        score[j] = 0.0
    den = me_den[i]
    if den > 0:
        # sum_a need * strength: small integers, exact in float64, so dot / den is numpy's alignment
        for a in range(me_levels.shape[1]):
            lv = me_levels[i, a]
            if lv:
                for j in range(m):
                    score[j] += lv * mo_levels_t[a, j]
    op, bits, reg = me_op[i], me_bits[i], me_region[i]
    if den > 0:
        for j in range(m):
            score[j] = score[j] / den * (1.0 if reg == mo_region[j] else cross_factor)
    for p in range(st_start[i], st_start[i + 1]):  # + interest_weight x interest (encoding._pair_features)
        j = st_mentor[p]
        score[j] = score[j] + interest_weight * ((max(st_me[p], 0) + max(st_mo[p], 0)) / 4)
    for j in range(m):
        same = reg == mo_region[j]
        ok[j] = (ok[j] & alive[j] & (op != mo_op[j]) & ((bits & mo_bits[j]) != 0) & (same | (not region_same))
                 & (score[j] >= min_score))
    for fp in range(fb_start[i], fb_start[i + 1]):
        ok[fb_mentor[fp]] = False


@nb.njit(cache=True, nogil=True)
def _levels(i, F, lv_me, lv_mo, on):
    """Each side's stated level in mentee i's pairs, by mentor, into lv_me and lv_mo (which are 0
    elsewhere); ``on=False`` puts the 0s back."""
    st_start, st_mentor, st_me, st_mo = F[17], F[18], F[19], F[20]
    for p in range(st_start[i], st_start[i + 1]):
        lv_me[st_mentor[p]] = st_me[p] if on else 0
        lv_mo[st_mentor[p]] = st_mo[p] if on else 0


@nb.njit(cache=True, nogil=True)
def _pref(level, score):
    """encoding.preference for one pair."""
    return max(level, 0) * PREFERENCE_STEP + _round9(score)


@nb.njit(cache=True, nogil=True)
def _round9(x):
    """np.round(x, 9), as numpy computes it (x * 10^9, to the nearest even integer, / 10^9)."""
    return np.rint(x * 1e9) / 1e9


@nb.njit(cache=True, nogil=True)
def _random_key(add, i, j, m):
    """streams.random_keys for one pair (``add`` = the seed's offset, already reduced mod 2^64)."""
    x = np.uint64(i) * np.uint64(m) + np.uint64(j)
    x = x + add
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    return np.float64(x >> np.uint64(11)) / 9007199254740992.0


# A stream's pairs live in a pool: one row per pair (key, mentor, held; float64, exact for an
# index: 24 bytes a pair), each mentee's unread pairs a segment of it. The secondary
# is sec_rank[mentor]; the merges need no score. Stable's key is -(the mentee's preference),
# and held the mentor's preference (encoding.preference); the other orders leave held 0.
KEY, MENTOR, HELD = 0, 1, 2
POOL_COLUMNS = 3
# Per-mentee stream state, columns of an int64 (n, 5) array.
BEG, END, LEFT, LOADED, LAST_SEC = 0, 1, 2, 3, 4


@nb.njit(cache=True, nogil=True)
def _before(k1, s1, k2, s2):
    return k1 < k2 or (k1 == k2 and s1 < s2)


@nb.njit(cache=True, nogil=True)
def _scratch(m):
    """Per-call scratch rows: eligibility and scores by mentor, the eligible mentors, the
    candidates' keys, mentors and held keys, and each side's stated levels by mentor (kept 0)."""
    return (np.zeros(m, np.bool_), np.zeros(m), np.empty(m, np.int64), np.empty(m), np.empty(m, np.int64),
            np.empty(m), np.zeros(m, np.int64), np.zeros(m, np.int64))


#: Up to this many pairs a row's selection keeps a sorted list and inserts into it;
#: above, it collects every candidate, partitions at the size-th key and sorts those.
INSERT_MAX = 64


@nb.njit(cache=True, nogil=True)
def _top_row(i, ak, asec, size, order, add, alive, by_sec, sec_rank, seg, S, F):
    """Mentee i's first ``size`` eligible pairs with a live mentor in ascending (key, secondary),
    after (ak, asec) (asec < 0: from the start), into seg[:got]. Returns (got, how many such pairs
    there are in all). S = _scratch(m); by_sec lists the mentors in ascending secondary, so that
    among equal keys the earlier candidate comes first."""
    ok, scores, eligible, ck, cj, ch, lv_me, lv_mo = S
    _row(i, alive, ok, scores, F)
    _levels(i, F, lv_me, lv_mo, True)
    m = len(ok)
    n = 0  # candidates kept in ck/cj
    count = 0
    small = size <= INSERT_MAX
    e = 0  # the eligible mentors, in ascending secondary (branch-free: most mentors are not)
    for t in range(m):
        j = by_sec[t]
        eligible[e] = j
        e += ok[j]
    for t in range(e):
        j = eligible[t]
        score = scores[j]
        held = 0.0
        if order == 0:
            key = -score
        elif order == 1:
            key, held = -_pref(lv_me[j], score), _pref(lv_mo[j], score)
        else:
            key = _random_key(add, i, j, m)
        if asec >= 0 and not _before(ak, asec, key, sec_rank[j]):
            continue
        count += 1
        if not small:
            ck[n], cj[n], ch[n] = key, j, held
            n += 1
        elif n < size or key < ck[n - 1]:  # insert into the sorted list (a later equal key goes after)
            p = n if n < size else size - 1
            while p > 0 and ck[p - 1] > key:
                ck[p], cj[p], ch[p] = ck[p - 1], cj[p - 1], ch[p - 1]
                p -= 1
            ck[p], cj[p], ch[p] = key, j, held
            n = min(n + 1, size)
    _levels(i, F, lv_me, lv_mo, False)
    if small:
        for t in range(n):
            seg[t, KEY], seg[t, MENTOR], seg[t, HELD] = ck[t], cj[t], ch[t]
        return n, count
    if n > size:  # keep the ``size`` smallest keys, ties to the earlier candidate
        kth = np.partition(ck[:n], size - 1)[size - 1]
        ties = size
        for t in range(n):
            if ck[t] < kth:
                ties -= 1
        keep = 0
        for t in range(n):
            if ck[t] < kth or (ck[t] == kth and ties > 0):
                if ck[t] == kth:
                    ties -= 1
                ck[keep], cj[keep], ch[keep] = ck[t], cj[t], ch[t]
                keep += 1
        n = keep
    for t, o in enumerate(np.argsort(ck[:n], kind="mergesort")):  # stable: equal keys stay in candidate order
        seg[t, KEY], seg[t, MENTOR], seg[t, HELD] = ck[o], cj[o], ch[o]
    return n, count


@nb.njit(cache=True, nogil=True)
def _open(rows, chunk, order, add, by_sec, sec_rank, S, F):
    """Every mentee's stream, loaded with its first ``chunk`` pairs (all mentors live): the pool,
    the state (n x BEG..LAST_SEC), the last keys, and meta = [pool rows used, refills, eligible pairs]."""
    m = len(F[6])
    n = len(F[0])
    pool = np.empty((max(1, len(rows) * chunk), POOL_COLUMNS))
    st = np.zeros((n, 5), np.int64)
    last_key = np.zeros(n)
    meta = np.zeros(3, np.int64)
    alive = np.ones(m, np.bool_)
    for r in range(len(rows)):
        i = rows[r]
        a = r * chunk
        got, count = _top_row(i, 0.0, -1, chunk, order, add, alive, by_sec, sec_rank, pool[a:a + chunk], S, F)
        _loaded(i, a, got, count, chunk, pool, st, last_key, sec_rank)
        meta[2] += count
    meta[0] = len(rows) * chunk
    return pool, st, last_key, meta


@nb.njit(cache=True, nogil=True)
def _loaded(i, a, got, count, size, pool, st, last_key, sec_rank):
    st[i, BEG], st[i, END], st[i, LEFT], st[i, LOADED] = a, a + got, count - got, size
    if got:
        last_key[i], st[i, LAST_SEC] = pool[a + got - 1, KEY], sec_rank[np.int64(pool[a + got - 1, MENTOR])]


@nb.njit(cache=True, nogil=True)
def _head(i, pool, st, last_key, meta, growth, max_refill, order, add, alive, by_sec, sec_rank, S, F):
    """(pool, row of mentee i's next pair in it, or -1 when it has none), refilling the
    stream when its loaded pairs are used up: ``growth`` x the last load, at most ``max_refill``,
    after its last pair, live mentors only. A full pool is compacted (and grown) first,
    so the pool returned may be a new array."""
    if st[i, BEG] < st[i, END]:
        return pool, st[i, BEG]
    if st[i, LEFT] <= 0:
        return pool, -1
    size = min(growth * st[i, LOADED], max_refill)
    if meta[0] + size > len(pool):  # compact the unread segments to the front, growing the pool if needed
        live = 0
        for x in range(len(st)):
            live += st[x, END] - st[x, BEG]
        new = np.empty((max(len(pool), 2 * (live + size)), POOL_COLUMNS))
        at = 0
        for x in range(len(st)):
            k = st[x, END] - st[x, BEG]
            new[at:at + k] = pool[st[x, BEG]:st[x, END]]
            st[x, BEG], st[x, END] = at, at + k
            at += k
        pool = new
        meta[0] = at
    a = meta[0]
    got, count = _top_row(i, last_key[i], st[i, LAST_SEC], size, order, add, alive, by_sec, sec_rank,
                          pool[a:a + size], S, F)
    _loaded(i, a, got, count, size, pool, st, last_key, sec_rank)
    meta[0] += got
    meta[1] += 1
    return pool, (a if got else -1)


# Binary min-heaps over three parallel arrays (x, y, z)[off:off + size], ordered by (x, y, z):
# the merge's heap of mentees (key, mentee, secondary) and each mentor's held proposals in
# deferred acceptance (score, -mentee rank, mentee; the rank is unique, so z never decides).


@nb.njit(cache=True, nogil=True)
def _heap_swap(x, y, z, a, b):
    x[a], x[b] = x[b], x[a]
    y[a], y[b] = y[b], y[a]
    z[a], z[b] = z[b], z[a]


@nb.njit(cache=True, nogil=True)
def _heap_push(x, y, z, off, size, u, v, w):
    """Push (u, v, w) on the heap of ``size`` entries at ``off``; returns the new size."""
    c = off + size
    x[c], y[c], z[c] = u, v, w
    while c > off:
        p = off + (c - off - 1) // 2
        if (x[p], y[p], z[p]) <= (x[c], y[c], z[c]):
            break
        _heap_swap(x, y, z, p, c)
        c = p
    return size + 1


@nb.njit(cache=True, nogil=True)
def _heap_down(x, y, z, off, size):
    """Restore the heap of ``size`` entries at ``off`` below its root."""
    p = 0
    while True:
        c = 2 * p + 1
        if c >= size:
            return
        if c + 1 < size and (x[off + c + 1], y[off + c + 1], z[off + c + 1]) < (x[off + c], y[off + c], z[off + c]):
            c += 1
        if (x[off + p], y[off + p], z[off + p]) <= (x[off + c], y[off + c], z[off + c]):
            return
        _heap_swap(x, y, z, off + p, off + c)
        p = c


@nb.njit(cache=True, nogil=True)
def _heap_pop(x, y, z, size):
    """Remove the least of the heap at 0, moving it to [size - 1]; returns the new size."""
    size -= 1
    _heap_swap(x, y, z, 0, size)
    _heap_down(x, y, z, 0, size)
    return size


@nb.njit(cache=True, nogil=True)
def _greedy(rows, chunk, growth, max_refill, order, add, sec_rank, capacity, F):
    """streams.streamed_greedy without donors: the mentees' streams merged by (key, mentee,
    secondary), each pair taken while its mentee is free and its mentor has room."""
    S = _scratch(len(capacity))
    by_sec = np.argsort(sec_rank)
    pool, st, last_key, meta = _open(rows, chunk, order, add, by_sec, sec_rank, S, F)
    room = capacity.copy()
    alive = capacity > 0  # a full mentor never frees up in greedy: refills skip it
    hk, hi, hs = np.empty(len(rows)), np.empty(len(rows), np.int64), np.empty(len(rows), np.int64)
    size = 0
    for r in range(len(rows)):
        i = rows[r]
        if st[i, BEG] < st[i, END]:
            a = st[i, BEG]
            size = _heap_push(hk, hi, hs, 0, size, pool[a, KEY], i, sec_rank[np.int64(pool[a, MENTOR])])
    out_i, out_j = np.empty(len(rows), np.int64), np.empty(len(rows), np.int64)
    taken = 0
    while size:
        size = _heap_pop(hk, hi, hs, size)
        i = hi[size]
        j = np.int64(pool[st[i, BEG], MENTOR])
        if room[j] > 0:
            room[j] -= 1
            if room[j] == 0:
                alive[j] = False
            out_i[taken], out_j[taken] = i, j
            taken += 1
            continue
        st[i, BEG] += 1
        a = st[i, BEG]
        if a >= st[i, END]:  # (a call passes some thirty arrays: only when the loaded pairs are used up)
            pool, a = _head(i, pool, st, last_key, meta, growth, max_refill, order, add, alive, by_sec, sec_rank, S, F)
        if a >= 0:
            size = _heap_push(hk, hi, hs, 0, size, pool[a, KEY], i, sec_rank[np.int64(pool[a, MENTOR])])
    return out_i[:taken], out_j[:taken], meta[2], meta[1]


@nb.njit(cache=True, nogil=True)
def _deferred_acceptance(rows, chunk, growth, max_refill, sec_rank, mentee_rank, capacity, F):
    """stable.streamed_deferred_acceptance without donors: mentees propose down their
    streams (key = -their preference, then mentor id); a mentor holds its ``capacity``
    best by (its preference, lower mentee id). Returns (mentees, mentors) sorted by mentee."""
    n, m = len(F[0]), len(capacity)
    S = _scratch(m)
    by_sec = np.argsort(sec_rank)
    pool, st, last_key, meta = _open(rows, chunk, 1, np.uint64(0), by_sec, sec_rank, S, F)
    alive = np.ones(m, np.bool_)
    off = np.zeros(m + 1, np.int64)
    for j in range(m):
        off[j + 1] = off[j] + max(capacity[j], 0)
    hs, hr, hm = np.empty(off[m]), np.empty(off[m], np.int64), np.empty(off[m], np.int64)
    held = np.zeros(m, np.int64)
    partner = np.full(n, -1, np.int64)
    free = np.empty(len(rows), np.int64)
    top = 0
    for r in range(len(rows) - 1, -1, -1):  # a stack: mentees propose in index order
        i = rows[r]
        if st[i, BEG] < st[i, END]:
            free[top] = i
            top += 1
    while top:
        top -= 1
        i = free[top]
        while True:
            a = st[i, BEG]
            if a >= st[i, END]:
                pool, a = _head(i, pool, st, last_key, meta, growth, max_refill, 1, np.uint64(0), alive, by_sec,
                                sec_rank, S, F)
            if a < 0:
                break
            st[i, BEG] += 1
            j = np.int64(pool[a, MENTOR])
            if capacity[j] <= 0:
                continue
            s, rk = pool[a, HELD], -mentee_rank[i]  # the mentor's preference; a lower id is preferred
            full = held[j] >= capacity[j]
            if full and (s, rk) <= (hs[off[j]], hr[off[j]]):
                continue
            partner[i] = j
            if full:
                out = hm[off[j]]  # the least held proposal makes way
                hs[off[j]], hr[off[j]], hm[off[j]] = s, rk, i
                _heap_down(hs, hr, hm, off[j], held[j])
                partner[out] = -1
                free[top] = out
                top += 1
            else:
                held[j] = _heap_push(hs, hr, hm, off[j], held[j], s, rk, i)
            break
    mentees = np.flatnonzero(partner >= 0)
    return mentees, partner[mentees], meta[2], meta[1]


@nb.njit(cache=True, nogil=True)
def _count_blocking(rows, p_score, p_rank, w_score, w_rank, room, capacity, mentor_rank, mentee_rank, F):
    """metrics.blocking_pairs over the mentees ``rows``, pair by pair."""
    m = len(capacity)
    ok = np.zeros(m, np.bool_)
    scores = np.zeros(m)
    lv_me, lv_mo = np.zeros(m, np.int64), np.zeros(m, np.int64)
    placed = capacity > 0
    total = 0
    for r in range(len(rows)):
        i = rows[r]
        ps, pr, mi = p_score[i], p_rank[i], mentee_rank[i]
        _row(i, placed, ok, scores, F)
        _levels(i, F, lv_me, lv_mo, True)
        for j in range(m):
            if not ok[j]:
                continue
            s = _pref(lv_me[j], scores[j])
            if not (s > ps or (s == ps and mentor_rank[j] < pr)):
                continue
            t = _pref(lv_mo[j], scores[j])
            if room[j] or t > w_score[j] or (t == w_score[j] and mi < w_rank[j]):
                total += 1
        _levels(i, F, lv_me, lv_mo, False)
    return total


def count_blocking(g: CandidateGraph, rows: np.ndarray, p_score: np.ndarray, p_rank: np.ndarray,
                   w_score: np.ndarray, w_rank: np.ndarray, room: np.ndarray, mentor_rank: np.ndarray,
                   mentee_rank: np.ndarray) -> int:
    """metrics.blocking_pairs' count over the mentees ``rows`` (its arrays, by mentee and by mentor index)."""
    if not applies(g, streams=False):
        raise ValueError("the compiled kernels do not apply to a graph with a distance rule")
    return int(_count_blocking(np.ascontiguousarray(rows, np.int64), p_score, p_rank, w_score, w_rank,
                               np.ascontiguousarray(room, np.bool_), g.capacity, mentor_rank, mentee_rank,
                               features(g).args()))


@nb.njit(cache=True, nogil=True)
def _firsts(mask, out):
    """The first len(out) indices where mask holds, into out (the rest stay -1)."""
    k = 0
    for j in range(len(mask)):
        if mask[j]:
            out[k] = j
            k += 1
            if k == len(out):
                return


@nb.njit(cache=True, nogil=True)
def _explain_rows(rows, load, capacity, F):
    """explain.explain_unmatched's filters for the mentees ``rows``: per row, the mentors left
    after each filter in turn (strength, language, region, forbidden, min_score; a rule not in
    force lets all through), the first 5 of them, the best score left before min_score, and how
    many of the eligible mentors have room. Each filter is a branch-free pass over the mentors."""
    (me_op, me_bits, me_levels, me_den, me_lang, me_region, mo_op, mo_bits, mo_levels_t, mo_lang_t, mo_region,
     fb_start, fb_mentor, lang_hard, region_same, min_score, cross_factor) = F[:17]
    m, stages = len(mo_op), 5
    left = np.zeros((len(rows), stages), np.int64)
    first = np.full((len(rows), stages, 5), -1, np.int64)
    best = np.full(len(rows), -np.inf)
    room = np.zeros(len(rows), np.int64)
    ok = np.zeros(m, np.bool_)
    scores = np.zeros(m)
    everyone = np.ones(m, np.bool_)
    has_room = load < capacity
    masks = np.zeros((stages, m), np.bool_)
    for r in range(len(rows)):
        i = rows[r]
        _row(i, everyone, ok, scores, F)  # the scores, and in ok whether all five filters pass
        op, bits, reg = me_op[i], me_bits[i], me_region[i]
        s0, s1, s2, s3 = masks[0], masks[1], masks[2], masks[3]
        _shared_language(i, me_lang, mo_lang_t, lang_hard, s1)
        for j in range(m):
            s0[j] = (op != mo_op[j]) & ((bits & mo_bits[j]) != 0)
            s1[j] &= s0[j]
            s2[j] = s1[j] & ((reg == mo_region[j]) | (not region_same))
            s3[j] = s2[j]
        for fp in range(fb_start[i], fb_start[i + 1]):
            s3[fb_mentor[fp]] = False
        masks[4] = ok
        for k in range(stages):
            left[r, k] = masks[k].sum()
            _firsts(masks[k], first[r, k])
        b = -np.inf
        n_room = 0
        for j in range(m):
            b = max(b, scores[j] if s3[j] else -np.inf)
            n_room += ok[j] & has_room[j]
        best[r], room[r] = b, n_room
    return left, first, best, room


def explain_rows(g: CandidateGraph, rows: np.ndarray, load: np.ndarray):
    """_explain_rows for a graph the kernels apply to (no donors, no distance rule)."""
    _check(g)
    return _explain_rows(np.ascontiguousarray(rows, np.int64), np.ascontiguousarray(load, np.int64), g.capacity,
                         features(g).args())


def _check(g: CandidateGraph) -> None:
    if not applies(g):
        raise ValueError("the compiled kernels do not apply to a graph with donors or a distance rule")


def greedy(g: CandidateGraph, order: str, seed: int, chunk: int, growth: int,
           max_refill: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """streams.streamed_greedy without donors: (mentees, mentors) in the order taken, eligible pairs, refills."""
    _check(g)
    add = np.uint64((seed * _GOLDEN + _GOLDEN) % (1 << 64))
    rank = np.arange(g.n_mentors, dtype=np.int64)
    i, j, eligible, refills = _greedy(np.flatnonzero(g.free_mentee).astype(np.int64), chunk, growth, max_refill,
                                      ORDER_CODES[order], add, rank, g.capacity, features(g).args())
    return i, j, int(eligible), int(refills)


def deferred_acceptance(g: CandidateGraph, mentor_rank: np.ndarray, mentee_rank: np.ndarray, chunk: int,
                        growth: int, max_refill: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """stable.streamed_deferred_acceptance without donors: (mentees, mentors), eligible pairs, refills."""
    _check(g)
    i, j, eligible, refills = _deferred_acceptance(np.flatnonzero(g.free_mentee).astype(np.int64), chunk,
                                                   growth, max_refill, np.ascontiguousarray(mentor_rank, np.int64),
                                                   np.ascontiguousarray(mentee_rank, np.int64), g.capacity,
                                                   features(g).args())
    return i, j, int(eligible), int(refills)


@nb.njit(cache=True)
def take_in_order(order, pair_mentee, pair_mentor, cost, fundable, capacity, budget, max_count, n_mentees,
                  out_pair, out_donor):
    """heuristics.greedy_assignment's scan: each pair of ``order`` taken when its
    mentee is free, its mentor has room and (with donors) the first donor that can
    fund it has budget and count left. Writes the pairs and donors (-1 without
    donors) to out_pair / out_donor (n_mentees long) and returns how many."""
    taken = np.zeros(n_mentees, np.bool_)
    room = capacity.copy()
    left = budget.copy()
    count = max_count.copy()
    k = fundable.shape[1]
    n = 0
    for t in range(len(order)):
        e = order[t]
        i = pair_mentee[e]
        j = pair_mentor[e]
        if taken[i] or room[j] <= 0:
            continue
        d = -1
        if k > 0:
            c = cost[e]
            for x in range(k):
                if fundable[e, x] and left[x] >= c and count[x] > 0:
                    d = x
                    break
            if d < 0:
                continue
            left[d] -= c
            count[d] -= 1
        taken[i] = True
        room[j] -= 1
        out_pair[n] = e
        out_donor[n] = d
        n += 1
    return n


def warm() -> None:
    """Compile every kernel once on a tiny round, so that numba's cache holds them (about 20 s
    on the 2-CPU machine; `make` runs this after installing, and later runs load the cache)."""
    from ...generator import generate
    from ...models import parse_instance
    from .encoding import build_graph

    g = build_graph(parse_instance(generate(12, 4, seed=1)), candidates=False)
    rows = np.flatnonzero(g.free_mentee)
    rank = np.arange(g.n_mentors, dtype=np.int64)
    for order in ("score", "random"):
        greedy(g, order, 0, 2, 4, 16)
    deferred_acceptance(g, rank, np.arange(g.n_mentees, dtype=np.int64), 2, 4, 16)
    count_blocking(g, rows, np.zeros(g.n_mentees), np.zeros(g.n_mentees, np.int64), np.zeros(g.n_mentors),
                   np.zeros(g.n_mentors, np.int64), np.ones(g.n_mentors, bool), rank,
                   np.arange(g.n_mentees, dtype=np.int64))
    explain_rows(g, rows, np.zeros(g.n_mentors, np.int64))
    out = np.zeros(g.n_mentees, np.int64)
    take_in_order(np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.int64),
                  np.zeros((0, 1), bool), g.capacity.astype(np.int64), np.zeros(1, np.int64), np.zeros(1, np.int64),
                  g.n_mentees, out, out.copy())
