"""Why each unmatched mentee got no partnership (docs/format.md §5).

Structural reasons apply the eligibility filters cumulatively, in the order
strength, language, region, distance, forbidden, min_score, donor, to all of a
mentee's possible mentors: the reason is the first filter that leaves none.
A mentee that still has fundable eligible pairs is unmatched because of the
solution: ``capacity`` when every such mentor is full, ``budget`` when every
such mentor with room can only be funded by donors whose budget or count is
spent, and ``not_selected`` otherwise (a heuristic left it out).
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
                detail = f"every remaining mentor is forbidden for it: {_mentor_names(g, first[before][:n], n)}"
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
            donors = sorted({g.donor_ids[d] for d in np.flatnonzero(f.any(axis=0))})
            return Unmatched(mentee=mentee, reason="budget",
                             detail=f"mentors with room ({_mentor_names(g, with_room)}) "
                                    f"can only be funded by exhausted donors: {_names(donors)}")
    return Unmatched(mentee=mentee, reason="not_selected",
                     detail=f"{int((~full).sum())} eligible mentor(s) had room, but the policy left it out")


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
        return f"every remaining mentor is forbidden for it: {_mentor_names(g, np.flatnonzero(before))}"
    if reason == "below_min_score":
        best = float(block.score[r][before].max())
        return f"best remaining score {best:.4f} is below min_score {rules.min_score:g}"
    return f"no donor can fund any of its {n} eligible pair(s) (region, country, work area or max_grant)"
