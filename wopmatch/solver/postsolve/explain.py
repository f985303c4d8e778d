"""Why each unmatched mentee got no partnership (docs/format.md §5).

Structural reasons apply the eligibility filters cumulatively, in the order
strength, language, region, distance, forbidden, min_score, donor, to all of a
mentee's possible mentors: the reason is the first filter that leaves none.
A mentee that still has fundable eligible pairs is unmatched because of the
solution: ``capacity`` when every such mentor is full, ``budget`` when every
such mentor with room can only be funded by donors whose budget or count is
spent (the detail gives each one's shortfall), and ``not_selected`` otherwise
(a heuristic left it out). explain_idle_donors says why a donor with budget
left funds no more.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ...models.solution import Unmatched
from ..graph.compiled import KERNEL_MIN_PAIRS, kernels_apply
from ..graph.encoding import BLOCK_PAIRS, CandidateGraph

_MAX_NAMES = 5


def _names(ids: list[str], total: int | None = None) -> str:
    """The first few of ``total`` (default: all of) ``ids``."""
    more = (len(ids) if total is None else total) - _MAX_NAMES
    return ", ".join(ids[:_MAX_NAMES]) + (f" and {more} more" if more > 0 else "")


def _mentor_names(g: CandidateGraph, mentors: np.ndarray, total: Optional[int] = None) -> str:
    """_names of mentor indices (the first of ``total``, default all of them), looking up
    only the ids it prints (a mentee of 100,000 x 20,000 has thousands of eligible mentors)."""
    shown = [g.mentor_id(int(j)) for j in mentors[:_MAX_NAMES]]
    return _names(shown, len(mentors) if total is None else total)


def explain_unmatched(
    g: CandidateGraph,
    matched: np.ndarray,  # (n,) bool, pinned included
    mentor_load: np.ndarray,  # (m,) partnerships chosen by the policy (pinned excluded)
    donor_spent: np.ndarray,  # (k,) committed by the policy (pinned excluded)
    donor_count: np.ndarray,  # (k,)
    compiled: Optional[bool] = None,  # by the compiled kernel (kernels.py; None: where it applies, if large)
) -> list[Unmatched]:
    rows = np.flatnonzero(~matched)
    if compiled is None:  # numba is imported only for instances that large
        compiled = kernels_apply(g) and len(rows) * g.n_mentors >= KERNEL_MIN_PAIRS
    if compiled:
        return _explain_compiled(g, rows, mentor_load)
    out: list[Unmatched] = []
    rules = g.instance.rules
    step = max(1, BLOCK_PAIRS // max(1, g.n_mentors))
    for start in range(0, len(rows), step):
        block = g.pair_block(rows[start:start + step], costs=g.has_donors)  # costs only for funding
        filters: list[tuple[str, np.ndarray]] = [("no_mentor_strength", block.not_self & (block.focus != 0))]
        if rules.language == "hard":
            filters.append(("no_shared_language", block.shared_language))
        if rules.region == "same":
            filters.append(("region_rule", block.same_region))
        if rules.max_distance_km is not None:
            filters.append(("distance_rule", block.distance <= rules.max_distance_km))
        filters.append(("forbidden", ~block.forbidden))
        filters.append(("below_min_score", block.score >= rules.min_score))
        fund = g.fundable_in_block(block) if g.has_donors else None
        if fund is not None:
            filters.append(("no_eligible_donor", fund.any(axis=2)))
        alive = np.ones_like(block.not_self)
        stage_alive = []
        for _, mask in filters:
            alive = alive & mask
            stage_alive.append(alive)
        for r, i in enumerate(block.rows):
            out.append(_explain_one(g, int(i), r, block, filters, stage_alive, fund,
                                    mentor_load, donor_spent, donor_count))
    out.sort(key=lambda u: u.mentee)
    return out


#: The compiled kernel's filters, in explain order (kernels._explain_rows), and whether each is in force.
_STAGES = ("no_mentor_strength", "no_shared_language", "region_rule", "forbidden", "below_min_score")


def _explain_compiled(g: CandidateGraph, rows: np.ndarray, mentor_load: np.ndarray) -> list[Unmatched]:
    """explain_unmatched without donors and distance rule, from the kernel's per-row summary."""
    from ..graph import kernels

    rules = g.instance.rules
    on = [True, rules.language == "hard", rules.region == "same", True, True]
    out: list[Unmatched] = []
    for start in range(0, len(rows), 4096):
        part = rows[start:start + 4096]
        left, first, best, room = kernels.explain_rows(g, part, mentor_load)
        for r, i in enumerate(part.tolist()):
            out.append(_from_summary(g, i, on, left[r], first[r], float(best[r]), int(room[r])))
    out.sort(key=lambda u: u.mentee)
    return out


