"""A draft work plan per partnership (``wopmatch plans``, docs/spreadsheets.md "Work plans").

Each plan holds: the issues to address with the mentor's matching strengths; a timeline
over the partnership's months (the mentee's visit in the first quarter, the mentor's
visits in every started year, training sessions and field visits to pilot areas between
them, a closing review); the budget split into base and trips, with the donor; both
utilities' names and countries; and space for the partners' commitments and targeted
outcomes. Pages are self-contained HTML (no script, no network) laid out for A4.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from jinja2 import Environment, PackageLoader, select_autoescape

from ..models.instance import Instance, Operator
from ..models.solution import Partnership, Solution
from ..solver import pair_facts


@dataclass
class Step:
    months: str  # "1", "1-3", "4-6"
    activity: str
    trip: bool = False


@dataclass
class Plan:
    partnership: Partnership
    mentee: Operator
    mentor: Operator
    donor: Optional[str]
    donor_name: Optional[str]
    months: int
    issues: list[tuple[str, int, int]]  # (area, the mentee's need, the mentor's strength)
    other_focus: list[str]  # focus areas below the priority level
    steps: list[Step] = field(default_factory=list)
    base: float = 0.0
    trips: int = 0
    per_trip: float = 0.0
    distance_km: float = 0.0
    currency: str = ""

    @property
    def page(self) -> str:
        return page_name(self.partnership.mentee)


def page_name(mentee: str) -> str:
    """The plan's file name: the mentee id, or, where the id holds anything but letters,
    digits, '.', '_' and '-' (ids are free text), those replaced by '_' and a short hash of
    the id added, so that two ids never share a page (nor the index's)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", mentee).lstrip(".")
    if safe == mentee and mentee.lower() != "index":
        return mentee + ".html"
    return f"{safe[:80]}-{hashlib.sha256(mentee.encode()).hexdigest()[:8]}.html"


def _span(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"


def timeline(months: int, mentee_visits: int, mentor_visits_per_year: int, mentee_name: str,
             mentor_name: str) -> list[Step]:
    """The schedule over ``months``: the trips are those the cost counts (docs/format.md §3)."""
    steps = [Step("1", "Kick-off (remote): both teams agree this work plan, its commitments and targets")]
    quarter = max(1, min(3, months))
    for v in range(mentee_visits):
        steps.append(Step(_span(1, quarter) if v == 0 else _span(min(months, 2 + v), min(months, 2 + v)),
                          f"Visit of {mentee_name}'s team to {mentor_name}: on-the-job training, technology "
                          "demonstrations, peer review of procedures and systems", trip=True))
    years = math.ceil(months / 12)
    for y in range(years):
        start, end = 12 * y + 1, min(months, 12 * y + 12)
        lo = max(start, quarter + 1) if y == 0 else start  # after the mentee's visit in the first year
        if lo > end:
            lo = end
        width = end - lo + 1
        last_visit = lo - 1
        for v in range(mentor_visits_per_year):  # spread over the rest of the year, three months each at most
            first = lo + (v * width) // mentor_visits_per_year
            last = min(end, first + 2, lo + ((v + 1) * width) // mentor_visits_per_year - 1)
            last = max(first, last)
            last_visit = max(last_visit, last)
            steps.append(Step(_span(first, last), f"Visit of {mentor_name}'s experts to {mentee_name} "
                                                  f"(year {y + 1}): technical consultations, field visits to "
                                                  "pilot areas", trip=True))
        gap_end = end - 1 if y == years - 1 else end  # the last month is the closing review
        if last_visit + 1 <= gap_end:
            steps.append(Step(_span(last_visit + 1, gap_end),
                              "Remote training sessions and information exchange; the mentee's team applies "
                              "the practices in its pilot areas"))
    steps.append(Step(str(months), "Closing review: results against the targets, lessons, what continues"))
    return sorted(steps, key=lambda s: int(s.months.split("-")[0]))  # stable: same month, order of making


def plans(instance: Instance, solution: Solution) -> list[Plan]:
    """One plan per partnership of ``solution`` (whose mentee and mentor are in ``instance``)."""
    ops = {op.id: op for op in instance.operators}
    donors = {d.id: d for d in instance.donors}
    facts = pair_facts(instance)
    c = instance.costs
    out = []
    for p in solution.partnerships:
        me, mo = ops.get(p.mentee), ops.get(p.mentor)
        if me is None or mo is None or me.mentee is None or mo.mentor is None:
            continue
        f = facts(p.mentee, p.mentor)
        months = p.duration_months if p.duration_months is not None else f.months
        issues = p.issues if p.issues is not None else f.issues
        needs, strengths = me.mentee.needs, mo.mentor.strengths
        trips = f.trips
        d = donors.get(p.donor) if p.donor else None
        plan = Plan(p, me, mo, p.donor, (d.name or d.id) if d else None, months,
                    [(a, needs.get(a, 0), strengths.get(a, 0)) for a in issues],
                    [a for a in p.focus if a not in issues], base=c.base, trips=trips,
                    per_trip=c.trip_fixed + c.per_km * f.distance, distance_km=f.distance,
                    currency=instance.currency or "")
        plan.steps = timeline(months, c.mentee_visits, c.mentor_visits_per_year, me.name or me.id, mo.name or mo.id)
        out.append(plan)
    return out


def _env() -> Environment:
    env = Environment(loader=PackageLoader("wopmatch.reports", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    env.filters["money"] = lambda v: "-" if v is None else f"{int(round(v)):,}"
    env.filters["area"] = lambda a: str(a).replace("_", " ")
    return env


def plan_files(instance: Instance, solution: Solution) -> dict[str, bytes]:
    """``index.html`` and one page per partnership (``page_name(mentee)``)."""
    env = _env()
    found = plans(instance, solution)
    files = {pl.page: env.get_template("plan.html.j2").render(plan=pl, round_name=instance.name or "",
                                                               currency=instance.currency or "").encode("utf-8")
             for pl in found}
    files["index.html"] = env.get_template("plans-index.html.j2").render(
        plans=found, round_name=instance.name or "", policy=solution.policy).encode("utf-8")
    return files


#: Marks every page ``plan_files`` makes, so a later run can tell its own stale pages.
GENERATOR_MARK = b'<meta name="generator" content="wopmatch plans">'


def stale_pages(folder: Path, files: dict[str, bytes]) -> list[Path]:
    """Pages an earlier ``wopmatch plans`` wrote in ``folder`` that ``files`` does not
    rewrite (a mentee no longer matched): they would describe a partnership that is gone."""
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.html")):
        if path.name not in files:
            try:
                with open(path, "rb") as f:
                    head = f.read(400)
            except OSError:
                continue
            if GENERATOR_MARK in head:
                out.append(path)
    return out


def plan_rows(instance: Instance, solution: Solution) -> tuple[list[str], list[list[Any]]]:
    """The ``plans`` sheet of the result workbook: one row per partnership."""
    header = ["mentee", "mentee_name", "mentor", "mentor_name", "donor", "months", "issues", "other_focus",
              "trips", "base", "per_trip", "cost", "timeline"]
    rows = [[pl.partnership.mentee, pl.mentee.name, pl.partnership.mentor, pl.mentor.name, pl.donor, pl.months,
             "; ".join(a for a, _, _ in pl.issues), "; ".join(pl.other_focus), pl.trips, round(pl.base),
             round(pl.per_trip), pl.partnership.cost,
             "; ".join(f"M{s.months}: {s.activity.split(':')[0]}" for s in pl.steps)]
            for pl in plans(instance, solution)]
    return header, rows
