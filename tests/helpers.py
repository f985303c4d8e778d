"""Shared builders and hypothesis strategies for tiny random instances."""

from __future__ import annotations

import itertools
import math
from typing import Any, Optional

from hypothesis import strategies as st

from wopmatch.models import Instance, parse_instance
from wopmatch.solver import SolveOptions, Tuning
from wopmatch.solver.api import solve_preferring
from wopmatch.solver.verify import independent_pair_table

AREAS = ["septage", "nrw", "climate"]


def op(ident: str, *, region: str = "asia", country: str = "PH", languages=("en",), mentor: Optional[dict] = None,
       mentee: Optional[dict] = None, location: Optional[tuple[float, float]] = None) -> dict[str, Any]:
    rec: dict[str, Any] = {"id": ident, "country": country, "region": region, "languages": list(languages)}
    if location is not None:
        rec["location"] = {"lat": location[0], "lon": location[1]}
    if mentor is not None:
        rec["mentor"] = mentor
    if mentee is not None:
        rec["mentee"] = mentee
    return rec


def solve_checked(inst: Instance, policy: str = "optimal", prefer=(), tuning: Tuning = Tuning(), **kw: Any):
    """Solve and insist the independent verifier accepted the solution. ``prefer``:
    (mentee, mentor) pairs to keep where possible, as keep_stable prefers a previous
    round's; ``kw``: SolveOptions."""
    s = solve_preferring(inst, "0" * 64, SolveOptions(policy=policy, **kw), prefer, tuning)
    assert s.verification is not None and s.verification.ok, s.verification
    return s


@st.composite
def tiny_instances(draw, max_ops: int = 6, donors: Optional[bool] = None,
                   interests: Optional[bool] = None) -> dict[str, Any]:
    n_ops = draw(st.integers(2, max_ops))
    levels = st.sampled_from([5, 3, 0, 4, 1, 0])  # hypothesis favours early entries
    ops = []
    for k in range(n_ops):
        # the first two are a mentor and a mentee, so most instances have pairs
        role = ["mentor", "mentee"][k] if k < 2 else draw(st.sampled_from(["mentee", "mentor", "mentee", "both"]))
        rec = op(
            f"U{k}",
            region=draw(st.sampled_from(["asia", "africa"])),
            country=draw(st.sampled_from(["PH", "KE"])),
            languages=draw(st.sampled_from([["en"], ["en"], ["en", "fr"], ["fr"]])),
            location=draw(st.one_of(st.none(), st.tuples(st.floats(-40, 40), st.floats(-100, 100)))),
        )
        if role in ("mentor", "both"):
            rec["mentor"] = {"capacity": draw(st.sampled_from([1, 2, 1, 0])),
                             "strengths": {a: draw(levels) for a in AREAS}}
        if role in ("mentee", "both"):
            rec["mentee"] = {"needs": {a: draw(levels) for a in AREAS},
                             "weight": draw(st.sampled_from([1.0, 1.0, 1.5, 2.0]))}
        ops.append(rec)
    raw: dict[str, Any] = {"work_areas": AREAS, "operators": ops}
    raw["rules"] = {
        "language": draw(st.sampled_from(["hard", "ignore"])),
        "region": draw(st.sampled_from(["any", "any", "same"])),
        "min_strength": draw(st.sampled_from([3, 1, 3, 4])),
        "min_score": draw(st.sampled_from([0.0, 0.0, 0.3])),
        "max_distance_km": draw(st.sampled_from([None, None, 5000.0])),
        "cross_region_penalty": draw(st.sampled_from([0.0, 0.1, 0.5])),
    }
    # durations: the fixed rule, or months from the issues each pair addresses (docs/format.md §3)
    raw["costs"] = {"duration_rule": draw(st.sampled_from(["fixed", "issues"])),
                    "priority_need": draw(st.sampled_from([3, 1, 4])),
                    "months_per_issue": draw(st.sampled_from([6, 0, 12])),
                    "duration_months": draw(st.sampled_from([24, 12, 30]))}
    with_donors = draw(st.booleans()) if donors is None else donors
    if with_donors:
        ds = []
        for x in range(draw(st.integers(1, 2))):
            d: dict[str, Any] = {"id": f"D{x}", "budget": draw(st.integers(0, 200_000))}
            if draw(st.booleans()):
                d["regions"] = [draw(st.sampled_from(["asia", "africa"]))]
            if draw(st.booleans()):
                d["work_areas"] = [draw(st.sampled_from(AREAS))]
            if draw(st.booleans()):
                d["max_grant"] = draw(st.integers(30_000, 60_000))
            if draw(st.booleans()):
                d["max_partnerships"] = draw(st.integers(0, 2))
            ds.append(d)
        raw["donors"] = ds
    mentee_ids = [o["id"] for o in ops if "mentee" in o]
    mentor_ids = [o["id"] for o in ops if "mentor" in o]
    pairs = [(a, b) for a in mentee_ids for b in mentor_ids if a != b]
    if pairs and draw(st.booleans()):
        raw["forbidden"] = [{"mentee": a, "mentor": b} for a, b in
                            draw(st.lists(st.sampled_from(pairs), max_size=2, unique=True))]
    if pairs and draw(st.integers(0, 3)) == 0:
        a, b = draw(st.sampled_from(pairs))
        if {"mentee": a, "mentor": b} not in raw.get("forbidden", []):
            pin: dict[str, Any] = {"mentee": a, "mentor": b}
            if raw.get("donors") and draw(st.booleans()):
                pin["donor"] = raw["donors"][0]["id"]
            raw["pinned"] = [pin]
    if pairs and (draw(st.integers(0, 3)) == 0 if interests is None else interests):  # a quarter of them
        # stated interests (docs/format.md §2): either side, vetoes included
        pinned = {(p["mentee"], p["mentor"]) for p in raw.get("pinned", [])}
        by_id = {o["id"]: o for o in ops}
        for a, b in draw(st.lists(st.sampled_from(pairs), max_size=4, unique=True)):
            who, whom = draw(st.sampled_from([(a, b), (b, a)]))
            level = draw(st.sampled_from([2, -1, 1]))
            stated = by_id[who].setdefault("interests", [])
            if not (level == -1 and {(a, b), (b, a)} & pinned) and all(it["operator"] != whom for it in stated):
                stated.append({"operator": whom, "level": level})
        raw["rules"]["interest_weight"] = draw(st.sampled_from([0.2, 1.0, 0.0]))
    return raw


