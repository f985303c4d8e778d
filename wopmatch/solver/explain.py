"""Why each unmatched mentee got no partnership (SPEC.md §5).

Structural reasons apply the eligibility filters cumulatively, in the order
strength, language, region, distance, forbidden, min_score, donor, to all of a
mentee's possible mentors: the reason is the first filter that leaves none.
A mentee that still has fundable eligible pairs is unmatched because of the
solution: ``capacity`` when every such mentor is full, ``budget`` when every
such mentor with room can only be funded by donors whose budget or count is
spent, and ``not_selected`` otherwise (a heuristic left it out).
"""

from __future__ import annotations

import numpy as np

from ..models.solution import Unmatched
from .encoding import BLOCK_PAIRS, CandidateGraph

_MAX_NAMES = 5


def _names(ids: list[str], total: int | None = None) -> str:
    """The first few of ``total`` (default: all of) ``ids``."""
    more = (len(ids) if total is None else total) - _MAX_NAMES
    return ", ".join(ids[:_MAX_NAMES]) + (f" and {more} more" if more > 0 else "")


def _mentor_names(g: CandidateGraph, mentors: np.ndarray) -> str:
    """_names of mentor indices, looking up only the ids it prints (a mentee of
    100,000 x 20,000 has thousands of eligible mentors)."""
    shown = [g.mentor_id(int(j)) for j in mentors[:_MAX_NAMES]]
    return _names(shown, len(mentors))


def explain_unmatched(
    g: CandidateGraph,
    matched: np.ndarray,  # (n,) bool, pinned included
    mentor_load: np.ndarray,  # (m,) partnerships chosen by the policy (pinned excluded)
    donor_spent: np.ndarray,  # (k,) committed by the policy (pinned excluded)
    donor_count: np.ndarray,  # (k,)
) -> list[Unmatched]:
    rows = np.flatnonzero(~matched)
    out: list[Unmatched] = []
    rules = g.instance.rules
    step = max(1, BLOCK_PAIRS // max(1, g.n_mentors))
    for start in range(0, len(rows), step):
        block = g.pair_block(rows[start:start + step])
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


def _structural_detail(g, reason, op, r, block, before, rules) -> str:
    needs = [a for a, lvl in op.mentee.needs.items() if lvl >= 1]
    if reason == "no_mentor_strength":
        if not needs:
            return "it lists no need of level 1 or more"
        return f"needs {', '.join(needs)}; no mentor reaches strength {rules.min_strength} in any of them"
    n = int(before.sum())
    if reason == "no_shared_language":
        return f"speaks {', '.join(op.languages)}; none of the {n} mentor(s) strong in its needs does"
    if reason == "region_rule":
        return f"region {op.region}; the {n} remaining mentor(s) are all in other regions (rules.region = same)"
    if reason == "distance_rule":
        nearest = float(block.distance[r][before].min())
        return f"nearest remaining mentor is {nearest:.0f} km away; limit {rules.max_distance_km:g} km"
    if reason == "forbidden":
        return f"every remaining mentor is forbidden for it: {_mentor_names(g, np.flatnonzero(before))}"
    if reason == "below_min_score":
        best = float(block.score[r][before].max())
        return f"best remaining score {best:.4f} is below min_score {rules.min_score:g}"
    return f"no donor can fund any of its {n} eligible pair(s) (region, country, work area or max_grant)"
