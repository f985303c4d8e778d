"""Each mentee's eligible pairs in a fixed order, a chunk at a time, without the whole graph.

The ordered heuristics (greedy, random, stable) only ever look at a mentee's
next pair in its own order. At 100,000 x 20,000 (740 million eligible pairs)
the candidate graph does not fit in memory, but each mentee's first
``StreamParams.chunk`` pairs do: one block pass keeps them, and a mentee that uses
them all up is refilled from its own row (one row of pairs, encoded again).

Orders (a strict total order per mentee; ``key`` then mentor index):

- ``score``: descending score (greedy's order);
- ``stable``: descending preference (encoding.preference: a stated level, then the score
  to 9 decimals), ties by the lower mentor id;
- ``random``: a uniform key per (seed, mentee, mentor) from a counter-based
  hash, so any pair's key is the same whatever the blocks (random's order).

Merging the mentees' streams by (key, mentee, mentor) gives exactly the global
order of all pairs, which is what tests/test_streams.py checks against the
policies run on the whole graph.

Without donors and without a distance rule, the streams and the merge run
compiled (kernels.py: the same orders, chunks and refills, one mentee's row at a
time rather than in numpy blocks); MenteeStreams is the numpy version, for the
other cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

import numpy as np

from ..tuning import StreamParams
from .encoding import BLOCK_PAIRS, CandidateGraph, PairBlock, preference

Order = Literal["score", "stable", "random"]
def random_keys(seed: int, mentee: np.ndarray, mentor: np.ndarray, n_mentors: int) -> np.ndarray:
    """A uniform float in [0, 1) per (seed, mentee, mentor): splitmix64 of the pair number."""
    with np.errstate(over="ignore"):
        x = (np.asarray(mentee, np.uint64) * np.uint64(n_mentors) + np.asarray(mentor, np.uint64))
        x = x + np.uint64((seed * 0x9E3779B97F4A7C15) % (1 << 64)) + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


#: A listed pair, as a structured array: each mentee's chunk is a slice of its block's array.
_PAIR = np.dtype([("key", "f8"), ("mentor", "i8"), ("score", "f8"), ("cost", "i8"), ("fund", "i8"),
                  ("held", "f8")])


@dataclass(frozen=True)
class Head:
    """A mentee's next pair."""

    key: float
    mentor: int
    score: float
    cost: int
    fund: int  # bit x set: donor x can fund the pair (eligibility, not budget)
    held: float  # how much the mentor wants the pair (encoding.preference)