def _from_summary(g: CandidateGraph, i: int, on: list[bool], left, first, best: float, room: int) -> Unmatched:
    mentee = g.mentee_id(i)
    op = g.instance.operators[int(g.mentees.op[i])]
    rules = g.instance.rules
    before = -1  # the last filter in force before this one
    for k, reason in enumerate(_STAGES):
        if not on[k]:
            continue
        if left[k] == 0:
            n = int(left[before]) if before >= 0 else 0
            if reason == "no_mentor_strength":
                detail = _structural_detail(g, reason, op, 0, None, None, rules)
            elif reason == "forbidden":
                detail = _forbidden_detail(g, i, first[before][:n], n)
            elif reason == "below_min_score":
                detail = f"best remaining score {best:.4f} is below min_score {rules.min_score:g}"
            else:
                detail = _count_detail(reason, op, n)
            return Unmatched(mentee=mentee, reason=reason, detail=detail)
        before = k
    if room == 0:
        return Unmatched(mentee=mentee, reason="capacity", detail=f"its {int(left[4])} eligible mentor(s) are full: "
                         f"{_mentor_names(g, first[4][:left[4]], int(left[4]))}")
    return Unmatched(mentee=mentee, reason="not_selected",
                     detail=f"{room} eligible mentor(s) had room, but the policy left it out")


def _explain_one(g, i, r, block, filters, stage_alive, fund, mentor_load, donor_spent, donor_count) -> Unmatched:
    mentee = g.mentee_id(i)
    op = g.instance.operators[int(g.mentees.op[i])]
    rules = g.instance.rules
    before = block.not_self[r]
    for k, (reason, _) in enumerate(filters):
        now = stage_alive[k][r]
        if not now.any():
            return Unmatched(mentee=mentee, reason=reason, detail=_structural_detail(
                g, reason, op, r, block, before, rules))
        before = now
    eligible = np.flatnonzero(before)
    full = mentor_load[eligible] >= g.capacity[eligible]
    if full.all():
        return Unmatched(mentee=mentee, reason="capacity",
                         detail=f"its {len(eligible)} eligible mentor(s) are full: {_mentor_names(g, eligible)}")
    if fund is not None:
        with_room = eligible[~full]
        f = fund[r, with_room]  # (mentors with room, k)
        affordable = (g.budget - donor_spent >= block.cost[r, with_room][:, None]) & (
            g.max_count - donor_count > 0)
        if not (f & affordable).any():
            return Unmatched(mentee=mentee, reason="budget",
                             detail=f"mentors with room ({_mentor_names(g, with_room)}) can only be funded by "
                                    f"donors without enough left: "
                                    f"{_shortfalls(g, f, block.cost[r, with_room], donor_spent, donor_count)}")
    return Unmatched(mentee=mentee, reason="not_selected",
                     detail=f"{int((~full).sum())} eligible mentor(s) had room, but the policy left it out")


