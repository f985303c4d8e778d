"""``wopmatch report``: one self-contained HTML file for a steering committee.

Everything is inline (styles, SVG charts, the world map's land outline), so
the file opens from a USB stick with no network. Sections: headline figures,
a world map of partnerships, coverage by region and by work area, donor
budget use, every partnership with the reasons for it (and its runner-up
mentors when the solution lists them), the changes since the previous round
(solve --previous), and every unmatched mentee with its reason. Text from the instance is escaped by Jinja2.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any, Optional

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from ..models.instance import Instance, instance_warnings
from ..models.solution import Solution
from ..solver import pair_facts

#: Colours: matched mentee, unmatched mentee, mentor, partnership line.
MENTEE, UNMATCHED, MENTOR, LINK = "#1f6feb", "#d9480f", "#2f9e44", "#1f6feb"


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    total: float
    note: str = ""


def render_report(instance: Instance, solution: Solution, verified: list[str],
                  instance_label: str = "", sha_matches: Optional[bool] = None) -> str:
    """The report's HTML. ``verified``: the verifier's violations (empty = valid)."""
    env = Environment(loader=PackageLoader("wopmatch.reports", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    env.filters["money"] = lambda v: "-" if v is None else f"{int(v):,}"
    env.filters["pct"] = lambda v: "-" if v is None else f"{100 * v:.1f}%"
    env.filters["num"] = lambda v, d=2: "-" if v is None else f"{v:,.{d}f}"
    ops = {op.id: op for op in instance.operators}
    donors = {d.id: d for d in instance.donors}
    facts = pair_facts(instance)
    mentees = [op for op in instance.operators if op.mentee is not None]
    matched = {p.mentee for p in solution.partnerships}

    rows = []
    for p in solution.partnerships:
        me, mo = ops[p.mentee], ops[p.mentor]
        f = facts(p.mentee, p.mentor)
        rows.append({"p": p, "mentee": me, "mentor": mo, "shared": sorted(f.shared),
                     "distance": f.distance, "donor": donors.get(p.donor) if p.donor else None,
                     "why": _why(p, f, donors)})
    unmatched = [{"u": u, "op": ops.get(u.mentee)} for u in solution.unmatched]

    by_region: dict[str, list[int]] = {}
    for op in mentees:
        by_region.setdefault(op.region, [0, 0])
        by_region[op.region][1] += 1
        by_region[op.region][0] += op.id in matched
    regions = [Bar(r, m, t, f"{m} of {t}") for r, (m, t) in sorted(by_region.items())]
    areas = []
    for area in instance.work_areas:
        needing = [op for op in mentees if op.mentee and op.mentee.needs.get(area, 0) >= 1]
        got = sum(op.id in matched for op in needing)
        areas.append(Bar(area.replace("_", " "), got, len(needing), f"{got} of {len(needing)}"))
    donor_bars = [Bar(f"{d.id} ({d.partnerships})", d.committed, d.budget, f"{d.committed:,} of {d.budget:,}")
                  for d in solution.donors]

    n_mentors = sum(op.mentor is not None for op in instance.operators)
    used_mentors = len({p.mentor for p in solution.partnerships})
    headline = {
        "matched": len(matched), "mentees": len(mentees),
        "rate": len(matched) / len(mentees) if mentees else None,
        "coverage": solution.objective.coverage if solution.objective else None,
        "quality": solution.objective.quality if solution.objective else None,
        "cost": solution.objective.cost if solution.objective else None,
        "budget": sum(d.budget for d in solution.donors), "committed": sum(d.committed for d in solution.donors),
        "mentors_used": used_mentors, "mentors": n_mentors,
    }
    changes: dict[str, list[Any]] = {k: [] for k in ("kept", "moved", "ended", "new")}
    for c in solution.round.changes if solution.round else []:
        changes[c.change].append(c)
    alternates = None if solution.alternates is None else {a.mentee: a.alternates for a in solution.alternates}
    return env.get_template("report.html.j2").render(
        changes=changes, alternates=alternates,
        instance=instance, solution=solution, label=instance_label, headline=headline, rows=rows,
        unmatched=unmatched, map_svg=world_map(instance, solution), region_svg=bar_chart(regions, "mentees"),
        area_svg=bar_chart(areas, "mentees"), donor_svg=bar_chart(donor_bars, instance.currency) if donor_bars
        else None, violations=verified, sha_matches=sha_matches, colours={"mentee": MENTEE, "unmatched": UNMATCHED,
                                                                          "mentor": MENTOR},
        warnings=[w.message for w in instance_warnings(instance)],
    )


def _why(p: Any, f: dict[str, Any], donors: dict[str, Any]) -> str:
    parts = []
    parts.append(f"shares {', '.join(sorted(f.shared))}" if f.shared else "no shared language")
    if p.focus:
        parts.append(f"mentor strong in {', '.join(a.replace('_', ' ') for a in p.focus)}")
    parts.append(f"{f.distance:,.0f} km" + ("" if f.same_region else ", across regions"))
    if p.donor:
        d = donors.get(p.donor)
        parts.append(f"funded by {d.name if d is not None and d.name else p.donor}")
    if p.pinned:
        parts.append("pinned by the facilitator")
    return "; ".join(parts)


def _land_path() -> str:
    return resources.files("wopmatch.reports").joinpath("land-110m.path").read_text().strip()


def world_map(instance: Instance, solution: Solution) -> Markup:
    """An equirectangular SVG map (x = lon + 180, y = 90 - lat): land, a line per
    partnership from mentor to mentee, and a dot per located operator."""
    ops = {op.id: op for op in instance.operators}
    matched = {p.mentee for p in solution.partnerships}
    lines, dots = [], []
    for p in solution.partnerships:
        a, b = ops[p.mentor].location, ops[p.mentee].location
        if a is None or b is None:
            continue
        x1, y1, x2, y2 = a.lon + 180, 90 - a.lat, b.lon + 180, 90 - b.lat
        # a gentle arc, bowed to the left of the mentor -> mentee direction
        mx, my = (x1 + x2) / 2 - (y2 - y1) * 0.15, (y1 + y2) / 2 + (x2 - x1) * 0.15
        title = escape(f"{p.mentor} mentors {p.mentee}")
        lines.append(f'<path class="link" d="M{x1:.2f},{y1:.2f}Q{mx:.2f},{my:.2f} {x2:.2f},{y2:.2f}">'
                     f"<title>{title}</title></path>")
    missing = 0
    for op in instance.operators:
        if op.location is None:
            missing += op.mentee is not None or op.mentor is not None
            continue
        x, y = op.location.lon + 180, 90 - op.location.lat
        if op.mentee is not None:
            cls = "mentee" if op.id in matched else "unmatched"
        elif op.mentor is not None:
            cls = "mentor"
        else:
            continue
        title = escape(f"{op.name or op.id} ({op.country}): {cls}")
        dots.append(f'<circle class="{cls}" cx="{x:.2f}" cy="{y:.2f}" r="1.1"><title>{title}</title></circle>')
    note = f'<text x="4" y="176" class="note">{missing} operator(s) without a location are not drawn</text>' \
        if missing else ""
    svg = ('<svg id="world-map" viewBox="0 0 360 180" role="img" aria-label="World map of partnerships" '
           'xmlns="http://www.w3.org/2000/svg">'
           '<rect width="360" height="180" class="sea"/>'
           f'<path class="land" d="{_land_path()}"/>'
           f'<g class="links">{"".join(lines)}</g><g class="dots">{"".join(dots)}</g>{note}</svg>')
    return Markup(svg)


def bar_chart(bars: list[Bar], unit: str, width: int = 560) -> Markup:
    """Horizontal bars of value against total, one row per bar, labelled."""
    row, label_w, bar_w = 26, 170, width - 170 - 190
    height = row * len(bars) + 8
    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" style="width:100%;max-width:{width}px" role="img" '
           f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(unit)}">']
    for k, b in enumerate(bars):
        y = 4 + k * row
        share = b.value / b.total if b.total else 0.0
        out.append(f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end" class="label">{escape(b.label)}</text>')
        out.append(f'<rect x="{label_w}" y="{y + 4}" width="{bar_w}" height="16" class="track"/>')
        out.append(f'<rect x="{label_w}" y="{y + 4}" width="{bar_w * min(share, 1.0):.1f}" height="16" '
                   f'class="fill"><title>{escape(b.note)}</title></rect>')
        out.append(f'<text x="{label_w + bar_w + 6}" y="{y + 16}" class="value">'
                   f'{escape(b.note)} &#183; {100 * share:.0f}%</text>')
    out.append("</svg>")
    return Markup("".join(out))