def feasible_matchings(inst: Instance):
    """Every matching that respects capacities, budgets and pins: lists of
    (mentee, mentor, donor, weight, score, cost). Tiny instances only."""
    table = independent_pair_table(inst)
    ops = {o.id: o for o in inst.operators}
    pinned = {p.mentee: p for p in inst.pinned}
    has_donors = bool(inst.donors)
    options: list[list[Optional[tuple[str, Optional[str], float, int]]]] = []
    for o in inst.operators:
        if o.mentee is None:
            continue
        if o.id in pinned:
            p = pinned[o.id]
            t = table[(p.mentee, p.mentor)]
            options.append([(p.mentor, p.donor, t["score"], t["cost"])])
            continue
        choices: list[Optional[tuple[str, Optional[str], float, int]]] = [None]
        for (me, mo), t in table.items():
            if me != o.id or t["failed"]:
                continue
            if has_donors:
                choices += [(mo, d, t["score"], t["cost"]) for d in t["fundable"]]
            else:
                choices.append((mo, None, t["score"], t["cost"]))
        options.append(choices)
    mentee_ids = [o.id for o in inst.operators if o.mentee is not None]
    for combo in itertools.product(*options):
        load: dict[str, int] = {}
        spent: dict[str, int] = {}
        count: dict[str, int] = {}
        chosen = []
        for mid, ch in zip(mentee_ids, combo, strict=True):
            if ch is None:
                continue
            mentor, donor, score, c = ch
            load[mentor] = load.get(mentor, 0) + 1
            if donor is not None:
                spent[donor] = spent.get(donor, 0) + c
                count[donor] = count.get(donor, 0) + 1
            chosen.append((mid, mentor, donor, ops[mid].mentee.weight, score, c))  # type: ignore[union-attr]
        if any(n > ops[m].mentor.capacity for m, n in load.items()):  # type: ignore[union-attr]
            continue
        if any(spent.get(d.id, 0) > d.budget or (d.max_partnerships is not None
                                                  and count.get(d.id, 0) > d.max_partnerships)
               for d in inst.donors):
            continue
        yield chosen


def brute_force(inst: Instance) -> Optional[tuple[float, float, int]]:
    """Lexicographic optimum (coverage, quality, cost) by enumerating every
    matching, or None when the pinned partnerships cannot fit."""
    best = [(sum(w for *_, w, _, _ in m), sum(w * q for *_, w, q, _ in m), sum(c for *_, c in m))
            for m in feasible_matchings(inst)]
    if not best:
        return None
    top_cov = max(b[0] for b in best)
    at_cov = [b for b in best if math.isclose(b[0], top_cov, abs_tol=1e-9)]
    top_q = max(b[1] for b in at_cov)
    at_q = [b for b in at_cov if b[1] >= top_q - 1e-7]
    return top_cov, top_q, min(b[2] for b in at_q)


def brute_force_kept(inst: Instance, keep: set[tuple[str, str]]) -> Optional[tuple[float, float]]:
    """Maximum coverage, then the most weight of ``keep`` pairs kept: by enumeration."""
    best = [(sum(w for *_, w, _, _ in m), sum(w for me, mo, _, w, _, _ in m if (me, mo) in keep))
            for m in feasible_matchings(inst)]
    if not best:
        return None
    top_cov = max(b[0] for b in best)
    return top_cov, max(b[1] for b in best if math.isclose(b[0], top_cov, abs_tol=1e-9))