def _shortfalls(g: CandidateGraph, f: np.ndarray, cost: np.ndarray, donor_spent: np.ndarray,
                donor_count: np.ndarray) -> str:
    """Per donor that could fund one of the pairs (``f``: (pairs, k)): what it has left
    against the cheapest of those pairs, or that its partnership cap is reached."""
    cur = g.instance.currency
    parts = []
    for d in np.flatnonzero(f.any(axis=0)):
        if g.max_count[d] - donor_count[d] <= 0:
            parts.append(f"{g.donor_ids[d]} has funded its maximum of "
                         f"{int(g.instance.donors[d].max_partnerships or 0):,} partnerships")
        else:
            parts.append(f"{g.donor_ids[d]} has {int(g.budget[d] - donor_spent[d]):,} {cur} left; the cheapest of "
                         f"these partnerships costs {int(cost[f[:, d]].min()):,} {cur}")
    more = len(parts) - _MAX_NAMES
    return "; ".join(parts[:_MAX_NAMES]) + (f"; and {more} more" if more > 0 else "")


def explain_idle_donors(
    g: CandidateGraph,
    matched: np.ndarray,  # (n,) bool, pinned included
    mentor_load: np.ndarray,  # (m,) partnerships chosen by the policy (pinned excluded)
    donor_spent: np.ndarray,  # (k,) committed by the policy (pinned excluded)
    donor_count: np.ndarray,  # (k,)
) -> dict[int, tuple[str, str]]:
    """Why each donor with budget left funds no more partnerships: (reason, detail)
    by donor index, the first of these that holds (docs/format.md §5, idle money):
    every mentee matched; its partnership cap reached; no unmatched mentee with an
    eligible mentor in its regions and countries; none of their eligible pairs in
    its work areas; every such pair above its max grant; every mentor of the pairs
    it could fund full; each of those with room costing more than it has left;
    else the policy left affordable partnerships out (a heuristic)."""
    k = g.n_donors
    left = g.budget - donor_spent
    idle = np.flatnonzero(left > 0)
    if not len(idle):
        return {}
    rows = np.flatnonzero(~matched & g.free_mentee)
    # every idle donor at its cap: nothing to scan (the reasons below say so first)
    scan = rows if (g.max_count[idle] - donor_count[idle] > 0).any() else rows[:0]
    scope, area, fund_any, room_any = (np.zeros(k, bool) for _ in range(4))
    cheapest_area = np.full(k, np.iinfo(np.int64).max)  # the cheapest pair in scope and area
    cheapest_room = np.full(k, np.iinfo(np.int64).max)  # ... that it may fund, with a mentor with room
    affordable = np.zeros(k, np.int64)  # such pairs within what it has left
    has_room = mentor_load < g.capacity
    step = max(1, BLOCK_PAIRS // max(1, g.n_mentors * max(k, 1)))
    big = np.iinfo(np.int64).max
    for start in range(0, len(scan), step):
        block = g.pair_block(scan[start:start + step], costs=True)
        ok = g.eligible(block)[:, :, None]  # (B, m, 1)
        in_scope = ok & g.donor_mentee_ok[block.rows][:, None, :]  # (B, m, k)
        in_area = in_scope & ((block.focus[:, :, None] & g.donor_area_bits[None, None, :]) != 0)
        cost = np.broadcast_to(block.cost[:, :, None], in_area.shape)
        fund = in_area & (cost <= g.donor_max_grant[None, None, :])
        room = fund & has_room[None, :, None]
        scope |= in_scope.any(axis=(0, 1))
        area |= in_area.any(axis=(0, 1))
        fund_any |= fund.any(axis=(0, 1))
        room_any |= room.any(axis=(0, 1))
        cheapest_area = np.minimum(cheapest_area, np.where(in_area, cost, big).min(axis=(0, 1)))
        cheapest_room = np.minimum(cheapest_room, np.where(room, cost, big).min(axis=(0, 1)))
        affordable += (room & (cost <= left[None, None, :])).sum(axis=(0, 1))
    cur = g.instance.currency
    out: dict[int, tuple[str, str]] = {}
    unmatched = len(rows) > 0
    for d in idle.tolist():
        donor = g.instance.donors[d]
        money = f"{int(left[d]):,} {cur} left"
        if not unmatched:
            out[d] = ("all_mentees_matched", f"{money}; every mentee is matched")
        elif g.max_count[d] - donor_count[d] <= 0:
            out[d] = ("partnership_cap", f"{money}, but it has funded its maximum of "
                                         f"{int(donor.max_partnerships or 0):,} partnerships")
        elif not scope[d]:
            where = [f"regions ({', '.join(donor.regions)})"] if donor.regions is not None else []
            where += [f"countries ({', '.join(donor.countries)})"] if donor.countries is not None else []
            inside = int(g.donor_mentee_ok[rows, d].sum())
            out[d] = ("no_mentee_in_scope", f"{money}; no unmatched mentee is in its {' and '.join(where)}"
                      if not inside else f"{money}; its {inside:,} unmatched mentee(s) in its "
                                         f"{' and '.join(where) or 'scope'} have no eligible mentor")
        elif not area[d]:
            out[d] = ("work_areas", f"{money}; no eligible pair of an unmatched mentee in its scope is in its "
                                    f"work areas ({', '.join(donor.work_areas or [])})")
        elif not fund_any[d]:
            out[d] = ("max_grant", f"{money}; its max grant {int(donor.max_grant or 0):,} {cur} is below the "
                                   f"cheapest partnership it could fund ({int(cheapest_area[d]):,} {cur})")
        elif not room_any[d]:
            out[d] = ("mentors_full", f"{money}; every mentor of the unmatched mentees it could fund is full")
        elif not affordable[d]:
            out[d] = ("too_little_left", f"{money}; the cheapest partnership it could still fund costs "
                                         f"{int(cheapest_room[d]):,} {cur}")
        else:
            out[d] = ("not_selected", f"{money}; it could fund {int(affordable[d]):,} more partnership(s) within "
                                      "it, but the policy left them out")
    return out


def _forbidden_detail(g: CandidateGraph, i: int, mentors: np.ndarray, total: Optional[int] = None) -> str:
    """Why mentee ``i`` may have none of ``mentors`` (the first of ``total``, default all):
    forbidden in the instance, or vetoed, naming who will not work with whom."""
    shown = mentors[:_MAX_NAMES]
    total = len(mentors) if total is None else total
    by_mentee, by_mentor = g.stated(np.full(len(shown), i), shown)
    if not ((by_mentee == -1) | (by_mentor == -1)).any():
        return f"every remaining mentor is forbidden for it: {_mentor_names(g, shown, total)}"
    mentee = g.mentee_id(i)
    said = [f"{mentee} will not work with {g.mentor_id(j)}" if a == -1 else
            f"{g.mentor_id(j)} will not work with {mentee}" if b == -1 else f"{g.mentor_id(j)} is forbidden"
            for j, a, b in zip(shown.tolist(), by_mentee.tolist(), by_mentor.tolist())]
    return f"every remaining mentor is forbidden or vetoed: {_names(said, total)}"


def _count_detail(reason: str, op, n: int) -> str:
    if reason == "no_shared_language":
        return f"speaks {', '.join(op.languages)}; none of the {n} mentor(s) strong in its needs does"
    return f"region {op.region}; the {n} remaining mentor(s) are all in other regions (rules.region = same)"


def _structural_detail(g, reason, op, r, block, before, rules) -> str:
    needs = [a for a, lvl in op.mentee.needs.items() if lvl >= 1]
    if reason == "no_mentor_strength":
        if not needs:
            return "it lists no need of level 1 or more"
        return f"needs {', '.join(needs)}; no mentor reaches strength {rules.min_strength} in any of them"
    n = int(before.sum())
    if reason in ("no_shared_language", "region_rule"):
        return _count_detail(reason, op, n)
    if reason == "distance_rule":
        nearest = float(block.distance[r][before].min())
        return f"nearest remaining mentor is {nearest:.0f} km away; limit {rules.max_distance_km:g} km"
    if reason == "forbidden":
        return _forbidden_detail(g, int(block.rows[r]), np.flatnonzero(before))
    if reason == "below_min_score":
        best = float(block.score[r][before].max())
        return f"best remaining score {best:.4f} is below min_score {rules.min_score:g}"
    return f"no donor can fund any of its {n} eligible pair(s) (region, country, work area or max_grant)"
