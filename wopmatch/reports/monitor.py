"""Monitoring partnerships against their work plans (``wopmatch monitor``, docs/monitoring.md).

The plan of each partnership (reports/plans.py) says what should be done by each month:
activities finished, money spent, milestones passed, and each indicator on a straight line
from its baseline (month 0) to its target (the last month). The progress the partners report
(models/progress.py) is compared with it at the end of the partnership's latest reported
period, and each comparison is graded by :data:`RULES`; a partnership's status is the worst
of its grades. Everything here but the file writers is a pure function of the round, the
solution and the progress.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Optional

from ..models.instance import Instance
from ..models.outcomes import Indicator
from ..models.problems import InputError, Problem
from ..models.progress import SHEETS, IndicatorValue, MilestoneDone, PeriodReport, Progress, ReadProgress
from ..models.solution import Solution
from ..models.tables import add_validation, column_range, workbook_bytes
from .plans import REPORT_EVERY, Plan, _env, plans

Status = Literal["on track", "at risk", "off track"]
STATUSES: tuple[Status, ...] = ("on track", "at risk", "off track")
MONITORING_FORMAT = "wopmatch.monitoring/1"


@dataclass(frozen=True)
class Rule:
    """How one comparison with the plan is graded: on track at ``on`` or better, at risk at
    ``risk`` or better, otherwise off track. ``higher``: whether a larger figure is better."""

    figure: str
    on: float
    risk: float
    higher: bool = True


#: The grading rules (docs/monitoring.md, "Rules"). One table: change a threshold here.
RULES: dict[str, Rule] = {
    # mean over the indicators of (share of the way from baseline to target) / (share of the months
    # passed), each capped to -1..2: 1 is on the straight line to the target
    "indicators": Rule("progress against the straight line to the targets", 0.75, 0.4),
    # activities done / activities the plan has finished by the month
    "activities": Rule("activities done against the plan", 0.75, 0.5),
    # |spent / planned - 1|: spending too little (work behind) or too much (money running out)
    "spending": Rule("distance of the cash spent from the plan", 0.25, 0.5, higher=False),
    # milestones due by the month that are not done
    "milestones": Rule("overdue milestones", 0, 1, higher=False),
    # reporting periods the partnership is behind the round's latest reported period
    "reporting": Rule("reports behind the round", 0, 1, higher=False),
}


def grade(check: str, figure: float) -> Status:
    """The status ``figure`` earns under ``RULES[check]``."""
    rule = RULES[check]
    if rule.higher:
        return "on track" if figure >= rule.on else "at risk" if figure >= rule.risk else "off track"
    return "on track" if figure <= rule.on else "at risk" if figure <= rule.risk else "off track"


def worst(statuses: list[Status]) -> Status:
    return max(statuses, key=STATUSES.index) if statuses else "on track"


def periods(months: int) -> int:
    """Reporting periods of a partnership of ``months``: one per REPORT_EVERY months, started."""
    return math.ceil(months / REPORT_EVERY)


def period_end(period: int, months: int) -> int:
    return min(period * REPORT_EVERY, months)


def planned_activities(plan: Plan, month: int) -> int:
    """Activities of the plan finished by ``month``."""
    return sum(1 for o in plan.objectives for a in o.activities if a.last <= month)


def planned_spend(plan: Plan, month: int) -> int:
    """Cash the plan has spent by ``month``: the base in proportion to the months passed, and the
    travel of each trip started by then."""
    base = sum(r.base for r in plan.by_year)
    travel = sum(r.travel for r in plan.by_year)
    started = sum(1 for s in plan.steps if s.kind == "trip" and s.first <= month)
    return round(base * min(month, plan.months) / plan.months + (travel * started / plan.trips if plan.trips else 0))


def indicator_ratio(ind: Indicator, baseline: float, target: float, value: float, month: int, months: int) -> float:
    """How far ``value`` is along the straight line from ``baseline`` (month 0) to ``target``
    (month ``months``) at ``month``: 1 on the line, 0 at the baseline, capped to -1..2. A target equal
    to the baseline (hold it) gives 1 when the value is at least as good, else 0."""
    if target == baseline:
        good = value >= target if ind.better == "higher" else value <= target
        return 1.0 if good else 0.0
    expected = min(month, months) / months
    return max(-1.0, min(2.0, (value - baseline) / (target - baseline) / expected))


@dataclass
class Check:
    name: str  # a key of RULES
    status: Status
    figure: Optional[float]  # None: not reported
    detail: str


@dataclass
class PartnershipStatus:
    mentee: str
    mentee_name: str
    mentor: str
    mentor_name: str
    donor: Optional[str]
    months: int
    cost: int
    status: Status
    period: Optional[int]  # its latest reported period
    month: Optional[int]  # the end of that period: the month it is judged at
    checks: list[Check] = field(default_factory=list)
    activities_done: Optional[int] = None
    activities_planned: Optional[int] = None
    spent: Optional[int] = None
    spend_planned: Optional[int] = None
    indicator_progress: Optional[float] = None  # the mean ratio
    overdue: list[str] = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        return [c.detail for c in self.checks if c.status != "on track"]


@dataclass
class DonorStatus:
    donor: Optional[str]  # None: the unfunded partnerships
    name: str
    counts: dict[str, int]
    cost: int
    spend_planned: int
    spent: int


@dataclass
class Monitoring:
    round_name: str
    currency: str
    period: int  # the round's latest reported period
    partnerships: list[PartnershipStatus]
    donors: list[DonorStatus]

    @property
    def counts(self) -> dict[str, int]:
        return {s: sum(1 for p in self.partnerships if p.status == s) for s in STATUSES}


def _located_problems(read: ReadProgress, found: dict[str, Plan]) -> list[Problem]:
    """What the progress says that the plans cannot have: an unknown mentee, a period, indicator or
    milestone its plan does not have, activities beyond the plan's, a value out of range, a repeat."""
    pr, where = read.progress, read.where
    out: list[Problem] = []

    def plan_of(path: str, mentee: str) -> Optional[Plan]:
        plan = found.get(mentee)
        if plan is None:
            out.append(Problem(where(f"{path}.mentee"), f"no partnership of this solution has the mentee {mentee!r}"))
        return plan

    def period_ok(path: str, plan: Plan, period: int) -> bool:
        if period > periods(plan.months):
            out.append(Problem(where(f"{path}.period"), f"{plan.partnership.mentee}'s partnership runs {plan.months} "
                                                        f"months: periods 1 to {periods(plan.months)}, got {period}"))
            return False
        return True

    firsts: dict[tuple[Any, ...], str] = {}  # what is reported -> the path of its first report

    def once(path: str, key: tuple[Any, ...], what: str) -> None:
        if key in firsts:
            out.append(Problem(where(path), f"{what} is reported twice (first at {where(firsts[key])})"))
        else:
            firsts[key] = path

    for k, r in enumerate(pr.periods):
        path = f"periods[{k}]"
        plan = plan_of(path, r.mentee)
        if plan is None or not period_ok(path, plan, r.period):
            continue
        once(path, ("period", r.mentee, r.period), f"{r.mentee}'s period {r.period}")
        total = sum(len(o.activities) for o in plan.objectives)
        if r.activities_done is not None and r.activities_done > total:
            out.append(Problem(where(f"{path}.activities_done"), f"{r.mentee}'s plan has {total} activities, "
                                                                 f"got {r.activities_done} done"))
    for k, v in enumerate(pr.indicators):
        path = f"indicators[{k}]"
        plan = plan_of(path, v.mentee)
        if plan is None or not period_ok(path, plan, v.period):
            continue
        known = {t.indicator.id: t.indicator for o in plan.objectives for t in o.targets}
        ind = known.get(v.indicator)
        if ind is None:
            out.append(Problem(where(f"{path}.indicator"), f"{v.mentee}'s plan has no indicator {v.indicator!r}; "
                                                           f"its indicators: {', '.join(known)}"))
            continue
        if not ind.low <= v.value <= ind.high:
            out.append(Problem(where(f"{path}.value"), f"{ind.name} must be between {ind.low:g} and {ind.high:g} "
                                                       f"{ind.unit}, got {v.value:g}"))
        once(path, ("indicator", v.mentee, v.period, v.indicator), f"{v.mentee}'s {v.indicator} in period {v.period}")
    for k, m in enumerate(pr.milestones):
        path = f"milestones[{k}]"
        plan = plan_of(path, m.mentee)
        if plan is None:
            continue
        if (m.month, m.milestone) not in {(s.first, s.activity) for s in plan.steps if s.kind == "milestone"}:
            out.append(Problem(where(f"{path}.milestone"), f"{m.mentee}'s plan has no milestone {m.milestone!r} in "
                                                           f"month {m.month}"))
            continue
        once(path, ("milestone", m.mentee, m.month, m.milestone), f"{m.mentee}'s milestone of month {m.month}")
    return out


