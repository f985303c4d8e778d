"""A draft work plan per partnership (``wopmatch plans``, docs/spreadsheets.md "Work plans").

Each plan holds: both utilities (countries and languages by name); for each issue (the
mentee's priority needs the mentor is strong in; its focus areas when it has none) an
objective, activities over the partnership's months and indicators with a baseline and a
target (models/outcomes.py); a timeline of visits and milestones (kick-off, a progress report
every six months, the mid-term review, the closing review), in calendar months when the round
has a ``start``; the budget by year and by partner, with what each gives in kind; boxes for
the partners' commitments; and a sign-off block. Pages are self-contained HTML (no script, no
network) laid out for A4.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

from jinja2 import Environment, PackageLoader, select_autoescape

from ..models.instance import Instance, Operator
from ..models.outcomes import Indicator, WorkArea, area_of, target
from ..models.solution import Partnership, Solution
from ..models.vocab import country_name, language_name
from ..solver import pair_facts

#: A progress report is due every this many months (and at none of the last month's, which
#: holds the closing review).
REPORT_EVERY = 6


@dataclass
class Step:
    first: int  # months of the partnership, 1-based
    last: int
    activity: str
    kind: Literal["milestone", "trip", "work"] = "work"
    traveller: Optional[Literal["mentee", "mentor"]] = None  # a trip's: whose team travels

    @property
    def months(self) -> str:  # "1", "1-3"
        return _span(self.first, self.last)

    @property
    def trip(self) -> bool:
        return self.kind == "trip"


@dataclass
class Target:
    indicator: Indicator
    baseline: float
    measured: bool  # the mentee stated it (operators[].indicators); else the table's estimate
    value: float  # to reach by the last month


@dataclass
class Objective:
    area: WorkArea
    need: int  # the mentee's need in the area, 0..5
    strength: int  # the mentor's strength in it
    activities: list[Step]
    targets: list[Target]


@dataclass
class BudgetRow:
    label: str
    base: int
    trips: int  # how many
    travel: int
    in_kind: int = 0

    @property
    def cash(self) -> int:
        return self.base + self.travel


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
    objectives: list[Objective] = field(default_factory=list)
    by_year: list[BudgetRow] = field(default_factory=list)
    by_partner: list[BudgetRow] = field(default_factory=list)
    base: float = 0.0
    trips: int = 0
    per_trip: float = 0.0
    distance_km: float = 0.0
    currency: str = ""
    start: Optional[tuple[int, int]] = None  # (year, month) of month 1

    @property
    def page(self) -> str:
        return page_name(self.partnership.mentee)

    def when(self, first: int, last: Optional[int] = None) -> str:
        """Calendar months of the partnership's months ``first``..``last`` ("Mar-May 2027"), or
        "" when the round has no start."""
        return calendar(self.start, first, first if last is None else last)

    @property
    def in_kind(self) -> int:
        return sum(r.in_kind for r in self.by_partner)


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


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def calendar(start: Optional[tuple[int, int]], first: int, last: int) -> str:
    """``start`` (year, month) is month 1: months ``first``..``last`` as "Mar 2027",
    "Mar-May 2027" or "Nov 2027-Jan 2028"; "" without a start."""
    if start is None:
        return ""

    def at(m: int) -> tuple[int, int]:
        k = start[1] - 1 + m - 1
        return start[0] + k // 12, k % 12

    (y1, m1), (y2, m2) = at(first), at(last)
    if (y1, m1) == (y2, m2):
        return f"{_MONTHS[m1]} {y1}"
    if y1 == y2:
        return f"{_MONTHS[m1]}-{_MONTHS[m2]} {y1}"
    return f"{_MONTHS[m1]} {y1}-{_MONTHS[m2]} {y2}"


def milestones(months: int) -> list[Step]:
    """Kick-off in month 1, a progress report every REPORT_EVERY months before the last, the
    mid-term review at half the months (rounded up), the closing review in the last month."""
    steps = [Step(1, 1, "Kick-off (remote): both teams agree this work plan, its commitments and targets",
                  "milestone")]
    mid = math.ceil(months / 2)
    for m in range(REPORT_EVERY, months, REPORT_EVERY):
        steps.append(Step(m, m, "Progress report to the facilitator and donor: activities, indicators, spending",
                          "milestone"))
    if 1 < mid < months:
        steps.append(Step(mid, mid, "Mid-term review: progress against the targets; corrective measures agreed",
                          "milestone"))
    steps.append(Step(months, months, "Closing review: results against the targets, lessons, what continues",
                      "milestone"))
    return steps


def timeline(months: int, mentee_visits: int, mentor_visits_per_year: int, mentee_name: str,
             mentor_name: str) -> list[Step]:
    """The schedule over ``months``: the milestones, and the trips the cost counts (docs/format.md §3):
    the mentee's visit in the first quarter, ``mentor_visits_per_year`` in every started year."""
    steps = milestones(months)
    quarter = max(1, min(3, months))
    for v in range(mentee_visits):
        first = 1 if v == 0 else min(months, 2 + v)
        steps.append(Step(first, quarter if v == 0 else first,
                          f"Visit of {mentee_name}'s team to {mentor_name}: on-the-job training, technology "
                          "demonstrations, peer review of procedures and systems", "trip", "mentee"))
    years = math.ceil(months / 12)
    for y in range(years):
        start, end = 12 * y + 1, min(months, 12 * y + 12)
        lo = max(start, quarter + 1) if y == 0 else start  # after the mentee's visit in the first year
        if lo > end:
            lo = end
        width = end - lo + 1
        for v in range(mentor_visits_per_year):  # spread over the rest of the year, three months each at most
            first = lo + (v * width) // mentor_visits_per_year
            last = max(first, min(end, first + 2, lo + ((v + 1) * width) // mentor_visits_per_year - 1))
            steps.append(Step(first, last, f"Visit of {mentor_name}'s experts to {mentee_name} (year {y + 1}): "
                                           "technical consultations, field visits to pilot areas", "trip", "mentor"))
    order = {"milestone": 0, "trip": 1, "work": 2}
    return sorted(steps, key=lambda s: (s.first, order[s.kind]))  # stable: same month, order of making


def activities(area: WorkArea, months: int) -> list[Step]:
    """The area's activities one after another over months 2 to the last but one (all months
    when that leaves none), each an equal share of them."""
    lo, hi = (2, months - 1) if months >= 3 else (1, months)
    width, n = hi - lo + 1, len(area.activities)
    out = []
    for k, text in enumerate(area.activities):
        first = lo + (k * width) // n
        last = max(first, lo + ((k + 1) * width) // n - 1)
        out.append(Step(first, last, text))
    return out


def _apportion(total: int, weights: list[float]) -> list[int]:
    """``total`` split in proportion to ``weights`` into whole units that sum to it exactly
    (largest remainders, ties to the earlier)."""
    s = sum(weights)
    if s <= 0:
        return [total] + [0] * (len(weights) - 1) if weights else []
    raw = [total * w / s for w in weights]
    out = [math.floor(x) for x in raw]
    for k in sorted(range(len(raw)), key=lambda k: (-(raw[k] - out[k]), k))[: total - sum(out)]:
        out[k] += 1
    return out


def budget(cost: int, base: float, steps: list[Step], months: int, mentee: Operator,
           mentor: Operator) -> tuple[list[BudgetRow], list[BudgetRow]]:
    """The cash cost by year (the base spread over the months, each trip in the year it starts)
    and by partner (the base halved, each trip to the partner whose team travels), in whole
    units: the base column sums to the base, the travel column to the rest of ``cost``; each
    partner's ``in_kind`` beside it."""
    trips = [s for s in steps if s.kind == "trip"]
    # (label, base, trips, in kind) per row; the travel is apportioned by trips
    years = [(f"Year {y + 1}", base * (min(months, 12 * y + 12) - 12 * y) / months,
              sum(1 for s in trips if (s.first - 1) // 12 == y), 0) for y in range(math.ceil(months / 12))]
    partners = [(op.name or op.id, base / 2, sum(1 for s in trips if s.traveller == role), op.in_kind or 0)
                for role, op in (("mentee", mentee), ("mentor", mentor))]

    def rows(items: list[tuple[str, float, int, int]]) -> list[BudgetRow]:
        bases = _apportion(round(base), [b for _, b, _, _ in items])
        travel = _apportion(cost - round(base), [n for _, _, n, _ in items])
        return [BudgetRow(label, bases[k], n, travel[k], kind) for k, (label, _, n, kind) in enumerate(items)]

    return rows(years), rows(partners)


def _start(instance: Instance) -> Optional[tuple[int, int]]:
    if instance.start is None:
        return None
    y, m = instance.start.split("-")
    return int(y), int(m)


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
        d = donors.get(p.donor) if p.donor else None
        per_trip = c.trip_fixed + c.per_km * f.distance
        plan = Plan(p, me, mo, p.donor, (d.name or d.id) if d else None, months,
                    [(a, needs.get(a, 0), strengths.get(a, 0)) for a in issues],
                    [a for a in p.focus if a not in issues], base=c.base, trips=f.trips, per_trip=per_trip,
                    distance_km=f.distance, currency=instance.currency or "", start=_start(instance))
        plan.steps = timeline(months, c.mentee_visits, c.mentor_visits_per_year, me.name or me.id, mo.name or mo.id)
        for a in issues or p.focus:  # the issues; the focus areas when the pair has none
            area = area_of(a)
            targets = []
            for ind in area.indicators:
                stated = me.indicators.get(ind.id)
                baseline = ind.baseline if stated is None else stated
                targets.append(Target(ind, baseline, stated is not None, target(ind, baseline, months)))
            plan.objectives.append(Objective(area, needs.get(a, 0), strengths.get(a, 0), activities(area, months),
                                             targets))
        plan.by_year, plan.by_partner = budget(p.cost, c.base, plan.steps, months, me, mo)
        out.append(plan)
    return out


def _env() -> Environment:
    env = Environment(loader=PackageLoader("wopmatch.reports", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    env.filters["money"] = lambda v: "-" if v is None else f"{int(round(v)):,}"
    env.filters["area"] = lambda a: area_of(str(a)).title
    env.filters["country"] = country_name
    env.filters["language"] = language_name
    env.filters["region"] = lambda r: " ".join(w[:1].upper() + w[1:] for w in re.split(r"[-_ ]+", str(r)) if w)
    env.filters["value"] = lambda v: f"{v:,.1f}".removesuffix(".0")
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
    header = ["mentee", "mentee_name", "mentor", "mentor_name", "donor", "months", "start", "end", "issues",
              "other_focus", "indicators", "trips", "base", "per_trip", "cost", "cost_by_year", "in_kind", "timeline"]
    rows = [[pl.partnership.mentee, pl.mentee.name, pl.partnership.mentor, pl.mentor.name, pl.donor, pl.months,
             pl.when(1) or None, pl.when(pl.months) or None,
             "; ".join(a for a, _, _ in pl.issues), "; ".join(pl.other_focus),
             "; ".join(f"{t.indicator.id} {t.baseline:g} -> {t.value:g}" for o in pl.objectives for t in o.targets),
             pl.trips, round(pl.base), round(pl.per_trip), pl.partnership.cost,
             "; ".join(f"{r.label}: {r.cash}" for r in pl.by_year), pl.in_kind,
             "; ".join(f"M{s.months}: {s.activity.split(':')[0]}" for s in pl.steps)]
            for pl in plans(instance, solution)]
    return header, rows
