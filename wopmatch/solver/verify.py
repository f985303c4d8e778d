"""Independent re-check of a solution against its instance.

Shares no code with the encoder or the policies: eligibility, scores, costs,
focus and the unmatched reasons are recomputed here from the instance, straight
from docs/format.md §3-§5: plain Python (``math``) for each partnership, and a small
numpy screen of a batch of unmatched mentees against all mentors for the reasons. Returns every
violation found, each naming the ids involved; an empty list means valid.

Tolerances: scores and quality to 1e-6 (they are printed rounded); a reported
cost must be the correct rounding of the real cost (within 0.5 + 1e-6, so a
last-bit difference in a haversine does not flip a half); coverage to 1e-6.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

import numpy as np

from ..models.instance import Donor, Instance, Operator
from ..models.solution import STRUCTURAL_REASONS, Solution

SCORE_TOL = 1e-6
#: Unmatched mentees are screened in batches of about this many (mentee, mentor) pairs.
SCREEN_PAIRS = 1 << 20


def verify_solution(instance: Instance, solution: Solution, sha256: Optional[str] = None,
                    check_reasons: bool = True) -> list[str]:
    """Every violation of ``solution`` against ``instance`` (docs/format.md), each
    naming the ids involved; empty when it is valid. ``sha256``: also require the
    solution to name these instance bytes. ``check_reasons``: re-derive every
    unmatched mentee's reason (the costliest check at scale)."""
    v = _Verifier(instance)
    return v.run(solution, sha256, check_reasons)


@dataclass(frozen=True)
class PairFacts:
    """What docs/format.md §3 makes of one (mentee, mentor) pair."""

    focus: list[str]  # work areas the mentee needs and the mentor is strong in
    score: float
    distance: float  # km: great-circle, or the default for the regions
    raw_cost: float  # before rounding
    same_region: bool
    shared: set[str]  # languages both speak
    issues: list[str]  # the mentee's priority needs the mentor is strong in, strongest first
    months: int  # the partnership's duration under the round's rule
    trips: int  # the mentee's visits and the mentor's in every started year


def _months(c, issues: int) -> int:
    """A partnership's months under the round's duration rule (docs/format.md §3)."""
    if c.duration_rule == "fixed":
        return c.duration_months
    return min(c.max_months, c.months_first_issue + c.months_per_issue * max(0, issues - 1))


def pair_facts(instance: Instance) -> Callable[[str, str], PairFacts]:
    """(mentee id, mentor id) -> the facts of that pair as the verifier computes
    them (PairFacts). For reports that explain a match."""
    v = _Verifier(instance)
    return lambda mentee, mentor: v.pair(v.ops[mentee], v.ops[mentor])


@dataclass(frozen=True)
class PairVerdict:
    """Whether a (mentee, mentor) pair may be formed, as the verifier sees it."""

    facts: PairFacts
    failed: Optional[str]  # the first docs/format.md §5 filter it fails (donors aside), or None
    vetoed_by: list[str]  # the operators of the two that will not work with the other
    donors: list[str]  # the donors whose rules (regions, countries, work areas, max_grant) allow it


def pair_verdict(instance: Instance) -> Callable[[str, str], PairVerdict]:
    """(mentee id, mentor id) -> its PairVerdict (both must be operators of ``instance``
    with those profiles). For proposals: may this pair be formed, and who could fund it."""
    v = _Verifier(instance)

    def verdict(mentee: str, mentor: str) -> PairVerdict:
        me, mo = v.ops[mentee], v.ops[mentor]
        p = v.pair(me, mo)
        vetoed_by = [x.id for x, y in ((me, mo), (mo, me)) if level(x, y.id) == -1]
        donors = [d.id for d in instance.donors if v.can_fund(d, me, p, round(p.raw_cost))]
        return PairVerdict(p, v.failed_filter(me, mo, p), vetoed_by, donors)

    return verdict