def monitor(instance: Instance, solution: Solution, read: ReadProgress | Progress,
            source: str = "progress") -> Monitoring:
    """Every partnership of ``solution`` graded against its plan (RULES); InputError lists what
    the progress says that the plans cannot have."""
    if isinstance(read, Progress):
        read = ReadProgress(read)
    found = {pl.partnership.mentee: pl for pl in plans(instance, solution)}
    problems = _located_problems(read, found)
    if problems:
        raise InputError(problems, source)
    pr = read.progress
    reports: dict[str, dict[int, PeriodReport]] = {}
    for r in pr.periods:
        if r.activities_done is not None or r.spent is not None:
            reports.setdefault(r.mentee, {})[r.period] = r
    values: dict[str, dict[int, list[IndicatorValue]]] = {}
    for v in pr.indicators:
        values.setdefault(v.mentee, {}).setdefault(v.period, []).append(v)
    done: dict[str, set[tuple[int, str]]] = {}
    for m in pr.milestones:
        if m.done:
            done.setdefault(m.mentee, set()).add((m.month, m.milestone))
    latest = {mentee: max(set(reports.get(mentee, {})) | set(values.get(mentee, {})), default=0) for mentee in found}
    current = max(latest.values(), default=0)
    if found and current == 0:
        raise InputError([Problem("", "no progress is reported yet: fill in activities_done or spent (sheet "
                                      "progress) or indicator values (sheet indicators), then run again")], source)
    out = [_status(plan, latest[mentee], current, reports.get(mentee, {}), values.get(mentee, {}),
                   done.get(mentee, set())) for mentee, plan in found.items()]
    return Monitoring(instance.name or "", instance.currency, current, out, _donors(instance, out))


