"""What a partnership works towards in each work area (docs/format.md §7): a title, an
objective, the activities of a work plan, and indicators with a unit, a default baseline and
a good-practice value (the IBNET indicator families: non-revenue water, collection
efficiency, hours of supply, complaints, sanitation coverage, water quality).

One table, read by the plans, the progress workbook and the monitoring report. A work area
a round defines beyond the five of the seed gets :func:`area_of`'s generic entry: one
indicator, the share of its action plan done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional


@dataclass(frozen=True)
class Indicator:
    id: str
    name: str
    unit: str  # "%", "hours/day", "per 1,000 connections"
    better: Literal["higher", "lower"]
    baseline: float  # the default when the mentee states none (operators[].indicators)
    good: float  # good practice: what a well-run utility reaches
    low: float  # the range a value may take
    high: float


@dataclass(frozen=True)
class WorkArea:
    id: str
    title: str
    objective: str
    activities: tuple[str, ...]
    indicators: tuple[Indicator, ...]


def _pct(id: str, name: str, better: Literal["higher", "lower"], baseline: float, good: float) -> Indicator:
    return Indicator(id, name, "%", better, baseline, good, 0.0, 100.0)


AREAS: dict[str, WorkArea] = {a.id: a for a in (
    WorkArea("septage", "Septage management",
             "Safe collection, transport, treatment and disposal of septage from on-site sanitation",
             ("Assess the septage chain: containment, emptying, transport, treatment, disposal",
              "Design scheduled desludging and its customer registry",
              "Set operating procedures and safety rules for emptying and transport",
              "Improve treatment plant operation and the safe reuse or disposal of sludge"),
             (_pct("septage_treated_pct", "Septage collected that is safely treated", "higher", 30, 90),
              _pct("sanitation_coverage_pct", "Population with safely managed sanitation", "higher", 40, 90))),
    WorkArea("non_revenue_water", "Non-revenue water",
             "Reduce the water produced but not billed: physical losses and commercial losses",
             ("Water balance and network analysis",
              "Design district metered areas (DMAs) in a pilot zone",
              "Active leak detection and repair in the pilot DMAs",
              "Pressure management",
              "Customer metering: meter testing, replacement and reading"),
             (_pct("nrw_pct", "Non-revenue water (share of system input volume)", "lower", 40, 20),
              _pct("metered_connections_pct", "Connections with a working meter", "higher", 60, 100))),
    WorkArea("climate_adaptation", "Climate adaptation",
             "Keep service running through droughts, floods and heat: know the risks and plan for them",
             ("Climate risk assessment of sources, assets and service",
              "Adaptive planning: a prioritised adaptation and investment plan",
              "Drought and flood contingency procedures, and exercises to test them",
              "Energy and water efficiency measures"),
             (Indicator("supply_hours", "Hours of supply per day", "hours/day", "higher", 16, 24, 0, 24),
              _pct("assets_risk_assessed_pct", "Critical assets with a climate risk assessment", "higher", 0,
                   100))),
    WorkArea("customer_relations", "Customer relations",
             "Customers who are served, heard and billed fairly, and who pay",
             ("Review customer service processes: billing, connections, complaints",
              "Set up feedback channels and complaint tracking",
              "Community engagement and communication plan",
              "Collection improvement: billing accuracy and payment options"),
             (_pct("collection_efficiency_pct", "Collection efficiency (share of billed revenue collected)",
                   "higher", 80, 98),
              Indicator("complaints_per_1000", "Complaints per 1,000 connections per year",
                        "per 1,000 connections", "lower", 30, 5, 0, 10_000))),
    WorkArea("regulation", "Regulation and compliance",
             "Meet the regulatory framework: compliance, performance standards and reporting",
             ("Review the regulatory framework and the utility's obligations",
              "Compliance plan: water quality monitoring and laboratory practice",
              "Performance standards and key indicators reported to the regulator",
              "Tariff and service-level documentation for the regulator"),
             (_pct("water_quality_compliance_pct", "Water quality tests meeting the standards", "higher", 85, 99),
              _pct("indicators_reported_pct", "Regulatory performance indicators reported on time", "higher",
                   30, 100))),
)}


def area_of(area: str) -> WorkArea:
    """The table's entry for ``area``, or a generic one for a work area the round defines."""
    found = AREAS.get(area)
    if found is not None:
        return found
    title = area.replace("_", " ").replace("-", " ").strip().capitalize() or area
    return WorkArea(area, title, f"Improve the utility's practice in {title.lower()}",
                    (f"Diagnose current practice in {title.lower()} with the mentor's experts",
                     "Agree an action plan with measurable steps",
                     "Apply the practices in a pilot area and review them"),
                    (_pct(f"{area}_plan_done_pct", f"{title}: action plan steps completed", "higher", 0, 100),))


#: Every indicator of the table by id: the ids operators[].indicators may state.
INDICATORS: dict[str, Indicator] = {i.id: i for a in AREAS.values() for i in a.indicators}


def indicator(ident: str) -> Optional[Indicator]:
    """The table's indicator ``ident``, or the generic one of a round's own work area."""
    if ident in INDICATORS:
        return INDICATORS[ident]
    if ident.endswith("_plan_done_pct"):
        return area_of(ident[: -len("_plan_done_pct")]).indicators[0]
    return None


#: Share of the way from the baseline to good practice that a partnership of MAX_MONTHS
#: targets; a shorter one targets its months' part of it (12 months: a sixth).
REACH = 0.5
MAX_MONTHS = 36


def target(ind: Indicator, baseline: float, months: int) -> float:
    """The value to reach by the partnership's last month: REACH x months / MAX_MONTHS of the way
    from the baseline to good practice (none when the baseline is already there), rounded to
    one decimal; a generic action plan's target is always 100%."""
    if ind.id.endswith("_plan_done_pct"):
        return 100.0
    share = REACH * min(months, MAX_MONTHS) / MAX_MONTHS
    gap = ind.good - baseline
    if (gap <= 0 and ind.better == "higher") or (gap >= 0 and ind.better == "lower"):
        return round(baseline, 1)
    return round(baseline + share * gap, 1)