class MenteeStreams:
    def __init__(self, g: CandidateGraph, order: Order, params: StreamParams, seed: int = 0,
                 block_pairs: int = BLOCK_PAIRS) -> None:
        self.g, self.order, self.seed, self.chunk, self.params = g, order, seed, params.chunk, params
        n, m = g.n_mentees, g.n_mentors
        self.mentor_rank = g.mentor_rank if order == "stable" else np.arange(m)
        #: Mentors still worth listing (set by the caller, e.g. those with room for
        #: greedy, whose full mentors never free up); None = all. Applies to refills.
        self.alive: Optional[np.ndarray] = None
        self.loaded = np.zeros(n, np.int64)  # size of each mentee's last load
        self.items: list[np.ndarray] = [np.empty(0, _PAIR)] * n
        self.pos = np.zeros(n, np.int64)
        self.left = np.zeros(n, np.int64)  # eligible pairs not loaded yet
        self.last: list[Optional[tuple[float, int]]] = [None] * n
        self.eligible = 0
        self.refills = 0
        rows_all = np.flatnonzero(g.free_mentee)
        step = max(1, block_pairs // max(1, m))
        for start in range(0, len(rows_all), step):
            self._load(rows_all[start:start + step], None)

    def _keys(self, rows: np.ndarray, block: PairBlock) -> np.ndarray:
        if self.order == "random":
            m = self.g.n_mentors
            return random_keys(self.seed, rows[:, None], np.arange(m)[None, :], m)
        return -preference(block.wish_mentee, block.score) if self.order == "stable" else -block.score

    def _load(self, rows: np.ndarray, after: Optional[tuple[float, int]], chunk: Optional[int] = None) -> None:
        """Load the next ``chunk`` pairs of each row (after ``after``, for a
        single-row refill), skipping mentors that ``alive`` says are out."""
        g = self.g
        chunk = chunk or self.chunk
        block = g.pair_block(rows, costs=g.has_donors)
        ok = g.eligible(block)
        if self.alive is not None:
            ok &= self.alive[None, :]
        fundable = g.fundable_in_block(block) if g.has_donors else None
        if fundable is not None:  # as the candidate graph: only pairs some donor could fund
            ok &= fundable.any(axis=2)
        key = self._keys(rows, block)
        sec = self.mentor_rank[None, :]
        if after is not None:
            ok = ok & ((key > after[0]) | ((key == after[0]) & (sec > after[1])))
        counts = ok.sum(axis=1)
        if after is None:
            self.eligible += int(counts.sum())
        self.loaded[rows] = chunk
        # each row's chunk smallest (key, secondary): the chunk-th smallest key, then ties sorted
        k = min(chunk, g.n_mentors)
        masked = np.where(ok, key, np.inf)
        kth = np.partition(masked, k - 1, axis=1)[:, k - 1:k] if k < g.n_mentors else np.full((len(rows), 1), np.inf)
        r, c = np.nonzero(ok & (masked <= kth))
        order = np.lexsort((self.mentor_rank[c], key[r, c], r))
        r, c = r[order], c[order]
        rank = np.arange(len(r)) - np.searchsorted(r, r, side="left")
        take = rank < chunk
        r, c = r[take], c[take]
        fund = np.zeros(len(r), np.int64)
        if fundable is not None:
            fund = (fundable[r, c].astype(np.int64) << np.arange(g.n_donors)).sum(axis=1)
        cost = block.cost[r, c] if block.cost is not None else np.zeros(len(r), np.int64)
        # one record array per block; each mentee's chunk is a slice of it (no Python object per pair)
        rec = np.empty(len(r), _PAIR)
        rec["key"], rec["mentor"], rec["score"], rec["cost"], rec["fund"] = key[r, c], c, block.score[r, c], cost, fund
        rec["held"] = preference(block.wish_mentor[r, c], block.score[r, c])
        starts = np.searchsorted(r, np.arange(len(rows) + 1))
        for a, i in enumerate(rows.tolist()):
            got = rec[starts[a]:starts[a + 1]]
            self.items[i] = got
            self.pos[i] = 0
            self.left[i] = int(counts[a]) - len(got)
            if len(got):
                self.last[i] = (float(got["key"][-1]), int(self.mentor_rank[got["mentor"][-1]]))

    def head(self, i: int) -> Optional[Head]:
        if self.pos[i] >= len(self.items[i]):
            if self.left[i] <= 0:
                return None
            self.refills += 1
            # each refill of a mentee loads refill_growth times as many pairs as the one before
            grown = min(self.params.refill_growth * self.loaded[i], self.params.max_refill)
            self._load(np.array([i]), self.last[i], chunk=int(grown))
            if not len(self.items[i]):
                return None
        return Head(*self.items[i][self.pos[i]].item())

    def advance(self, i: int) -> None:
        self.pos[i] += 1

    def secondary(self, h: Head) -> int:
        return int(self.mentor_rank[h.mentor])


@dataclass
class Streamed:
    """An assignment found on streams: parallel arrays, and the eligible pairs counted."""

    mentee: np.ndarray
    mentor: np.ndarray
    donor: np.ndarray
    eligible: int
    refills: int


def first_donor(fund: int, cost: int, budget: list[int], count: list[int]) -> int:
    """The first donor (instance order) that can fund the pair and has budget and count left, else -1."""
    x = 0
    while fund:
        if fund & 1 and budget[x] >= cost and count[x] > 0:
            return x
        fund >>= 1
        x += 1
    return -1