def _status(plan: Plan, period: int, current: int, reports: dict[int, PeriodReport],
            values: dict[int, list[IndicatorValue]], done: set[tuple[int, str]]) -> PartnershipStatus:
    p, me, mo = plan.partnership, plan.mentee, plan.mentor
    st = PartnershipStatus(p.mentee, me.name or me.id, p.mentor, mo.name or mo.id, p.donor, plan.months, p.cost,
                           "off track", None, None)
    expected = min(current, periods(plan.months))
    if period == 0:
        st.checks.append(Check("reporting", "off track", None, "no progress reported"))
        return st
    month = period_end(period, plan.months)
    st.period, st.month = period, month
    behind = expected - period
    st.checks.append(Check("reporting", grade("reporting", behind), behind,
                           f"latest report for period {period}, the round has reached period {current}"))
    report = reports.get(period)
    st.activities_planned = planned_activities(plan, month)
    st.activities_done = None if report is None else report.activities_done
    if st.activities_done is None:
        st.checks.append(Check("activities", "at risk", None, f"activities done not reported for period {period}"))
    else:
        ratio = st.activities_done / st.activities_planned if st.activities_planned else 1.0
        st.checks.append(Check("activities", grade("activities", ratio), ratio,
                               f"{st.activities_done} of {st.activities_planned} planned activities done by month "
                               f"{month}"))
    st.spend_planned = planned_spend(plan, month)
    st.spent = None if report is None else report.spent
    if st.spent is None:
        st.checks.append(Check("spending", "at risk", None, f"spending not reported for period {period}"))
    else:
        gap = abs(st.spent / st.spend_planned - 1) if st.spend_planned else (0.0 if st.spent == 0 else 1.0)
        st.checks.append(Check("spending", grade("spending", gap), gap,
                               f"{st.spent:,} spent against {st.spend_planned:,} planned by month {month}"))
    targets = {t.indicator.id: t for o in plan.objectives for t in o.targets}
    last: dict[str, float] = {}
    for k in sorted(values):
        if k <= period:
            for v in values[k]:
                last[v.indicator] = v.value
    if last:
        ratios = [indicator_ratio(targets[i].indicator, targets[i].baseline, targets[i].value, x, month, plan.months)
                  for i, x in last.items()]
        st.indicator_progress = sum(ratios) / len(ratios)
        st.checks.append(Check("indicators", grade("indicators", st.indicator_progress), st.indicator_progress,
                               f"indicators at {st.indicator_progress:.0%} of the straight line to their targets "
                               f"({len(last)} of {len(targets)} reported)"))
    else:
        st.checks.append(Check("indicators", "at risk", None, "no indicator value reported"))
    late = [s for s in plan.steps if s.kind == "milestone" and s.first <= month and (s.first, s.activity) not in done]
    st.overdue = [f"{s.activity.split(':')[0]} (month {s.first})" for s in late]
    kinds = Counter(s.activity.split(":")[0] for s in late)
    st.checks.append(Check("milestones", grade("milestones", len(st.overdue)), len(st.overdue),
                           f"{len(st.overdue)} milestone(s) overdue: "
                           + ", ".join(k if n == 1 else f"{k} x{n}" for k, n in kinds.items()) if st.overdue
                           else "no milestone overdue"))
    st.status = worst([c.status for c in st.checks])
    return st