class _Verifier:
    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.ops: dict[str, Operator] = {op.id: op for op in inst.operators}
        self.donors: dict[str, Donor] = {d.id: d for d in inst.donors}
        self.mentors = [op for op in inst.operators if op.mentor is not None]
        self.forbidden = {(f.mentee, f.mentor) for f in inst.forbidden}
        self.interests = any(op.interests for op in inst.operators)
        self._offered: dict[str, dict[str, int]] = {}  # mentor id -> offered(mentor), each built once

    def vetoed(self, mentee: Operator, mentor: Operator) -> bool:
        return level(mentee, mentor.id) == -1 or level(mentor, mentee.id) == -1

    # --- docs/format.md §3, from scratch -----------------------------------------
    def pair(self, mentee: Operator, mentor: Operator) -> PairFacts:
        inst, rules = self.inst, self.inst.rules
        needs = mentee.mentee.needs if mentee.mentee else {}
        strengths = self._offered.get(mentor.id)
        if strengths is None:
            strengths = self._offered[mentor.id] = offered(mentor)
        focus = [a for a in inst.work_areas
                 if needs.get(a, 0) >= 1 and strengths.get(a, 0) >= rules.min_strength]
        total_need = sum(needs.values())
        alignment = 0.0
        if total_need > 0:
            alignment = sum(needs.get(a, 0) * strengths.get(a, 0) for a in inst.work_areas) / (5 * total_need)
        same_region = mentee.region == mentor.region
        score = alignment * (1.0 if same_region else 1.0 - rules.cross_region_penalty)
        if self.interests:  # + interest_weight x (each side's level, a veto as 0) / 4 (docs/format.md §3)
            score += rules.interest_weight * ((max(0, level(mentee, mentor.id)) + max(0, level(mentor, mentee.id)))
                                              / 4)
        if mentee.location is not None and mentor.location is not None:
            distance = _haversine(mentee.location.lat, mentee.location.lon,
                                  mentor.location.lat, mentor.location.lon)
        else:
            dd = inst.costs.default_distance_km
            distance = dd.same_region if same_region else dd.cross_region
        c = inst.costs
        order = {a: k for k, a in enumerate(inst.work_areas)}
        issues = sorted((a for a in inst.work_areas
                         if needs.get(a, 0) >= c.priority_need and strengths.get(a, 0) >= rules.min_strength),
                        key=lambda a: (-strengths.get(a, 0), -needs.get(a, 0), order[a]))
        months = _months(c, len(issues))
        trips = c.mentor_visits_per_year * math.ceil(months / 12) + c.mentee_visits
        raw_cost = c.base + trips * (c.trip_fixed + c.per_km * distance)
        shared = set(mentee.languages) & set(mentor.languages)
        return PairFacts(focus, score, distance, raw_cost, same_region, shared, issues, months, trips)

    def failed_filter(self, mentee: Operator, mentor: Operator, p: PairFacts) -> Optional[str]:
        """The first docs/format.md §5 filter this pair fails (donors aside), or None."""
        rules = self.inst.rules
        if mentee.id == mentor.id or not p.focus:
            return "no_mentor_strength"
        if rules.language == "hard" and not p.shared:
            return "no_shared_language"
        if rules.region == "same" and not p.same_region:
            return "region_rule"
        if rules.max_distance_km is not None and p.distance > rules.max_distance_km + 1e-9:
            return "distance_rule"
        if (mentee.id, mentor.id) in self.forbidden or (self.interests and self.vetoed(mentee, mentor)):
            return "forbidden"
        if p.score < rules.min_score - 1e-12:
            return "below_min_score"
        return None

    def can_fund(self, donor: Donor, mentee: Operator, p: PairFacts, cost: int) -> bool:
        if donor.regions is not None and mentee.region not in donor.regions:
            return False
        if donor.countries is not None and mentee.country not in donor.countries:
            return False
        if donor.work_areas is not None and not set(p.focus) & set(donor.work_areas):
            return False
        if donor.max_grant is not None and cost > donor.max_grant:
            return False
        return True

    # --- the checks ---------------------------------------------------------------
    def run(self, s: Solution, sha256: Optional[str], check_reasons: bool) -> list[str]:
        out, done = self.check_status(s, sha256)
        if done:
            return out
        tally = self.check_partnerships(s, out)
        self.check_capacities(tally, out)
        self.check_donor_section(s, tally, out)
        if s.objective is not None:
            self.check_objective(s, tally, out)
        out.extend(self.check_unmatched(s, tally.seen, tally.load, tally.spent, tally.funded, check_reasons))
        if s.alternates is not None:
            out.extend(self.check_alternates(s, tally.load, tally.spent, tally.funded))
        return out

    def check_status(self, s: Solution, sha256: Optional[str]) -> tuple[list[str], bool]:
        """The instance named, and what the status requires; ``True`` when nothing more is to be checked."""
        out: list[str] = []
        if sha256 is not None and s.instance.sha256 != sha256:
            out.append(f"instance sha256 {s.instance.sha256[:12]}... does not match the instance file "
                       f"({sha256[:12]}...)")
        overruns = self.pinned_overruns()
        if s.status == "infeasible":
            if not overruns:
                out.append("status is infeasible, but the pinned partnerships fit every capacity and budget")
            if s.partnerships or s.objective is not None:
                out.append("an infeasible solution must have no partnerships and no objective")
            return out, True
        if overruns:
            out.append("pinned partnerships overrun (" + "; ".join(overruns) + ") but status is " + s.status)
        if s.status == "time_limit_no_solution":
            if s.partnerships or s.objective is not None:
                out.append("time_limit_no_solution must have no partnerships and no objective")
            return out, True
        if s.objective is None:
            out.append(f"status {s.status} requires an objective")
        return out, False

    def check_partnerships(self, s: Solution, out: list[str]) -> "_Tally":
        """Each partnership against the instance (appending to ``out``), and what they add up to."""
        tally = _Tally()
        pinned_given = {(p.mentee, p.mentor, p.donor) for p in self.inst.pinned}
        pinned_seen = set()
        for t, part in enumerate(s.partnerships):
            where = f"partnerships[{t}] ({part.mentee} <- {part.mentor})"
            mentee, mentor = self.ops.get(part.mentee), self.ops.get(part.mentor)
            if mentee is None or mentee.mentee is None:
                out.append(f"{where}: {part.mentee} is not an operator with a mentee profile")
                continue
            if mentor is None or mentor.mentor is None:
                out.append(f"{where}: {part.mentor} is not an operator with a mentor profile")
                continue
            if part.mentee in tally.seen:
                out.append(f"{where}: mentee {part.mentee} is in more than one partnership")
            tally.seen.add(part.mentee)
            if mentee.id == mentor.id:
                out.append(f"{where}: an operator cannot be paired with itself")
            p = self.pair(mentee, mentor)
            if part.pinned:
                key = (part.mentee, part.mentor, part.donor)
                if key not in pinned_given:
                    out.append(f"{where}: marked pinned but the instance pins no such partnership (donor {part.donor})")
                pinned_seen.add(key)
            else:
                out.extend(self.check_eligible(where, part, mentee, mentor, p))
            out.extend(self.check_figures(where, part, p))
            tally.add(part, mentee.mentee.weight, p.score)
            if part.donor is not None and part.donor not in self.donors:
                out.append(f"{where}: unknown donor {part.donor}")
        for key in sorted(pinned_given - pinned_seen, key=str):
            out.append(f"pinned partnership {key[0]} <- {key[1]} (donor {key[2]}) is missing or not marked pinned")
        return tally

    def check_eligible(self, where: str, part, mentee: Operator, mentor: Operator, p: PairFacts) -> list[str]:
        """A partnership the solver formed: an eligible pair, funded as the instance allows."""
        out = []
        failed = self.failed_filter(mentee, mentor, p)
        if failed:
            out.append(f"{where}: pair is not eligible ({failed})")
        if self.inst.donors:
            donor = self.donors.get(part.donor) if part.donor is not None else None
            if donor is None:
                out.append(f"{where}: must be funded by a donor of the instance, got {part.donor}")
            elif not self.can_fund(donor, mentee, p, round(p.raw_cost)):
                out.append(f"{where}: donor {donor.id} cannot fund this pair")
        elif part.donor is not None:
            out.append(f"{where}: the instance has no donors but donor is {part.donor}")
        return out

    def check_figures(self, where: str, part, p: PairFacts) -> list[str]:
        """The score, cost and focus reported for a partnership."""
        out = []
        if abs(part.score - p.score) > SCORE_TOL:
            out.append(f"{where}: score {part.score} but recomputed {p.score:.9f}")
        if abs(part.cost - p.raw_cost) > 0.5 + 1e-6:
            out.append(f"{where}: cost {part.cost} but recomputed {p.raw_cost:.2f}")
        if part.focus != p.focus:
            out.append(f"{where}: focus {part.focus} but recomputed {p.focus}")
        if getattr(part, "duration_months", None) is not None and part.duration_months != p.months:
            out.append(f"{where}: duration_months {part.duration_months} but recomputed {p.months}")
        if getattr(part, "issues", None) is not None and part.issues != p.issues:
            out.append(f"{where}: issues {part.issues} but recomputed {p.issues}")
        return out

    def check_capacities(self, tally: "_Tally", out: list[str]) -> None:
        for mid, n in sorted(tally.load.items()):
            cap = self.ops[mid].mentor.capacity  # type: ignore[union-attr]
            if n > cap:
                out.append(f"mentor {mid}: {n} partnerships exceed capacity {cap}")
        for d in self.inst.donors:
            if tally.spent[d.id] > d.budget:
                out.append(f"donor {d.id}: committed {tally.spent[d.id]} exceeds budget {d.budget}")
            if d.max_partnerships is not None and tally.funded[d.id] > d.max_partnerships:
                out.append(f"donor {d.id}: {tally.funded[d.id]} partnerships exceed max_partnerships "
                           f"{d.max_partnerships}")

    def check_donor_section(self, s: Solution, tally: "_Tally", out: list[str]) -> None:
        reported = {u.id: u for u in s.donors}
        if len(reported) != len(s.donors) or set(reported) != set(self.donors):
            out.append(f"donors section lists {sorted(reported)} but the instance has {sorted(self.donors)}")
        for d in self.inst.donors:
            u = reported.get(d.id)
            spent, funded = tally.spent[d.id], tally.funded[d.id]
            if u is not None and (u.budget, u.committed, u.partnerships) != (d.budget, spent, funded):
                out.append(f"donor {d.id}: reported budget/committed/partnerships {u.budget}/{u.committed}/"
                           f"{u.partnerships}, recomputed {d.budget}/{spent}/{funded}")

    def check_objective(self, s: Solution, tally: "_Tally", out: list[str]) -> None:
        """The objective against the partnerships, and the bounds against the objective."""
        o = s.objective
        assert o is not None
        if abs(o.coverage - tally.coverage) > 1e-6:
            out.append(f"objective.coverage {o.coverage} but recomputed {tally.coverage:.9f}")
        if abs(o.quality - tally.quality) > SCORE_TOL * max(1, len(s.partnerships)):
            out.append(f"objective.quality {o.quality} but recomputed {tally.quality:.9f}")
        if o.cost != tally.cost:
            out.append(f"objective.cost {o.cost} but partnerships sum to {tally.cost}")
        for name in ("coverage", "quality"):
            b = getattr(s.bound, name)
            val = getattr(o, name)
            if b is not None and b < val - 1e-6:
                out.append(f"bound.{name} {b} is below the objective {val}")
            if s.status == "optimal" and b is not None and abs(b - val) > 1e-6:
                out.append(f"status optimal but bound.{name} {b} differs from the objective {val}")

    def check_alternates(self, s: Solution, load: Counter[str], spent: Counter[str],
                         funded: Counter[str]) -> list[str]:
        """Each listed alternate is an eligible pair other than the partner, best
        first, and its status is what the matching makes it (see alternates.py)."""
        out: list[str] = []
        partner = {p.mentee: p for p in s.partnerships}
        listed: set[str] = set()
        for entry in s.alternates or []:
            where = f"alternates of {entry.mentee}"
            mentee = self.ops.get(entry.mentee)
            if mentee is None or mentee.mentee is None:
                out.append(f"{where}: not an operator with a mentee profile")
                continue
            if entry.mentee in listed:
                out.append(f"{where}: listed twice")
            listed.add(entry.mentee)
            mine = partner.get(entry.mentee)
            previous = math.inf
            for alt in entry.alternates:
                here = f"{where}: {alt.mentor}"
                mentor = self.ops.get(alt.mentor)
                if mentor is None or mentor.mentor is None:
                    out.append(f"{here}: not an operator with a mentor profile")
                    continue
                if mine is not None and alt.mentor == mine.mentor:
                    out.append(f"{here}: is the mentee's own partner")
                p = self.pair(mentee, mentor)
                failed = self.failed_filter(mentee, mentor, p)
                if failed:
                    out.append(f"{here}: pair is not eligible ({failed})")
                if abs(alt.score - p.score) > SCORE_TOL or abs(alt.cost - p.raw_cost) > 0.5 + 1e-6:
                    out.append(f"{here}: score/cost {alt.score}/{alt.cost}, recomputed "
                               f"{p.score:.9f}/{p.raw_cost:.2f}")
                if alt.score > previous + SCORE_TOL:
                    out.append(f"{here}: listed after a lower score ({previous})")
                previous = alt.score
                full = load[alt.mentor] >= mentor.mentor.capacity
                fundable = not self.inst.donors or any(
                    self.can_fund(d, mentee, p, alt.cost) and d.budget - spent[d.id] >= alt.cost
                    and (d.max_partnerships is None or funded[d.id] < d.max_partnerships)
                    for d in self.inst.donors)
                if full:
                    allowed = {"full"}
                elif not fundable:
                    allowed = {"budget"}
                elif mine is None:
                    allowed = {"available"}
                elif abs(alt.score - mine.score) <= SCORE_TOL:
                    allowed = {"available", "lower_score"}
                else:
                    allowed = {"lower_score"} if alt.score < mine.score else {"available"}
                if alt.status not in allowed:
                    out.append(f"{here}: status {alt.status}, but the matching makes it {' or '.join(sorted(allowed))}")
        return out

    def pinned_overruns(self) -> list[str]:
        load: Counter[str] = Counter(p.mentor for p in self.inst.pinned)
        spent: Counter[str] = Counter()
        count: Counter[str] = Counter()
        for pin in self.inst.pinned:
            if pin.donor is not None:
                p = self.pair(self.ops[pin.mentee], self.ops[pin.mentor])
                spent[pin.donor] += round(p.raw_cost)
                count[pin.donor] += 1
        out = []
        for mid, n in sorted(load.items()):
            cap = self.ops[mid].mentor.capacity  # type: ignore[union-attr]
            if n > cap:
                out.append(f"mentor {mid}: {n} pinned > capacity {cap}")
        for d in self.inst.donors:
            if spent[d.id] > d.budget:
                out.append(f"donor {d.id}: pinned cost {spent[d.id]} > budget {d.budget}")
            if d.max_partnerships is not None and count[d.id] > d.max_partnerships:
                out.append(f"donor {d.id}: {count[d.id]} pinned > max_partnerships {d.max_partnerships}")
        return out

    def check_unmatched(self, s: Solution, matched: set[str], load, spent, funded, check_reasons) -> list[str]:
        out = []
        expected = {op.id for op in self.inst.operators if op.mentee is not None} - matched
        listed = [u.mentee for u in s.unmatched]
        dup = [m for m, n in Counter(listed).items() if n > 1]
        if dup:
            out.append(f"unmatched lists {', '.join(sorted(dup))} more than once")
        missing, extra = expected - set(listed), set(listed) - expected
        if missing:
            out.append(f"unmatched omits {len(missing)} mentee(s): {', '.join(sorted(missing)[:10])}")
        if extra:
            out.append(f"unmatched lists mentee(s) that are matched or unknown: {', '.join(sorted(extra)[:10])}")
        if not check_reasons:
            return out
        screen = _MentorScreen(self.inst) if s.unmatched else None
        if screen is not None:  # per mentor and per donor, once: the loop below only indexes them
            load_of = np.array([load[ident] for ident in screen.mentor_ids], dtype=np.int64)
            left = np.array([d.budget - spent[d.id] for d in self.inst.donors], dtype=np.int64)
            open_ = np.array([d.max_partnerships is None or funded[d.id] < d.max_partnerships
                              for d in self.inst.donors], dtype=bool)
        todo = [(u, self.ops[u.mentee]) for u in s.unmatched
                if screen is not None and u.mentee in self.ops and self.ops[u.mentee].mentee is not None]
        step = max(1, SCREEN_PAIRS // max(1, len(screen.mentor_ids))) if screen is not None else 1
        k = len(self.inst.donors)
        fundable, with_room, affordable = np.zeros(k, bool), np.zeros(k, bool), np.zeros(k, bool)
        for start in range(0, len(todo), step):
            batch = todo[start:start + step]
            survive, first_empty, costs, funds = screen.screen([mentee for _, mentee in batch])  # type: ignore
            for r, (u, _) in enumerate(batch):
                out.extend(self.check_reason(u, screen, survive[r], int(first_empty[r]),
                                             None if costs is None else costs[r], funds[r], load_of, left, open_))
            if k:  # what each donor could still fund, for its idle reason
                can = survive[:, :, None] & funds
                room = can & (load_of < screen.capacity)[None, :, None]  # type: ignore[union-attr]
                fundable |= can.any(axis=(0, 1))
                with_room |= room.any(axis=(0, 1))
                affordable |= (room & (costs[:, :, None] <= left[None, None, :])).any(axis=(0, 1))
        out.extend(self.check_idle(s, spent, funded, bool(todo), fundable, with_room, affordable))
        return out

    def check_idle(self, s: Solution, spent, funded, unmatched: bool, fundable, with_room, affordable) -> list[str]:
        """Each donor's idle reason (docs/format.md §5, idle money), where one is given, against
        what it could still fund."""
        out = []
        reported = {u.id: u for u in s.donors}
        for x, d in enumerate(self.inst.donors):
            u = reported.get(d.id)
            if u is None:
                continue
            left = d.budget - spent[d.id]
            capped = d.max_partnerships is not None and funded[d.id] >= d.max_partnerships
            if u.idle_reason is None:  # none given (money spent, or a file written before idle reasons)
                continue
            if left <= 0:
                out.append(f"donor {d.id}: nothing left, but idle reason {u.idle_reason}")
                continue
            wrong = {
                "all_mentees_matched": unmatched,
                "partnership_cap": not capped,
                "no_mentee_in_scope": bool(fundable[x]), "work_areas": bool(fundable[x]),
                "max_grant": bool(fundable[x]),
                "mentors_full": bool(with_room[x]),
                "too_little_left": bool(affordable[x]) and not capped,
                "not_selected": not affordable[x] or capped,
            }.get(u.idle_reason or "", False)
            if wrong:
                out.append(f"donor {d.id}: idle reason {u.idle_reason} does not hold (it could still fund "
                           f"{'a partnership' if affordable[x] else 'none'} within its {left:,} left)")
        return out

    def check_reason(self, u, screen, survive, first_empty, cost, fund, load_of, left, open_) -> list[str]:
        """The one unmatched entry ``u`` against its screened row (eligible mentors, the first
        filter that leaves none, costs and donors per mentor)."""
        survivors = np.flatnonzero(survive)
        if len(survivors) == 0:
            expected_reason = STRUCTURAL_REASONS[first_empty]
            if u.reason != expected_reason:
                return [f"unmatched {u.mentee}: reason {u.reason} but the filters give {expected_reason}"]
            return []
        if u.reason in STRUCTURAL_REASONS:
            return [f"unmatched {u.mentee}: reason {u.reason} but it has eligible fundable mentors"]
        room = survivors[load_of[survivors] < screen.capacity[survivors]]
        if u.reason == "capacity" and len(room):
            return [f"unmatched {u.mentee}: reason capacity but mentor {screen.mentor_ids[room[0]]} has room"]
        if u.reason == "budget":
            if not self.inst.donors:
                return [f"unmatched {u.mentee}: reason budget but the instance has no donors"]
            could = fund[room] & (left[None, :] >= cost[room][:, None]) & open_[None, :]
            if could.any():
                r, d = np.argwhere(could)[0]
                return [f"unmatched {u.mentee}: reason budget but donor {self.inst.donors[d].id} could fund "
                        f"mentor {screen.mentor_ids[room[r]]}"]
        return []


@dataclass
class _Tally:
    """What a solution's partnerships add up to, as the checks recompute it."""

    load: Counter[str] = field(default_factory=Counter)  # per mentor
    spent: Counter[str] = field(default_factory=Counter)  # per donor
    funded: Counter[str] = field(default_factory=Counter)  # partnerships per donor
    seen: set[str] = field(default_factory=set)  # mentees
    coverage: float = 0.0
    quality: float = 0.0
    cost: int = 0

    def add(self, part, weight: float, score: float) -> None:
        self.load[part.mentor] += 1
        if part.donor is not None:
            self.spent[part.donor] += part.cost
            self.funded[part.donor] += 1
        self.coverage += weight
        self.quality += weight * score
        self.cost += part.cost


class _MentorScreen:
    """The docs/format.md §5 filters for one mentee against every mentor at once.

    Written for the verifier alone (numpy over the instance's mentors, one mentee
    at a time); the solver's encoder is not used."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        mentors = [op for op in inst.operators if op.mentor is not None]
        self.mentor_ids = [op.id for op in mentors]
        areas = list(inst.work_areas)
        self.strength = np.array([[s.get(a, 0) for a in areas] for s in map(offered, mentors)],
                                 dtype=np.int64).reshape(len(mentors), len(areas))
        self.strong = (self.strength >= inst.rules.min_strength).astype(np.float64)
        self.strong_t = np.ascontiguousarray(self.strong.T)  # (areas, mentors), for the batch products
        self.strength_t = np.ascontiguousarray(self.strength.T, dtype=np.float64)
        self.capacity = np.array([op.mentor.capacity for op in mentors], dtype=np.int64)  # type: ignore
        vocab = sorted({code for op in inst.operators for code in op.languages})
        self.language_at = {code: i for i, code in enumerate(vocab)}
        self.speaks = np.zeros((len(mentors), len(vocab)), dtype=bool)
        for j, op in enumerate(mentors):
            self.speaks[j, [self.language_at[code] for code in op.languages]] = True
        self.speaks_t = np.ascontiguousarray(self.speaks.T, dtype=np.float64)
        self.mentor_at = {ident: j for j, ident in enumerate(self.mentor_ids)}
        self.region_at = {r: i for i, r in enumerate(sorted({op.region for op in inst.operators}))}
        self.region = np.array([self.region_at[op.region] for op in mentors], dtype=np.int64)
        self.has_loc = np.array([op.location is not None for op in mentors], dtype=bool)
        self.lat = np.radians([op.location.lat if op.location else 0.0 for op in mentors])
        self.lon = np.radians([op.location.lon if op.location else 0.0 for op in mentors])
        self.forbidden: dict[str, set[str]] = {}
        for f in inst.forbidden:
            self.forbidden.setdefault(f.mentee, set()).add(f.mentor)
        # what mentors stated about each mentee: mentee id -> [(mentor id, level)]
        self.about: dict[str, list[tuple[str, int]]] = {}
        for op in mentors:
            for it in op.interests:
                self.about.setdefault(it["operator"], []).append((op.id, it["level"]))
        self.donor_areas = np.array([[d.work_areas is None or a in d.work_areas for a in areas]
                                     for d in inst.donors], dtype=np.float64).reshape(len(inst.donors), len(areas))

    def screen(self, mentees: list[Operator]) -> tuple[np.ndarray, np.ndarray, Optional[np.ndarray], np.ndarray]:
        """For each of ``mentees`` (rows) against every mentor (columns): whether the
        pair passes every filter; the index of the first filter that leaves the
        mentee no mentor (len(STRUCTURAL_REASONS) if some pass them all); the rounded
        costs (None when neither donors nor a distance rule need them); and which
        donor can fund each pair (rows x mentors x donors)."""
        inst, rules = self.inst, self.inst.rules
        areas, rows, m = inst.work_areas, len(mentees), len(self.mentor_ids)
        need = np.array([[mt.mentee.needs.get(a, 0) for a in areas] for mt in mentees],  # type: ignore[union-attr]
                        dtype=np.float64).reshape(rows, len(areas))
        needy = (need >= 1).astype(np.float64)
        # small integers: these float products are exact
        strong = needy @ self.strong_t > 0  # some needed area where the mentor reaches min_strength
        region = np.array([self.region_at[mt.region] for mt in mentees], dtype=np.int64)
        same_region = region[:, None] == self.region[None, :]
        total = need.sum(axis=1)
        alignment = (need @ self.strength_t) / np.maximum(5 * total, 1)[:, None]
        alignment[total == 0] = 0.0
        score = alignment * np.where(same_region, 1.0, 1.0 - rules.cross_region_penalty)
        cost = None
        if inst.donors or rules.max_distance_km is not None:
            dd = inst.costs.default_distance_km
            distance = np.where(same_region, dd.same_region, dd.cross_region).astype(float)
            has = np.array([mt.location is not None for mt in mentees], dtype=bool)
            p1 = np.radians([mt.location.lat if mt.location else 0.0 for mt in mentees])[:, None]
            l1 = np.radians([mt.location.lon if mt.location else 0.0 for mt in mentees])[:, None]
            dphi, dlmb = self.lat[None, :] - p1, self.lon[None, :] - l1
            a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(self.lat)[None, :] * np.sin(dlmb / 2) ** 2
            haversine = 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))
            distance = np.where(has[:, None] & self.has_loc[None, :], haversine, distance)
            c = inst.costs
            if c.duration_rule == "fixed":
                months = np.full((rows, m), c.duration_months, dtype=np.int64)
            else:  # issues: the mentee's priority needs the mentor is strong in (small counts: exact products)
                priority = (need >= c.priority_need).astype(np.float64)
                count = np.rint(priority @ self.strong_t).astype(np.int64)
                months = np.minimum(c.max_months, c.months_first_issue + c.months_per_issue * np.maximum(count - 1, 0))
            trips = c.mentor_visits_per_year * -(-months // 12) + c.mentee_visits
            cost = np.rint(c.base + trips * (c.trip_fixed + c.per_km * distance)).astype(np.int64)
        not_self = np.ones((rows, m), bool)
        allowed = np.ones((rows, m), bool)
        speaks = np.zeros((rows, self.speaks.shape[1]))
        cells: list[tuple[int, int, int, int]] = []  # (row, mentor column, the mentee's level, the mentor's)
        for r, mt in enumerate(mentees):
            if mt.id in self.mentor_at:
                not_self[r, self.mentor_at[mt.id]] = False
            allowed[r, [self.mentor_at[x] for x in self.forbidden.get(mt.id, ())]] = False
            stated: dict[int, list[int]] = {}  # mentor column -> [the mentee's level, the mentor's level]
            for it in mt.interests:
                if it["operator"] in self.mentor_at:
                    stated.setdefault(self.mentor_at[it["operator"]], [0, 0])[0] = it["level"]
            for x, lv in self.about.get(mt.id, ()):
                stated.setdefault(self.mentor_at[x], [0, 0])[1] = lv
            for j, (mine, theirs) in stated.items():
                cells.append((r, j, mine, theirs))
            speaks[r, [self.language_at[code] for code in mt.languages]] = 1.0
        if cells:  # the stated pairs of the batch at once: vetoes, and the interest term (docs/format.md §3)
            at_r, at_j, mine_, theirs_ = (np.array(c, dtype=np.int64) for c in zip(*cells))
            allowed[at_r, at_j] &= (mine_ != -1) & (theirs_ != -1)
            score[at_r, at_j] += rules.interest_weight * ((np.maximum(mine_, 0) + np.maximum(theirs_, 0)) / 4)
        yes = np.ones((rows, m), bool)
        checks = {
            "no_mentor_strength": strong & not_self,
            "no_shared_language": speaks @ self.speaks_t > 0 if rules.language == "hard" else yes,
            "region_rule": same_region if rules.region == "same" else yes,
            "distance_rule": distance <= rules.max_distance_km + 1e-9 if rules.max_distance_km is not None else yes,
            "forbidden": allowed,
            "below_min_score": score >= rules.min_score - 1e-12,
        }
        fund = np.zeros((rows, m, len(inst.donors)), dtype=bool)
        for x, d in enumerate(inst.donors):
            open_to = np.array([(d.regions is None or mt.region in d.regions) and
                                (d.countries is None or mt.country in d.countries) for mt in mentees], dtype=bool)
            fund[:, :, x] = open_to[:, None] & ((needy * self.donor_areas[x][None, :]) @ self.strong_t > 0)
            if d.max_grant is not None:
                fund[:, :, x] &= cost <= d.max_grant
        checks["no_eligible_donor"] = fund.any(axis=2) if inst.donors else yes
        survive = np.ones((rows, m), bool)
        for reason in STRUCTURAL_REASONS:
            survive &= checks[reason]
        # for a mentee no mentor passes, the filters in turn: the first that leaves none is its reason
        first_empty = np.full(rows, len(STRUCTURAL_REASONS), dtype=np.int64)
        for r in np.flatnonzero(~survive.any(axis=1)).tolist():
            left = np.ones(m, bool)
            for k, reason in enumerate(STRUCTURAL_REASONS):
                left &= checks[reason][r]
                if not left.any():
                    first_empty[r] = k
                    break
        return survive, first_empty, cost, fund


def offered(mentor: Operator) -> dict[str, int]:
    """A mentor's strengths in the work areas it offers (all of them when it lists no offers)."""
    profile = mentor.mentor
    if profile is None:
        return {}
    return {a: v for a, v in profile.strengths.items() if profile.offers is None or a in profile.offers}


def level(who: Operator, whom: str) -> int:
    """The interest level ``who`` stated about the operator ``whom`` (docs/format.md §2), 0 if none:
    a scan of its few interests, so nothing is built for a round's thousands of them."""
    for it in who.interests:
        if it["operator"] == whom:
            return it["level"]
    return 0


def _haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dphi = p2 - p1
    dlmb = math.radians(lon2) - math.radians(lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlmb / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(min(1.0, max(0.0, a))))


def independent_pair_table(instance: Instance) -> dict[tuple[str, str], dict[str, Any]]:
    """Every (mentee, mentor) pair with its recomputed quantities (for tests on tiny instances)."""
    v = _Verifier(instance)
    table = {}
    for mentee in instance.operators:
        if mentee.mentee is None:
            continue
        for mentor in v.mentors:
            p = v.pair(mentee, mentor)
            cost = round(p.raw_cost)
            table[(mentee.id, mentor.id)] = {**asdict(p), "failed": v.failed_filter(mentee, mentor, p), "cost": cost,
                                             "fundable": [d.id for d in instance.donors
                                                          if v.can_fund(d, mentee, p, cost)]}
    return table

