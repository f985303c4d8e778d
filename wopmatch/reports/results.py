"""A solution as tables a facilitator reads: ``solve -o result.xlsx`` (or a CSV folder).

Sheets: ``summary`` (headline figures), ``partnerships`` (with operator names,
countries, shared languages, focus areas, distance, score, cost and donor), ``plans``
(each partnership's months, issues, trips, budget split and timeline: reports/plans.py),
``unmatched`` (with the reason), ``donors`` (budget use), ``mentors``
(load against capacity), with ``--alternates K`` ``alternates`` (each
mentee's runner-up mentors and why each was not chosen), and with
``--previous`` ``changes`` (kept, moved, ended, new against the earlier round). The JSON solution is
written beside them.
"""

from __future__ import annotations

from typing import Any, Optional

from ..models.instance import Instance
from ..models.solution import Solution
from ..models.tables import tables_csv, workbook_bytes
from ..solver import pair_facts

Sheet = tuple[list[str], list[list[Any]]]


def result_tables(instance: Instance, solution: Solution) -> dict[str, Sheet]:
    ops = {op.id: op for op in instance.operators}
    donors = {d.id: d for d in instance.donors}
    facts = pair_facts(instance)
    partnerships = []
    load: dict[str, int] = {}
    for p in solution.partnerships:
        me, mo = ops.get(p.mentee), ops.get(p.mentor)
        f = facts(p.mentee, p.mentor) if me is not None and mo is not None else None
        load[p.mentor] = load.get(p.mentor, 0) + 1
        partnerships.append([
            p.mentee, _name(me), me.country if me else None, me.region if me else None,
            p.mentor, _name(mo), mo.country if mo else None, mo.region if mo else None,
            "; ".join(sorted(f.shared)) if f else None, "; ".join(p.focus),
            round(f.distance, 1) if f else None, p.score, p.cost, p.donor,
            _name(donors.get(p.donor)) if p.donor else None, "yes" if p.pinned else "no",
        ])
    unmatched = [[u.mentee, _name(ops.get(u.mentee)), _attr(ops.get(u.mentee), "country"),
                  _attr(ops.get(u.mentee), "region"), u.reason, u.detail] for u in solution.unmatched]
    donor_rows = [[d.id, _name(donors.get(d.id)), d.budget, d.committed, d.budget - d.committed,
                   round(100 * d.committed / d.budget, 1) if d.budget else None, d.partnerships,
                   d.idle_reason, d.idle_detail or None]
                  for d in solution.donors]
    mentors = [[op.id, op.name, op.country, op.region, op.mentor.capacity, load.get(op.id, 0),
                op.mentor.capacity - load.get(op.id, 0)] for op in instance.operators if op.mentor is not None]
    tables = {
        "summary": (["figure", "value"], summary_rows(instance, solution)),
        "partnerships": (["mentee", "mentee_name", "mentee_country", "mentee_region", "mentor", "mentor_name",
                          "mentor_country", "mentor_region", "shared_languages", "focus_areas", "distance_km",
                          "score", "cost", "donor", "donor_name", "pinned"], partnerships),
        "unmatched": (["mentee", "mentee_name", "country", "region", "reason", "detail"], unmatched),
        "donors": (["donor", "name", "budget", "committed", "remaining", "used_percent", "partnerships",
                    "idle_reason", "idle_detail"],
                   donor_rows),
        "mentors": (["mentor", "name", "country", "region", "capacity", "load", "free"], mentors),
    }
    from .plans import plan_rows

    tables["plans"] = plan_rows(instance, solution)
    if solution.alternates is not None:
        partner = {p.mentee: p.mentor for p in solution.partnerships}
        rows = [[a.mentee, _name(ops.get(a.mentee)), partner.get(a.mentee), rank, alt.mentor,
                 _name(ops.get(alt.mentor)), alt.score, alt.cost, alt.status]
                for a in solution.alternates for rank, alt in enumerate(a.alternates, start=1)]
        tables["alternates"] = (["mentee", "mentee_name", "partner", "rank", "alternate", "alternate_name", "score",
                                 "cost", "status"], rows)
    if solution.round is not None:
        tables["changes"] = (["mentee", "change", "mentor_before", "mentor_after", "donor_before", "donor_after"],
                             [[c.mentee, c.change, c.mentor_before, c.mentor_after, c.donor_before, c.donor_after]
                              for c in solution.round.changes])
    return tables


def summary_rows(instance: Instance, solution: Solution) -> list[list[Any]]:
    s = solution
    n_mentees = sum(op.mentee is not None for op in instance.operators)
    rows: list[list[Any]] = [
        ["instance", instance.name or s.instance.name],
        ["status", s.status],
        ["message", s.message],
        ["policy", s.policy],
        ["method", s.stats.method],
        ["mentees matched", len(s.partnerships)],
        ["mentees", n_mentees],
        ["coverage (sum of weights)", s.objective.coverage if s.objective else None],
        ["coverage bound", s.bound.coverage],
        ["coverage gap", s.gap.coverage],
        ["quality (sum of weight x score)", s.objective.quality if s.objective else None],
        ["quality bound", s.bound.quality],
        ["quality gap", s.gap.quality],
        [f"total cost ({instance.currency})", s.objective.cost if s.objective else None],
        ["cost bound", s.bound.cost],
        ["cost gap", s.gap.cost],
        ["solver", s.stats.solver],
        ["seed", s.stats.seed],
        ["verified", None if s.verification is None else ("yes" if s.verification.ok else "NO")],
        ["instance sha256", s.instance.sha256],
    ]
    return rows


def results_workbook_bytes(instance: Instance, solution: Solution) -> bytes:
    return workbook_bytes(result_tables(instance, solution))


def results_csv_files(instance: Instance, solution: Solution) -> dict[str, bytes]:
    return tables_csv(result_tables(instance, solution))


def _name(x: Optional[Any]) -> Optional[str]:
    return None if x is None else (x.name or None)


def _attr(x: Optional[Any], field: str) -> Optional[str]:
    return None if x is None else getattr(x, field)