def _donors(instance: Instance, found: list[PartnershipStatus]) -> list[DonorStatus]:
    names = {d.id: d.name or d.id for d in instance.donors}
    out = []
    for donor in [d.id for d in instance.donors] + [None]:
        mine = [p for p in found if p.donor == donor]
        if not mine:
            continue
        out.append(DonorStatus(donor, names.get(donor, "no donor") if donor else "no donor funding",
                               {s: sum(1 for p in mine if p.status == s) for s in STATUSES},
                               sum(p.cost for p in mine), sum(p.spend_planned or 0 for p in mine),
                               sum(p.spent or 0 for p in mine)))
    return out


# ------------------------------------------------------------------ the progress workbook


def _period_rows(plan: Plan) -> list[tuple[int, int, int]]:
    """(period, its first month, its last month) of the plan."""
    return [(k, (k - 1) * REPORT_EVERY + 1, period_end(k, plan.months)) for k in range(1, periods(plan.months) + 1)]


def progress_workbook(instance: Instance, solution: Solution, filled: Optional[Progress] = None) -> bytes:
    """The progress workbook of the solution's partnerships: a row per partnership and period, per
    indicator and period, and per milestone, with the plan's figures beside the cells to fill
    (filled with ``filled``'s values where given: synthetic progress)."""
    found = plans(instance, solution)
    got_p = {(r.mentee, r.period): r for r in (filled.periods if filled else [])}
    got_i = {(v.mentee, v.period, v.indicator): v.value for v in (filled.indicators if filled else [])}
    got_m = {(m.mentee, m.month, m.milestone): m.done for m in (filled.milestones if filled else [])}
    progress, indicators, milestones = [], [], []
    for pl in found:
        me = pl.partnership.mentee
        for k, first, last in _period_rows(pl):
            r = got_p.get((me, k))
            progress.append([me, pl.partnership.mentor, k, f"{first}-{last}", pl.when(first, last) or None,
                             planned_activities(pl, last), r.activities_done if r else None, planned_spend(pl, last),
                             r.spent if r else None])
            for o in pl.objectives:
                for t in o.targets:
                    indicators.append([me, k, t.indicator.id, t.indicator.name, t.indicator.unit, t.baseline,
                                       t.value, got_i.get((me, k, t.indicator.id))])
        for s in pl.steps:
            if s.kind == "milestone":
                done = got_m.get((me, s.first, s.activity))
                milestones.append([me, s.first, pl.when(s.first) or None, s.activity,
                                   None if done is None else "yes" if done else "no"])
    sheets = {name: (list(spec[1]), rows) for (name, spec), rows in
              zip(SHEETS.items(), (progress, indicators, milestones), strict=True)}
    return workbook_bytes(sheets, _progress_validations, notes=list(PROGRESS_NOTES))


def _progress_validations(ws: Any, sheet: str, header: list[str]) -> None:
    """What a spreadsheet program checks as the partners type: whole numbers, and yes or no."""
    if sheet == "progress":
        add_validation(ws, [column_range(header, c) for c in ("activities_done", "spent")],
                       "A whole number, 0 or more.", type="whole", operator="greaterThanOrEqual", formula1="0")
    elif sheet == "milestones":
        add_validation(ws, [column_range(header, "done")], "yes or no.", type="list", formula1='"yes,no"')


PROGRESS_NOTES: tuple[tuple[str, str, str], ...] = (
    ("progress", "mentee, mentor, period, months, when",
     "One row per partnership and reporting period (six months each); leave them as written."),
    ("progress", "activities_planned, spend_planned", "What the work plan has done and spent by the period's end."),
    ("progress", "activities_done", "Fill in: the plan's activities finished since the start."),
    ("progress", "spent", "Fill in: cash spent since the start, whole currency units."),
    ("indicators", "value", "Fill in: the indicator's value at the period's end (leave empty if not measured)."),
    ("milestones", "done", "Fill in: yes when the milestone is done, no (or empty) when not."),
    ("all", "(any)", "wopmatch monitor ROUND SOLUTION THIS-FILE -o report.html grades every partnership; "
                     "a partnership is judged at the end of its latest period with a figure filled in."),
)


