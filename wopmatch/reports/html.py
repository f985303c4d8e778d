"""``wopmatch report``: one self-contained HTML file for a steering committee.

Everything is inline (styles, SVG charts, the world map's land outline), so
the file opens from a USB stick with no network. Sections: headline figures,
a world map of partnerships, coverage by region and by work area, donor
budget use, every partnership with the reasons for it (and its runner-up
mentors when the solution lists them), the changes since the previous round
(solve --previous), and every unmatched mentee with its reason. Text from the instance is escaped by Jinja2.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from importlib import resources
from typing import Any, Optional

import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from ..models.instance import Instance, instance_warnings
from ..models.solution import Solution
from ..models.vocab import country_name, language_name
from ..solver import pair_facts
from .plans import page_name

#: Colours: matched mentee, unmatched mentee, mentor, partnership line.
MENTEE, UNMATCHED, MENTOR, LINK = "#1f6feb", "#d9480f", "#2f9e44", "#1f6feb"


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    total: float
    note: str = ""
    colour: Optional[str] = None  # the bar's fill (a donor's colour), else the chart's


#: One colour per donor, in the instance's donor order, in every chart, table and list of
#: the report (colour-blind-safe: Okabe and Ito's palette, then repeated).
DONOR_COLOURS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000")


def donor_colours(instance: Instance) -> dict[str, str]:
    return {d.id: DONOR_COLOURS[k % len(DONOR_COLOURS)] for k, d in enumerate(instance.donors)}


def render_report(instance: Instance, solution: Solution, verified: list[str],
                  instance_label: str = "", sha_matches: Optional[bool] = None, plans: Optional[str] = None,
                  made: Optional[datetime.date] = None) -> str:
    """The report's HTML. ``verified``: the verifier's violations (empty = valid); ``plans``:
    the folder (a link relative to the report) that holds the work plans, linked from each
    partnership (none when None); ``made``: the date it says it was made (default today)."""
    env = Environment(loader=PackageLoader("wopmatch.reports", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    env.filters["money"] = lambda v: "-" if v is None else f"{int(v):,}"
    env.filters["pct"] = lambda v: "-" if v is None else f"{100 * v:.1f}%"
    env.filters["num"] = lambda v, d=2: "-" if v is None else f"{v:,.{d}f}"
    env.filters["country"] = country_name
    ops = {op.id: op for op in instance.operators}
    donors = {d.id: d for d in instance.donors}
    facts = pair_facts(instance)
    agreed = {(x.mentee, x.mentor) for x in (solution.agreement.kept if solution.agreement else [])}
    mentees = [op for op in instance.operators if op.mentee is not None]
    matched = {p.mentee for p in solution.partnerships}

    rows = []
    for p in solution.partnerships:
        me, mo = ops[p.mentee], ops[p.mentor]
        f = facts(p.mentee, p.mentor)
        rows.append({"p": p, "mentee": me, "mentor": mo, "shared": sorted(f.shared),
                     "distance": f.distance, "donor": donors.get(p.donor) if p.donor else None,
                     "why": _why(p, f, donors, me, mo, agreed)})
    unmatched = [{"u": u, "op": ops.get(u.mentee)} for u in solution.unmatched]

    by_region: dict[str, list[int]] = {}
    for op in mentees:
        by_region.setdefault(op.region, [0, 0])
        by_region[op.region][1] += 1
        by_region[op.region][0] += op.id in matched
    regions = [Bar(r, m, t, f"{m} of {t}") for r, (m, t) in sorted(by_region.items())]
    areas = []
    for area in instance.work_areas:  # a mentee counts in the areas of its highest need (its priorities)
        needing = [op for op in mentees if op.mentee and op.mentee.needs.get(area, 0) >= 1
                   and op.mentee.needs[area] == max(op.mentee.needs.values())]
        got = sum(op.id in matched for op in needing)
        if needing:  # an area no mentee puts first has no bar ("0 of 0" says nothing)
            areas.append(Bar(area.replace("_", " "), got, len(needing), f"{got} of {len(needing)}"))
    colours = donor_colours(instance)
    donor_bars = [Bar(f"{_donor_name(donors, d.id)} ({d.partnerships})", d.committed, d.budget,
                      f"{d.committed:,} of {d.budget:,}", colours.get(d.id)) for d in solution.donors]

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
        warnings=[w.message for w in instance_warnings(instance)], donor_colours=colours,
        donor_names={d.id: _donor_name(donors, d.id) for d in instance.donors},
        plans=None if plans is None else plans.rstrip("/"), page_name=page_name,
        made=_day(made or datetime.date.today()), start=_month(instance.start),
    )


#: Month names in English whatever the machine's locale (the report is in English).
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
               "November", "December")


def _day(d: datetime.date) -> str:
    return f"{d.day} {MONTH_NAMES[d.month - 1]} {d.year}"


def _month(start: Optional[str]) -> Optional[str]:
    """``2027-03`` -> ``March 2027`` (None stays None)."""
    if start is None:
        return None
    year, month = (int(x) for x in start.split("-"))
    return f"{MONTH_NAMES[month - 1]} {year}"


def _donor_name(donors: dict[str, Any], donor_id: str) -> str:
    d = donors.get(donor_id)
    return d.name if d is not None and d.name else donor_id


def _focus(p: Any, mentee: Any, mentor: Any) -> str:
    """The pair's focus areas, strongest first (the mentee's need times the mentor's
    strength): the first two with their levels, then how many more."""
    need, strength = mentee.mentee.needs, mentor.mentor.strengths
    ranked = sorted(p.focus, key=lambda a: (-need.get(a, 0) * strength.get(a, 0), -need.get(a, 0), a))
    shown = [f"{a.replace('_', ' ')} (need {need.get(a, 0)}, strength {strength.get(a, 0)})" for a in ranked[:2]]
    more = f" and {len(ranked) - 2} more" if len(ranked) > 2 else ""
    return "for " + ", ".join(shown) + more


def _why(p: Any, f: dict[str, Any], donors: dict[str, Any], mentee: Any, mentor: Any,
         agreed: set[tuple[str, str]]) -> str:
    parts = []
    parts.append(f"speak {', '.join(sorted(language_name(c) for c in f.shared))}" if f.shared
                 else "no shared language")
    if p.focus:
        parts.append(_focus(p, mentee, mentor))
    parts.append(f"{f.distance:,.0f} km" + ("" if f.same_region else ", across regions"))
    if p.donor:
        parts.append(f"funded by {_donor_name(donors, p.donor)}")
    if p.pinned:
        parts.append("accepted by both (agreement status)" if (p.mentee, p.mentor) in agreed
                     else "pinned by the facilitator")
    return "; ".join(parts)


def _land_path() -> str:
    return resources.files("wopmatch.reports").joinpath("land-110m.path").read_text().strip()


#: The map's crop (degrees): no empty polar bands, and room for a dot at the date line.
MAP_LON = (-184.0, 184.0)
MAP_LAT = (-60.0, 84.0)
#: The inset's window (degrees) and how many operators in it make the main map too crowded.
INSET_SIZE = (40.0, 24.0)
INSET_MIN = 8
#: Mentor ids are written on a map (or inset) of at most this many mentors.
MAX_LABELS = 400


def world_map(instance: Instance, solution: Solution) -> Markup:
    """An equirectangular SVG map (x = lon + 180, y = 90 - lat) cropped to inhabited
    latitudes: land, a line per partnership from mentor to mentee, a dot per located
    operator and each mentor's id (up to MAX_LABELS mentors). Where operators crowd (the densest window of
    INSET_SIZE degrees holds at least INSET_MIN of them, as European mentors do), that
    window is drawn again, enlarged, in an inset with its own labels."""
    ops = {op.id: op for op in instance.operators}
    matched = {p.mentee for p in solution.partnerships}
    points = {op.id: (op.location.lon + 180, 90 - op.location.lat) for op in instance.operators
              if op.location is not None and (op.mentee is not None or op.mentor is not None)}
    lines = []
    for p in solution.partnerships:
        if p.mentor not in points or p.mentee not in points:
            continue
        (x1, y1), (x2, y2) = points[p.mentor], points[p.mentee]
        # a gentle arc, bowed to the left of the mentor -> mentee direction
        mx, my = (x1 + x2) / 2 - (y2 - y1) * 0.15, (y1 + y2) / 2 + (x2 - x1) * 0.15
        title = escape(f"{p.mentor} mentors {p.mentee}")
        lines.append(f'<path class="link" d="M{x1:.2f},{y1:.2f}Q{mx:.2f},{my:.2f} {x2:.2f},{y2:.2f}">'
                     f"<title>{title}</title></path>")
    dots = []
    mentors = []
    for op_id, (x, y) in points.items():
        op = ops[op_id]
        cls = ("mentee" if op_id in matched else "unmatched") if op.mentee is not None else "mentor"
        if op.mentor is not None:
            mentors.append((op_id, x, y))
        title = escape(f"{op.name or op.id} ({op.country}): {cls}" + (", mentor" if op.mentor and op.mentee else ""))
        dots.append(f'<circle class="{cls}{" mentor-ring" if op.mentor and op.mentee else ""}" cx="{x:.2f}" '
                    f'cy="{y:.2f}" r="1.1"><title>{title}</title></circle>')
    missing = sum(1 for op in instance.operators if op.location is None and (op.mentee or op.mentor))
    x0, x1 = MAP_LON[0] + 180, MAP_LON[1] + 180
    y0, y1 = 90 - MAP_LAT[1], 90 - MAP_LAT[0]
    width, height = x1 - x0, y1 - y0
    note = f'<text x="{x0 + 3}" y="{y1 - 3}" class="note">{missing} operator(s) without a location are not ' \
        f"drawn</text>" if missing else ""
    body = '<use href="#world-land" class="land"/>' f'<g class="links">{"".join(lines)}</g>' \
           f'<g class="dots">{"".join(dots)}</g>'
    window = _crowded(points)
    labels = _labels([(i, x, y) for i, x, y in mentors
                      if window is None or not _inside(x, y, window)], 2.4, (x0, y0, width, height))
    inset = ""
    if window is not None:
        wx, wy, ww, wh = window
        scale = 2.0
        iw, ih = ww * scale, wh * scale
        ix, iy = x0 + 2, y1 - ih - (9 if missing else 2)  # bottom left: the South Pacific
        inset_labels = _labels([(i, x, y) for i, x, y in mentors if _inside(x, y, window)], 2.4 / scale, window)
        small_body = body.replace('r="1.1"', f'r="{1.1 / scale * 1.25:.2f}"')  # dots a little larger
        inset = (f'<rect class="inset-area" x="{wx:.2f}" y="{wy:.2f}" width="{ww:.2f}" height="{wh:.2f}"/>'
                 f'<rect class="inset-frame" x="{ix:.2f}" y="{iy:.2f}" width="{iw:.2f}" height="{ih:.2f}"/>'
                 f'<svg x="{ix:.2f}" y="{iy:.2f}" width="{iw:.2f}" height="{ih:.2f}" '
                 f'viewBox="{wx:.2f} {wy:.2f} {ww:.2f} {wh:.2f}" class="inset">'
                 f'<rect x="{wx:.2f}" y="{wy:.2f}" width="{ww:.2f}" height="{wh:.2f}" class="sea"/>'
                 f'{small_body}'
                 f'<g class="labels">{inset_labels}</g></svg>'
                 f'<text x="{ix + 1:.2f}" y="{iy - 1:.2f}" class="note">the crowded area, enlarged</text>')
    svg = (f'<svg id="world-map" viewBox="{x0} {y0} {width} {height}" role="img" '
           'aria-label="World map of partnerships" xmlns="http://www.w3.org/2000/svg">'
           f'<defs><path id="world-land" d="{_land_path()}"/></defs>'
           f'<rect x="{x0}" y="{y0}" width="{width}" height="{height}" class="sea"/>'
           f'{body}<g class="labels">{labels}</g>{inset}{note}</svg>')
    return Markup(svg)


def _inside(x: float, y: float, window: tuple[float, float, float, float]) -> bool:
    wx, wy, ww, wh = window
    return wx <= x <= wx + ww and wy <= y <= wy + wh


def _crowded(points: dict[str, tuple[float, float]]) -> Optional[tuple[float, float, float, float]]:
    """The window of INSET_SIZE degrees, on a grid of quarter windows, holding the most
    operators, when they are at least INSET_MIN (ties: the westernmost, then
    northernmost), in map units, with a margin. One histogram and its sliding sums, so a
    round of any size costs the same."""
    if not points:
        return None
    ww, wh = INSET_SIZE
    cw, ch = ww / 4, wh / 4
    nx, ny = int(np.ceil(360 / cw)), int(np.ceil(180 / ch))
    xs, ys = np.array(list(points.values()), np.float64).T
    counts, _, _ = np.histogram2d(xs, ys, bins=[nx, ny], range=[[0, nx * cw], [0, ny * ch]])
    total = np.pad(counts.cumsum(0).cumsum(1), ((1, 0), (1, 0)))  # sums of every 4 x 4 block of cells
    windows = total[4:, 4:] - total[:-4, 4:] - total[4:, :-4] + total[:-4, :-4]
    i, j = np.unravel_index(int(np.argmax(windows)), windows.shape)
    if windows[i, j] < INSET_MIN:
        return None
    left, top = i * cw, j * ch  # a margin, so that dots on the edge are drawn whole
    return left - ww * 0.08, top - wh * 0.08, ww * 1.16, wh * 1.16


def _labels(mentors: list[tuple[str, float, float]], size: float,
            bounds: tuple[float, float, float, float]) -> str:
    """Each mentor's id beside its dot, placed inside ``bounds`` (x, y, width, height) where
    it overlaps no label placed before (right, left, above, below); an id with no free
    place is left to the dot's tooltip; none beyond MAX_LABELS mentors."""
    if len(mentors) > MAX_LABELS:  # each is checked against those placed: a large round's map is dots only
        return ""
    placed: list[tuple[float, float, float, float]] = []
    out = []
    for ident, x, y in sorted(mentors, key=lambda m: (m[2], m[1])):
        w, h = len(ident) * size * 0.58, size
        for dx, dy, anchor in ((size * 0.7, size * 0.35, "start"), (-size * 0.7, size * 0.35, "end"),
                               (0, -size * 0.6, "middle"), (0, size * 1.3, "middle")):
            left = x + dx - (w if anchor == "end" else w / 2 if anchor == "middle" else 0)
            box = (left, y + dy - h, left + w, y + dy)
            if box[0] < bounds[0] or box[2] > bounds[0] + bounds[2] or box[1] < bounds[1] or \
                    box[3] > bounds[1] + bounds[3]:
                continue
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
                placed.append(box)
                out.append(f'<text x="{x + dx:.2f}" y="{y + dy:.2f}" text-anchor="{anchor}" '
                           f'style="font-size:{size:.2f}px;stroke-width:{size / 5:.2f}px">{escape(ident)}</text>')
                break
    return "".join(out)


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
        fill = f' style="fill:{b.colour}"' if b.colour else ""
        out.append(f'<rect x="{label_w}" y="{y + 4}" width="{bar_w * min(share, 1.0):.1f}" height="16" '
                   f'class="fill"{fill}><title>{escape(b.note)}</title></rect>')
        out.append(f'<text x="{label_w + bar_w + 6}" y="{y + 16}" class="value">'
                   f'{escape(b.note)} &#183; {100 * share:.0f}%</text>')
    out.append("</svg>")
    return Markup("".join(out))
