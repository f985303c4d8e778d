"""Encode an instance once into a candidate graph of numpy arrays.

The graph holds one row per *candidate*: a (mentee, mentor) pair that is
eligible under docs/format.md §3 and, when the instance has donors, fundable by at
least one donor. Everything a policy needs is here (scores, costs, focus,
which donor can fund which pair, capacities, budgets, pinned partnerships),
with id<->index maps so that :mod:`wopmatch.solver.decode` can turn an
assignment back into a solution with ids.

Pairs are evaluated in blocks of mentees against all mentors, so memory is
bounded by the block size plus the candidates kept, never by n x m.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Optional

import numpy as np

from ...models.instance import WEIGHT_RESOLUTION, Instance
from .units import QUALITY_SCALE, quality_units

EARTH_RADIUS_KM = 6371.0
#: Pairs evaluated per block (mentees x mentors); bounds the encoder's scratch memory.
BLOCK_PAIRS = 1 << 21
NO_LIMIT = np.iinfo(np.int64).max
#: In the stable policy's preferences a stated level ranks before any score (docs/policies.md):
#: a key of level x PREFERENCE_STEP + score, and a score never reaches this step (it is at most 2).
PREFERENCE_STEP = 4.0


def preference(level: np.ndarray, score: np.ndarray) -> np.ndarray:
    """How much one side wants a pair: the level it stated (none and vetoes count 0), then the
    score as the solution file states it (9 decimals); larger is preferred. Without interests
    this is the rounded score itself, bit for bit."""
    return np.maximum(level, 0) * PREFERENCE_STEP + np.round(score, 9)


@dataclass(frozen=True)
class OperatorFeatures:
    """Per-profile arrays for one side (mentees or mentors)."""

    op: np.ndarray  # operator index in instance.operators
    levels: np.ndarray  # (k, A) int64 needs or strengths
    bits: np.ndarray  # (k,) int64 bitmask: needs >= 1 or strengths >= min_strength
    lang: np.ndarray  # (k, W) uint64 language bitmask words
    region: np.ndarray  # (k,) int32 region code
    country: np.ndarray  # (k,) int32 country code
    has_loc: np.ndarray  # (k,) bool
    lat: np.ndarray  # (k,) radians
    lon: np.ndarray  # (k,) radians
    priority: np.ndarray  # (k,) int64 bitmask: needs >= costs.priority_need (mentees; mentors: as bits)


@dataclass(frozen=True)
class PairBlock:
    """Every docs/format.md §3 quantity for a block of mentees x all mentors (shape (B, m)).

    ``distance`` and ``cost`` are None in a block built with ``costs=False``
    (``distance`` is kept when a distance rule needs it for eligibility)."""

    rows: np.ndarray  # mentee indices of the block
    not_self: np.ndarray
    focus: np.ndarray  # int64 bitmask of focus areas
    shared_language: np.ndarray
    same_region: np.ndarray
    distance: Optional[np.ndarray]
    score: np.ndarray
    cost: Optional[np.ndarray]  # int64
    forbidden: np.ndarray  # forbidden in the instance, or vetoed by either side (interests)
    wish_mentee: np.ndarray  # integers: the level the mentee stated about the mentor (0: none)
    wish_mentor: np.ndarray  # integers: the level the mentor stated about the mentee (0: none)


@dataclass(frozen=True)
class Pinned:
    mentee: np.ndarray  # mentee index
    mentor: np.ndarray  # mentor index
    donor: np.ndarray  # donor index or -1
    score: np.ndarray
    cost: np.ndarray
    focus: np.ndarray


@dataclass(frozen=True)
class CandidateGraph:
    instance: Instance
    work_areas: tuple[str, ...]
    mentees: OperatorFeatures
    mentors: OperatorFeatures
    mentee_weight: np.ndarray  # (n,) float
    mentee_weight_units: np.ndarray  # (n,) int64: round(weight / WEIGHT_RESOLUTION)
    free_mentee: np.ndarray  # (n,) bool: not pinned
    capacity: np.ndarray  # (m,) int64 capacity left after pinned partnerships
    # Donors (k may be 0: funding is then not modelled).
    donor_ids: tuple[str, ...]
    budget: np.ndarray  # (k,) int64 budget left after pinned partnerships
    max_count: np.ndarray  # (k,) int64 partnerships left (NO_LIMIT when uncapped)
    # Candidates, sorted by (mentee, mentor).
    pair_mentee: np.ndarray  # (E,) int32
    pair_mentor: np.ndarray  # (E,) int32
    score: np.ndarray  # (E,) float64
    cost: np.ndarray  # (E,) int64
    distance: np.ndarray  # (E,) float64
    focus: np.ndarray  # (E,) int64 bitmask
    fundable: np.ndarray  # (E, k) bool
    pinned: Pinned
    infeasible: tuple[str, ...] = ()
    # Donor eligibility inputs kept for explanations.
    donor_mentee_ok: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), bool))  # (n, k)
    donor_area_bits: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # (k,)
    donor_max_grant: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # (k,)
    # Forbidden pairs, and pairs either side vetoed, as (mentee index, mentor index), sorted by mentee.
    forbidden_mentee: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    forbidden_mentor: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    # Stated interests per pair: key mentee * n_mentors + mentor (sorted), and each side's level.
    stated_key: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    stated_by_mentee: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    stated_by_mentor: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def n_mentees(self) -> int:
        return len(self.mentees.op)

    @property
    def n_mentors(self) -> int:
        return len(self.mentors.op)

    @property
    def n_donors(self) -> int:
        return len(self.donor_ids)

    @property
    def n_candidates(self) -> int:
        return len(self.pair_mentee)

    @property
    def has_donors(self) -> bool:
        return self.n_donors > 0

    @property
    def has_interests(self) -> bool:
        """Some operator states an interest (scores and the stable policy's preferences use them)."""
        return len(self.stated_key) > 0

    def stated(self, mentee: np.ndarray, mentor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The levels the mentee stated about the mentor and the mentor about the mentee
        (0 where none), for pairs (mentee[k], mentor[k]) (any broadcastable shapes)."""
        key = np.asarray(mentee, np.int64) * self.n_mentors + np.asarray(mentor, np.int64)
        if not self.has_interests:
            return np.zeros(key.shape, np.int64), np.zeros(key.shape, np.int64)
        pos = np.minimum(np.searchsorted(self.stated_key, key), len(self.stated_key) - 1)
        hit = self.stated_key[pos] == key
        return np.where(hit, self.stated_by_mentee[pos], 0), np.where(hit, self.stated_by_mentor[pos], 0)

    @cached_property
    def mentee_index(self) -> dict[str, int]:
        """Operator id -> mentee index."""
        return {self.mentee_id(i): i for i in range(self.n_mentees)}

    @cached_property
    def mentor_index(self) -> dict[str, int]:
        """Operator id -> mentor index."""
        return {self.mentor_id(j): j for j in range(self.n_mentors)}

    @cached_property
    def mentee_rank(self) -> np.ndarray:
        """Each mentee's position when mentees are sorted by id: the tie-breaker of the
        ordered heuristics and the blocking-pair count (the lower id is preferred)."""
        return _id_ranks([self.mentee_id(i) for i in range(self.n_mentees)])

    @cached_property
    def mentor_rank(self) -> np.ndarray:
        """Each mentor's position when mentors are sorted by id (see mentee_rank)."""
        return _id_ranks([self.mentor_id(j) for j in range(self.n_mentors)])

    def pair_quality_units(self, scale: int = QUALITY_SCALE) -> np.ndarray:
        """Each candidate's quality (mentee weight x score) in integer units (units.py)."""
        return quality_units(self.mentee_weight[self.pair_mentee], self.score, scale)

    def candidate(self, mentee: str, mentor: str) -> int:
        """Index of the candidate (mentee, mentor), or -1 when the pair is not a candidate."""
        i, j = self.mentee_index.get(mentee), self.mentor_index.get(mentor)
        if i is None or j is None:
            return -1
        lo, hi = np.searchsorted(self.pair_mentee, [i, i + 1])
        k = lo + int(np.searchsorted(self.pair_mentor[lo:hi], j))
        return k if k < hi and self.pair_mentor[k] == j else -1

    def mentee_id(self, i: int) -> str:
        return self.instance.operators[int(self.mentees.op[i])].id

    def mentor_id(self, j: int) -> str:
        return self.instance.operators[int(self.mentors.op[j])].id

    def focus_names(self, bits: int) -> list[str]:
        return [a for k, a in enumerate(self.work_areas) if bits >> k & 1]

    def with_scores(self, score: np.ndarray) -> "CandidateGraph":
        """The same graph with other candidate scores (keep_stable's penalised ones)."""
        return replace(self, score=score)

    def restrict(self, keep: np.ndarray) -> "CandidateGraph":
        """The same instance with only the candidates ``keep`` (a boolean mask or
        sorted indices) marks; candidate k of the result is ``np.flatnonzero(keep)[k]``
        (or ``keep[k]``) here."""
        idx = np.flatnonzero(keep) if keep.dtype == bool else np.asarray(keep, np.int64)
        return replace(self, pair_mentee=self.pair_mentee[idx], pair_mentor=self.pair_mentor[idx],
                       score=self.score[idx], cost=self.cost[idx], distance=self.distance[idx],
                       focus=self.focus[idx], fundable=self.fundable[idx])

    def pair_block(self, rows: np.ndarray, costs: bool = True) -> PairBlock:
        """``costs=False`` skips distances and costs where eligibility does not
        need them (pricing passes: the great-circle distance is most of a block's time)."""
        return _pair_block(self, np.asarray(rows, dtype=np.int64), costs)

    def pair_list(self, mentee: np.ndarray, mentor: np.ndarray) -> PairBlock:
        """The same quantities for the pairs (mentee[k], mentor[k]): 1-D arrays."""
        return _pair_list(self, np.asarray(mentee, dtype=np.int64), np.asarray(mentor, dtype=np.int64))

    def eligible(self, block: PairBlock) -> np.ndarray:
        """docs/format.md §3 eligibility of every pair in the block (donors aside)."""
        rules = self.instance.rules
        ok = block.not_self & (block.focus != 0) & ~block.forbidden
        if rules.language == "hard":
            ok &= block.shared_language
        if rules.region == "same":
            ok &= block.same_region
        if rules.max_distance_km is not None:
            ok &= block.distance <= rules.max_distance_km
        ok &= block.score >= rules.min_score
        return ok

    def fundable_in_block(self, block: PairBlock) -> np.ndarray:
        """(B, m, k) bool: donor d can fund the pair (docs/format.md §3, last rule)."""
        mentee_ok = self.donor_mentee_ok[block.rows]  # (B, k)
        area_ok = (block.focus[:, :, None] & self.donor_area_bits[None, None, :]) != 0
        grant_ok = block.cost[:, :, None] <= self.donor_max_grant[None, None, :]
        return mentee_ok[:, None, :] & area_ok & grant_ok


def _id_ranks(ids: list[str]) -> np.ndarray:
    order = sorted(range(len(ids)), key=lambda k: ids[k])
    rank = np.empty(len(ids), np.int64)
    rank[order] = np.arange(len(ids))
    return rank


def trips(instance: Instance) -> int:
    """Trips of every partnership under the fixed duration rule."""
    c = instance.costs
    return c.mentor_visits_per_year * math.ceil(c.duration_months / 12) + c.mentee_visits


def issue_months(instance: Instance, issues: np.ndarray) -> np.ndarray:
    """Months of partnerships whose issue bitmasks (priority needs the mentor is strong
    in) are ``issues``, under the round's duration rule (docs/format.md §3)."""
    c = instance.costs
    if c.duration_rule == "fixed":
        return np.full(np.shape(issues), c.duration_months, dtype=np.int64)
    count = np.zeros(np.shape(issues), dtype=np.int64)
    for k in range(len(instance.work_areas)):
        count += (issues >> k) & 1
    return np.minimum(c.max_months, c.months_first_issue + c.months_per_issue * np.maximum(count - 1, 0))


def _trips(instance: Instance, issues: np.ndarray):
    """Trips per partnership: one mentee visit, the mentor's visits per started year."""
    c = instance.costs
    if c.duration_rule == "fixed":
        return trips(instance)  # one number: the costs of every round before the issues rule, bit for bit
    return c.mentor_visits_per_year * ((issue_months(instance, issues) + 11) // 12) + c.mentee_visits


def _side(instance: Instance, ops: list[int], role: str, lang_index: dict[str, int],
          region_index: dict[str, int], country_index: dict[str, int]) -> OperatorFeatures:
    areas = instance.work_areas
    k = len(ops)
    levels = np.zeros((k, len(areas)), dtype=np.int64)
    words = max(1, (len(lang_index) + 63) // 64)
    lang = np.zeros((k, words), dtype=np.uint64)
    region = np.zeros(k, dtype=np.int32)
    country = np.zeros(k, dtype=np.int32)
    has_loc = np.zeros(k, dtype=bool)
    lat = np.zeros(k)
    lon = np.zeros(k)
    area_pos = {a: p for p, a in enumerate(areas)}
    for row, o in enumerate(ops):
        op = instance.operators[o]
        profile = op.mentor if role == "mentor" else op.mentee
        values = profile.strengths if role == "mentor" else profile.needs  # type: ignore[union-attr]
        offers = profile.offers if role == "mentor" else None  # type: ignore[union-attr]
        for area, level in values.items():
            if offers is None or area in offers:  # a mentor shares only what it offers
                levels[row, area_pos[area]] = level
        for code in op.languages:
            b = lang_index[code]
            lang[row, b // 64] |= np.uint64(1) << np.uint64(b % 64)
        region[row] = region_index[op.region]
        country[row] = country_index[op.country]
        if op.location is not None:
            has_loc[row] = True
            lat[row] = math.radians(op.location.lat)
            lon[row] = math.radians(op.location.lon)
    threshold = instance.rules.min_strength if role == "mentor" else 1
    weights = np.int64(1) << np.arange(len(areas), dtype=np.int64)
    bits = ((levels >= threshold) * weights).sum(axis=1).astype(np.int64)
    priority = bits if role == "mentor" else \
        ((levels >= instance.costs.priority_need) * weights).sum(axis=1).astype(np.int64)
    return OperatorFeatures(np.asarray(ops, dtype=np.int64), levels, bits, lang, region, country,
                            has_loc, lat, lon, priority)


def _scatter(rows: np.ndarray, m: int, mentee: np.ndarray, mentor: np.ndarray, values: np.ndarray,
             dtype: type) -> np.ndarray:
    """(len(rows), m) array of ``values`` at the listed (mentee, mentor) pairs whose mentee is
    one of ``rows`` (sorted: blocks of consecutive mentees, or explicit sorted lists), 0 elsewhere."""
    out = np.zeros((len(rows), m), dtype=dtype)
    if len(mentee) and len(rows):
        pos = np.searchsorted(rows, mentee)
        hit = (pos < len(rows)) & (rows[np.minimum(pos, len(rows) - 1)] == mentee)
        out[pos[hit], mentor[hit]] = values[hit]
    return out


def _pair_block(g: CandidateGraph, rows: np.ndarray, costs: bool = True) -> PairBlock:
    m = g.n_mentors
    forbidden = _scatter(rows, m, g.forbidden_mentee, g.forbidden_mentor, np.ones(len(g.forbidden_mentee), bool),
                         bool)
    if g.has_interests:
        mentee, mentor = np.divmod(g.stated_key, m)
        wishes = (_scatter(rows, m, mentee, mentor, g.stated_by_mentee, np.int8),
                  _scatter(rows, m, mentee, mentor, g.stated_by_mentor, np.int8))
        bonus = _scatter(rows, m, mentee, mentor, _interest_term(g, g.stated_by_mentee, g.stated_by_mentor), float)
    else:  # no interest stated: zero views of the block's shape, without their memory
        wishes = (np.broadcast_to(np.zeros(1, np.int8), (len(rows), m)),) * 2
        bonus = None
    dot = g.mentees.levels[rows] @ g.mentors.levels.T
    return _pair_features(g, rows, rows[:, None], np.arange(m)[None, :], dot, forbidden, wishes, bonus, costs)


def _pair_list(g: CandidateGraph, mentee: np.ndarray, mentor: np.ndarray) -> PairBlock:
    m = g.n_mentors
    forbidden = np.isin(mentee.astype(np.int64) * m + mentor,
                        g.forbidden_mentee.astype(np.int64) * m + g.forbidden_mentor)
    dot = (g.mentees.levels[mentee] * g.mentors.levels[mentor]).sum(axis=1)
    wishes = g.stated(mentee, mentor)
    bonus = _interest_term(g, *wishes) if g.has_interests else None
    return _pair_features(g, mentee, mentee, mentor, dot, forbidden, wishes, bonus)


def _interest_term(g: CandidateGraph, by_mentee: np.ndarray, by_mentor: np.ndarray) -> np.ndarray:
    """interest_weight x interest (docs/format.md §3), where interest = (each side's stated
    level, vetoes as 0) / 4; the compiled kernels add the same term in the same order."""
    return g.instance.rules.interest_weight * ((np.maximum(by_mentee, 0).astype(np.int64)
                                                + np.maximum(by_mentor, 0)) / 4)


def _pair_features(g: CandidateGraph, rows: np.ndarray, mi: np.ndarray, mj: np.ndarray, dot: np.ndarray,
                   forbidden: np.ndarray, wishes: tuple[np.ndarray, np.ndarray], bonus: Optional[np.ndarray],
                   costs: bool = True) -> PairBlock:
    """docs/format.md §3 quantities for mentee indices ``mi`` and mentor indices ``mj``
    (broadcastable: a block of rows x all mentors, or two lists of pairs);
    ``dot`` = sum_a need * strength, ``wishes`` = each side's stated level and ``bonus`` the
    interest term (None without interests), in the same shape."""
    inst = g.instance
    me, mo = g.mentees, g.mentors
    not_self = me.op[mi] != mo.op[mj]
    focus = me.bits[mi] & mo.bits[mj]
    shared = np.zeros(np.broadcast_shapes(np.shape(mi), np.shape(mj)), dtype=bool)
    for w in range(me.lang.shape[1]):
        shared |= (me.lang[mi, w] & mo.lang[mj, w]) != 0
    same_region = me.region[mi] == mo.region[mj]
    distance = _distance(g, mi, mj, same_region) if costs or inst.rules.max_distance_km is not None else None

    # alignment = sum_a need*strength / (5 * sum_a need); 0 where the mentee has no needs.
    denom = 5 * me.levels[mi].sum(axis=-1)  # the rows asked for only (a one-row refill is common)
    with np.errstate(divide="ignore", invalid="ignore"):
        alignment = np.where(denom > 0, dot / np.maximum(denom, 1), 0.0)
    factor = np.where(same_region, 1.0, 1.0 - inst.rules.cross_region_penalty)
    score = alignment * factor
    if bonus is not None:  # + the interest term (0 where nothing is stated)
        score = score + bonus

    cost = None
    if costs:
        c = inst.costs
        issues = me.priority[mi] & mo.bits[mj] if c.duration_rule == "issues" else None
        raw_cost = c.base + _trips(inst, issues) * (c.trip_fixed + c.per_km * distance)
        cost = np.rint(raw_cost).astype(np.int64)  # round half to even, as Python's round()
    return PairBlock(rows, not_self, focus, shared, same_region, distance, score, cost, forbidden, *wishes)


def _distance(g: CandidateGraph, mi: np.ndarray, mj: np.ndarray, same_region: np.ndarray) -> np.ndarray:
    """Great-circle distance where both ends have a location, defaults otherwise."""
    me, mo = g.mentees, g.mentors
    dd = g.instance.costs.default_distance_km
    distance = np.where(same_region, dd.same_region, dd.cross_region).astype(np.float64)
    both = me.has_loc[mi] & mo.has_loc[mj]
    if both.any():
        lat1, lat2 = me.lat[mi], mo.lat[mj]
        dlat = lat2 - lat1
        dlon = mo.lon[mj] - me.lon[mi]
        a = np.sin(dlat / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin(dlon / 2) ** 2
        hav = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
        distance = np.where(both, hav, distance)
    return distance


def build_graph(instance: Instance, block_pairs: int = BLOCK_PAIRS, candidates: bool = True) -> CandidateGraph:
    """Encode ``instance`` (vectorised, in blocks of about ``block_pairs`` pairs).

    ``candidates=False`` encodes operators, donors and pinned partnerships but no
    pairs: for solvers that choose their own working set (network/pricing.py)."""
    codes = _Codes.of(instance)
    graph = _operators(instance, codes)
    if candidates:
        graph = _with_candidates(graph, block_pairs)
    pinned = _pinned(graph, [(codes.mentee_at[p.mentee], codes.mentor_at[p.mentor],
                              -1 if p.donor is None else codes.donor_at[p.donor]) for p in instance.pinned])
    capacity_left, budget_left, count_left, problems = _after_pinned(graph, pinned)
    return replace(graph, pinned=pinned, capacity=capacity_left, budget=budget_left, max_count=count_left,
                   infeasible=tuple(problems))


@dataclass(frozen=True)
class _Codes:
    """Each mentee, mentor, donor, language, region and country as an index."""

    mentee_ops: list[int]  # operator indices of the mentees
    mentor_ops: list[int]
    mentee_at: dict[str, int]  # operator id -> mentee index
    mentor_at: dict[str, int]
    donor_at: dict[str, int]
    lang: dict[str, int]
    region: dict[str, int]
    country: dict[str, int]

    @staticmethod
    def of(instance: Instance) -> "_Codes":
        ops = instance.operators
        mentee_ops = [i for i, op in enumerate(ops) if op.mentee is not None]
        mentor_ops = [i for i, op in enumerate(ops) if op.mentor is not None]
        lang: dict[str, int] = {}
        region: dict[str, int] = {}
        country: dict[str, int] = {}
        for op in ops:
            for code in op.languages:
                lang.setdefault(code, len(lang))
            region.setdefault(op.region, len(region))
            country.setdefault(op.country, len(country))
        for d in instance.donors:
            for r in d.regions or ():
                region.setdefault(r, len(region))
            for cc in d.countries or ():
                country.setdefault(cc, len(country))
        return _Codes(mentee_ops, mentor_ops, {ops[o].id: i for i, o in enumerate(mentee_ops)},
                      {ops[o].id: j for j, o in enumerate(mentor_ops)},
                      {d.id: x for x, d in enumerate(instance.donors)}, lang, region, country)


def _operators(instance: Instance, codes: _Codes) -> CandidateGraph:
    """The graph of ``instance`` without candidates, and before the pinned partnerships are placed."""
    ops = instance.operators
    mentees = _side(instance, codes.mentee_ops, "mentee", codes.lang, codes.region, codes.country)
    mentors = _side(instance, codes.mentor_ops, "mentor", codes.lang, codes.region, codes.country)
    k = len(instance.donors)
    weight = np.array([ops[o].mentee.weight for o in codes.mentee_ops], dtype=np.float64)  # type: ignore[union-attr]
    donor_mentee_ok, area_bits, max_grant = _donor_rules(instance, mentees, codes)
    m = len(codes.mentor_ops)
    stated_key, by_mentee, by_mentor = _stated(instance, codes)
    vetoed = np.divmod(stated_key[(by_mentee < 0) | (by_mentor < 0)], max(1, m))
    fb_key = np.unique(np.concatenate([
        np.array([codes.mentee_at[f.mentee] * m + codes.mentor_at[f.mentor] for f in instance.forbidden], np.int64),
        vetoed[0] * m + vetoed[1]]))
    fb = np.stack(np.divmod(fb_key, max(1, m)), axis=1) if len(fb_key) else np.zeros((0, 2), np.int64)
    free = np.ones(len(codes.mentee_ops), dtype=bool)
    for p in instance.pinned:
        free[codes.mentee_at[p.mentee]] = False
    return CandidateGraph(
        instance=instance,
        work_areas=tuple(instance.work_areas),
        mentees=mentees,
        mentors=mentors,
        mentee_weight=weight,
        mentee_weight_units=np.rint(weight / WEIGHT_RESOLUTION).astype(np.int64),
        free_mentee=free,
        capacity=np.array([ops[o].mentor.capacity for o in codes.mentor_ops], dtype=np.int64),  # type: ignore
        donor_ids=tuple(d.id for d in instance.donors),
        budget=np.array([d.budget for d in instance.donors], dtype=np.int64),
        max_count=np.array([NO_LIMIT if d.max_partnerships is None else d.max_partnerships
                            for d in instance.donors], dtype=np.int64),
        pair_mentee=np.zeros(0, np.int32),
        pair_mentor=np.zeros(0, np.int32),
        score=np.zeros(0),
        cost=np.zeros(0, np.int64),
        distance=np.zeros(0),
        focus=np.zeros(0, np.int64),
        fundable=np.zeros((0, k), bool),
        pinned=Pinned(*(np.zeros(0, t) for t in (np.int64, np.int64, np.int64, float, np.int64, np.int64))),
        donor_mentee_ok=donor_mentee_ok,
        donor_area_bits=area_bits,
        donor_max_grant=max_grant,
        forbidden_mentee=fb[:, 0].copy(),
        forbidden_mentor=fb[:, 1].copy(),
        stated_key=stated_key,
        stated_by_mentee=by_mentee,
        stated_by_mentor=by_mentor,
    )


def _stated(instance: Instance, codes: _Codes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs someone stated an interest in, as sorted keys mentee index x n_mentors +
    mentor index, with the mentee's level about the mentor and the mentor's about the mentee
    (0 where a side stated nothing): an operator's interest in another counts in whichever
    role each can take."""
    ops = instance.operators
    at = {op.id: k for k, op in enumerate(ops)}
    mentee_of = np.full(len(ops), -1, np.int64)  # operator index -> mentee index, or -1
    mentor_of = np.full(len(ops), -1, np.int64)
    mentee_of[codes.mentee_ops] = np.arange(len(codes.mentee_ops))
    mentor_of[codes.mentor_ops] = np.arange(len(codes.mentor_ops))
    who = np.array([k for k, op in enumerate(ops) for _ in op.interests], np.int64)
    whom = np.array([at[it["operator"]] for op in ops for it in op.interests], np.int64)
    level = np.array([it["level"] for op in ops for it in op.interests], np.int64)
    m = len(codes.mentor_ops)
    as_mentee = (mentee_of[who] >= 0) & (mentor_of[whom] >= 0)  # who rates whom as its mentor
    as_mentor = (mentor_of[who] >= 0) & (mentee_of[whom] >= 0)  # who rates whom as its mentee
    keys = np.concatenate([mentee_of[who[as_mentee]] * m + mentor_of[whom[as_mentee]],
                           mentee_of[whom[as_mentor]] * m + mentor_of[who[as_mentor]]])
    key, pos = np.unique(keys, return_inverse=True)
    by_mentee, by_mentor = np.zeros(len(key), np.int64), np.zeros(len(key), np.int64)
    n = int(as_mentee.sum())
    by_mentee[pos[:n]] = level[as_mentee]
    by_mentor[pos[n:]] = level[as_mentor]
    return key, by_mentee, by_mentor


def _donor_rules(instance: Instance, mentees: OperatorFeatures,
                 codes: _Codes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The parts of donor eligibility that depend on the mentee alone ((n, k) bool), and per donor
    the work areas it funds (bit mask) and its largest grant."""
    n, k = len(mentees.op), len(instance.donors)
    donor_mentee_ok = np.ones((n, k), dtype=bool)
    area_bits = np.full(k, (1 << len(instance.work_areas)) - 1, dtype=np.int64)
    max_grant = np.full(k, NO_LIMIT, dtype=np.int64)
    for x, d in enumerate(instance.donors):
        if d.regions is not None:
            allowed = np.array([codes.region[r] for r in d.regions], dtype=np.int32)
            donor_mentee_ok[:, x] &= np.isin(mentees.region, allowed)
        if d.countries is not None:
            allowed = np.array([codes.country[c] for c in d.countries], dtype=np.int32)
            donor_mentee_ok[:, x] &= np.isin(mentees.country, allowed)
        if d.work_areas is not None:
            area_bits[x] = sum(1 << instance.work_areas.index(a) for a in d.work_areas)
        if d.max_grant is not None:
            max_grant[x] = d.max_grant
    return donor_mentee_ok, area_bits, max_grant


def _with_candidates(graph: CandidateGraph, block_pairs: int) -> CandidateGraph:
    """The graph with every candidate of its free mentees, block by block."""
    k = graph.n_donors
    parts: dict[str, list[np.ndarray]] = {key: [] for key in
                                          ("mentee", "mentor", "score", "cost", "distance", "focus", "fundable")}
    free_rows = np.flatnonzero(graph.free_mentee)
    step = max(1, block_pairs // max(1, graph.n_mentors))
    for start in range(0, len(free_rows), step):
        block = graph.pair_block(free_rows[start:start + step])
        ok = graph.eligible(block)
        if k:
            fund = graph.fundable_in_block(block)
            ok &= fund.any(axis=2)
        row, col = np.nonzero(ok)
        parts["mentee"].append(block.rows[row].astype(np.int32))
        parts["mentor"].append(col.astype(np.int32))
        parts["score"].append(block.score[row, col])
        parts["cost"].append(block.cost[row, col])
        parts["distance"].append(block.distance[row, col])
        parts["focus"].append(block.focus[row, col])
        parts["fundable"].append(fund[row, col] if k else np.zeros((len(row), 0), bool))

    def cat(key: str, dtype: type, shape: tuple[int, ...] = (0,)) -> np.ndarray:
        return np.concatenate(parts[key]) if parts[key] else np.zeros(shape, dtype)

    return replace(graph, pair_mentee=cat("mentee", np.int32), pair_mentor=cat("mentor", np.int32),
                   score=cat("score", np.float64), cost=cat("cost", np.int64), distance=cat("distance", np.float64),
                   focus=cat("focus", np.int64), fundable=cat("fundable", bool, (0, k)))


def _pinned(g: CandidateGraph, rows: list[tuple[int, int, int]]) -> Pinned:
    if not rows:
        return g.pinned
    arr = np.array(rows, dtype=np.int64)
    score, cost, focus = [], [], []
    for i, j, _ in rows:
        block = g.pair_block(np.array([i]))
        score.append(block.score[0, j])
        cost.append(block.cost[0, j])
        focus.append(block.focus[0, j])
    return Pinned(arr[:, 0], arr[:, 1], arr[:, 2], np.array(score), np.array(cost, np.int64),
                  np.array(focus, np.int64))


def _after_pinned(g: CandidateGraph, p: Pinned) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Capacity, budget and count left once pinned partnerships are placed, and
    the overruns that make the instance infeasible (named)."""
    problems = []
    load = np.bincount(p.mentor, minlength=g.n_mentors).astype(np.int64)
    capacity = g.capacity - load
    for j in np.flatnonzero(capacity < 0):
        problems.append(
            f"mentor {g.mentor_id(int(j))}: {load[j]} pinned partnerships exceed its capacity {g.capacity[j]}"
        )
    funded = p.donor >= 0
    spent = np.bincount(p.donor[funded], weights=p.cost[funded], minlength=g.n_donors).astype(np.int64)
    count = np.bincount(p.donor[funded], minlength=g.n_donors).astype(np.int64)
    budget = g.budget - spent
    max_count = np.where(g.max_count == NO_LIMIT, NO_LIMIT, g.max_count - count)
    for x in np.flatnonzero(budget < 0):
        problems.append(f"donor {g.donor_ids[x]}: pinned partnerships cost {spent[x]}, over its budget {g.budget[x]}")
    for x in np.flatnonzero(max_count < 0):
        problems.append(
            f"donor {g.donor_ids[x]}: {count[x]} pinned partnerships exceed its max_partnerships {g.max_count[x]}"
        )
    return np.maximum(capacity, 0), np.maximum(budget, 0), np.maximum(max_count, 0), problems