def synthetic_progress(instance: Instance, solution: Solution, month: int, seed: int = 0) -> Progress:
    """Progress as partners might report it up to ``month`` (docs/monitoring.md, "Synthetic
    progress"): each partnership draws a pace (normal, mean 0.95 and deviation 0.25 of the plan, kept
    to 0.2..1.2) that scales its activities and indicators, a spending factor (normal, mean 1 and
    deviation 0.2), a chance of 1 in 10 of reporting one period late and 1 in 20 of never reporting;
    its milestones are done when its pace is at least 0.5; indicator values carry a measurement noise
    of 0.5% of their range."""
    rng = random.Random(seed)
    out_p: list[PeriodReport] = []
    out_i: list[IndicatorValue] = []
    out_m: list[MilestoneDone] = []
    for pl in plans(instance, solution):
        me = pl.partnership.mentee
        pace = min(1.2, max(0.2, rng.gauss(0.95, 0.25)))
        spend, roll = max(0.0, rng.gauss(1.0, 0.2)), rng.random()
        last_period = min(periods(pl.months), month // REPORT_EVERY) - (1 if roll < 0.1 else 0)
        if roll > 0.95:
            last_period = 0
        total = sum(len(o.activities) for o in pl.objectives)
        for k in range(1, last_period + 1):
            end = period_end(k, pl.months)
            out_p.append(PeriodReport(mentee=me, period=k, activities_done=min(total, round(
                planned_activities(pl, end) * pace)), spent=round(planned_spend(pl, end) * spend)))
            for o in pl.objectives:
                for t in o.targets:
                    share = min(1.0, pace * end / pl.months)
                    ind = t.indicator
                    value = t.baseline + share * (t.value - t.baseline) + rng.gauss(0, 0.005) * (ind.high - ind.low)
                    out_i.append(IndicatorValue(mentee=me, period=k, indicator=ind.id,
                                                value=round(min(ind.high, max(ind.low, value)), 1)))
        reached = period_end(last_period, pl.months) if last_period else 0
        for s in pl.steps:
            if s.kind == "milestone" and s.first <= reached:
                out_m.append(MilestoneDone(mentee=me, month=s.first, milestone=s.activity, done=pace >= 0.5))
    return Progress(periods=out_p, indicators=out_i, milestones=out_m)


# ------------------------------------------------------------------ the report and its figures


def monitoring_rows(m: Monitoring) -> tuple[list[str], list[list[Any]]]:
    """One row per partnership: the CSV and the API's table."""
    header = ["mentee", "mentee_name", "mentor", "mentor_name", "donor", "months", "cost", "status", "period",
              "month", "activities_done", "activities_planned", "spent", "spend_planned", "indicator_progress",
              "overdue_milestones", "reasons"]
    rows = [[p.mentee, p.mentee_name, p.mentor, p.mentor_name, p.donor, p.months, p.cost, p.status, p.period, p.month,
             p.activities_done, p.activities_planned, p.spent, p.spend_planned,
             None if p.indicator_progress is None else round(p.indicator_progress, 3), len(p.overdue),
             "; ".join(p.reasons)] for p in m.partnerships]
    return header, rows


def monitoring_csv(m: Monitoring) -> bytes:
    header, rows = monitoring_rows(m)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(["" if v is None else v for v in row] for row in rows)
    return buf.getvalue().encode("utf-8")


def monitoring_json(m: Monitoring) -> bytes:
    data = {"format": MONITORING_FORMAT, "round": m.round_name, "currency": m.currency, "period": m.period,
            "counts": m.counts, "rules": {k: asdict(r) for k, r in RULES.items()},
            "partnerships": [{**asdict(p), "reasons": p.reasons} for p in m.partnerships],
            "donors": [asdict(d) for d in m.donors]}
    return (json.dumps(data, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def monitoring_html(m: Monitoring) -> bytes:
    """The donor-facing report: counts, by donor (a chart and a table), every partnership (off track
    first) with why, and the rules."""
    rows = sorted(m.partnerships, key=lambda p: (-STATUSES.index(p.status), p.mentee))
    most = max((sum(d.counts.values()) for d in m.donors), default=1)
    return _env().get_template("monitor.html.j2").render(m=m, rules=RULES, statuses=STATUSES, rows=rows,
                                                         most=most).encode("utf-8")


#: ``-o`` suffix -> the writer of that file.
WRITERS = {".html": monitoring_html, ".csv": monitoring_csv, ".json": monitoring_json}