def assert_lexicographic_optimum(s, expected: Optional[tuple[float, float, int]]) -> None:
    """``s`` reaches the brute-force optimum ``expected`` (None: the pins cannot fit)."""
    if expected is None:
        assert s.status == "infeasible" and s.objective is None
        return
    assert s.status == "optimal"
    assert math.isclose(s.objective.coverage, expected[0], abs_tol=1e-9)
    assert math.isclose(s.objective.quality, expected[1], abs_tol=1e-6)
    assert s.objective.cost == expected[2]


def parse(raw: dict[str, Any]) -> Instance:
    return parse_instance(raw)


def base_instance() -> dict[str, Any]:
    """A valid two-operator instance that BAD_CASES break one way each."""
    return {"operators": [op("M", mentor={"capacity": 2, "strengths": {"septage": 5}}),
                          op("A", mentee={"needs": {"septage": 4}})],
            "donors": [{"id": "D", "budget": 100}], "rules": {}}


#: (mutation of base_instance(), the path the problem must name, words in its message)
BAD_CASES = [
    (lambda r: r["donors"][0].update(budget=10**30), "donors[0].budget", "must be at most 1e+15, got 10000"),
    (lambda r: r["operators"][0]["mentor"].update(capacity=10**20), "operators[0].mentor.capacity",
     "must be at most 1e+06"),
    (lambda r: r.update(costs={"per_km": float("inf")}), "costs.per_km", "finite number"),
    (lambda r: r["operators"][0].update(location={"lat": float("nan"), "lon": 0}), "operators[0].location.lat",
     "finite number"),
    (lambda r: r["operators"].append(op("A", mentee={"needs": {"septage": 4}})), "operators[2].id", "duplicate id 'A'"),
    (lambda r: r["operators"][0]["mentor"]["strengths"].update(sewers=4), "operators[0].mentor.strengths.sewers",
     "unknown work area"),
    (lambda r: r["operators"][1]["mentee"]["needs"].update(septage=6), "operators[1].mentee.needs.septage",
     "must be at most 5, got 6"),
    (lambda r: r["operators"][1]["mentee"]["needs"].update(septage=-1), "operators[1].mentee.needs.septage",
     "must be at least 0, got -1"),
    (lambda r: r["operators"][0].update(languages=[]), "operators[0].languages", "must not be empty"),
    (lambda r: r["operators"][0].update(location={"lat": 91, "lon": 0}), "operators[0].location.lat", "90"),
    (lambda r: r["operators"][0].update(location={"lat": 0, "lon": -181}), "operators[0].location.lon", "-180"),
    (lambda r: r["operators"][0]["mentor"].update(capacity=-1), "operators[0].mentor.capacity",
     "must be at least 0, got -1"),
    (lambda r: r["donors"][0].update(budget=-5), "donors[0].budget", "must be at least 0, got -5"),
    (lambda r: r["donors"].append({"id": "D", "budget": 1}), "donors[1].id", "duplicate id 'D'"),
    (lambda r: r["donors"][0].update(work_areas=["x"]), "donors[0].work_areas[0]", "unknown work area"),
    (lambda r: r.update(pinned=[{"mentee": "ZZ", "mentor": "M"}]), "pinned[0].mentee", "unknown operator 'ZZ'"),
    (lambda r: r.update(pinned=[{"mentee": "M", "mentor": "A"}]), "pinned[0].mentee", "no mentee profile"),
    (lambda r: r.update(pinned=[{"mentee": "A", "mentor": "M", "donor": "Q"}]), "pinned[0].donor",
     "unknown donor 'Q'"),
    (lambda r: r.update(forbidden=[{"mentee": "A", "mentor": "A"}]), "forbidden[0].mentor", "no mentor profile"),
    (lambda r: r["operators"][0].update(country="Philippines"), "operators[0].country", "did you mean 'PH'"),
    (lambda r: r["operators"][0].update(country="XK"), "operators[0].country", "not an ISO 3166-1"),
    (lambda r: r["operators"][0].update(languages=["en", "French"]), "operators[0].languages",
     "did you mean 'fr'"),
    (lambda r: r["operators"][0].update(languages=["eng"]), "operators[0].languages", "write 'en'"),
    (lambda r: r["operators"][0].update(colour="blue"), "operators[0].colour", "unknown field 'colour'"),
    (lambda r: r.update(format="wopmatch.instance/2"), "format", "wopmatch.instance/1"),
    (lambda r: r["rules"].update(language="soft"), "rules.language", "must be one of 'hard' or 'ignore', got 'soft'"),
    (lambda r: r.update(work_areas=[f"a{i}" for i in range(63)]), "work_areas", "at most 62 entries"),
    (lambda r: r.update(work_areas=["septage", "septage"]), "work_areas", "listed 2 times"),
    (lambda r: r["operators"][1]["mentee"].update(weight=0), "operators[1].mentee.weight",
     "must be more than 0, got 0"),
    (lambda r: r["donors"][0].update(budget="150,000"), "donors[0].budget",
     "without thousands separators (150000)"),
    (lambda r: r.update(costs={"per_km": "0,5"}), "costs.per_km", "decimals with a point (0.5)"),
]
