"""Synthetic WOP rounds for demos, tests and benchmarks.

Shapes follow docs/generator.md (from the public figures in DOMAIN.md): regional
shares, 1-3 languages per utility, 2-3 priority needs per mentee (lower levels
elsewhere), 1-4 strengths per mentor, capacities 1-5, a share of dual-role utilities, and donors with region,
country and work-area eligibility whose budgets cover a ``tightness`` fraction
of what funding every mentee would cost. The output depends only on the
parameters: the same seed gives the same bytes.
"""

from __future__ import annotations

import json
import math
from typing import Any, Optional

import numpy as np

from .models.instance import DEFAULT_WORK_AREAS, INSTANCE_FORMAT, Instance, parse_instance

# (ISO code, region, official/working languages, lat, lon)
COUNTRIES: tuple[tuple[str, str, tuple[str, ...], float, float], ...] = (
    ("PH", "asia-pacific", ("en", "fil"), 12.9, 121.8),
    ("VN", "asia-pacific", ("vi",), 14.1, 108.3),
    ("ID", "asia-pacific", ("id",), -2.5, 118.0),
    ("KH", "asia-pacific", ("km",), 12.6, 104.9),
    ("IN", "asia-pacific", ("hi", "en"), 21.0, 78.0),
    ("BD", "asia-pacific", ("bn",), 23.7, 90.4),
    ("LK", "asia-pacific", ("si", "ta", "en"), 7.9, 80.8),
    ("FJ", "asia-pacific", ("en",), -17.7, 178.1),
    ("PG", "asia-pacific", ("en", "tpi"), -6.3, 143.9),
    ("MN", "asia-pacific", ("mn",), 46.9, 103.8),
    ("KE", "sub-saharan-africa", ("en", "sw"), 0.0, 37.9),
    ("UG", "sub-saharan-africa", ("en", "sw"), 1.4, 32.3),
    ("TZ", "sub-saharan-africa", ("sw", "en"), -6.4, 34.9),
    ("ZM", "sub-saharan-africa", ("en",), -13.1, 27.8),
    ("GH", "sub-saharan-africa", ("en",), 7.9, -1.0),
    ("NG", "sub-saharan-africa", ("en",), 9.1, 8.7),
    ("SN", "sub-saharan-africa", ("fr",), 14.5, -14.5),
    ("CI", "sub-saharan-africa", ("fr",), 7.5, -5.5),
    ("BF", "sub-saharan-africa", ("fr",), 12.2, -1.6),
    ("CM", "sub-saharan-africa", ("fr", "en"), 7.4, 12.4),
    ("MZ", "sub-saharan-africa", ("pt",), -18.7, 35.5),
    ("ZA", "sub-saharan-africa", ("en", "zu", "af"), -30.6, 22.9),
    ("PE", "latin-america", ("es",), -9.2, -75.0),
    ("CO", "latin-america", ("es",), 4.6, -74.3),
    ("BO", "latin-america", ("es",), -16.3, -63.6),
    ("HN", "latin-america", ("es",), 15.2, -86.2),
    ("MX", "latin-america", ("es",), 23.6, -102.6),
    ("BR", "latin-america", ("pt",), -14.2, -51.9),
    ("HT", "latin-america", ("fr", "ht"), 18.97, -72.3),
    ("JO", "mena", ("ar",), 30.6, 36.2),
    ("MA", "mena", ("ar", "fr"), 31.8, -7.1),
    ("TN", "mena", ("ar", "fr"), 33.9, 9.5),
    ("EG", "mena", ("ar",), 26.8, 30.8),
    ("LB", "mena", ("ar", "fr", "en"), 33.9, 35.9),
    ("NL", "europe", ("nl", "en"), 52.1, 5.3),
    ("DE", "europe", ("de", "en"), 51.2, 10.4),
    ("FR", "europe", ("fr",), 46.2, 2.2),
    ("ES", "europe", ("es",), 40.5, -3.7),
    ("PT", "europe", ("pt",), 39.4, -8.2),
)
REGIONS = ("asia-pacific", "sub-saharan-africa", "latin-america", "mena", "europe")
MENTEE_REGION_SHARE = (0.35, 0.30, 0.15, 0.10, 0.10)
MENTOR_REGION_SHARE = (0.30, 0.15, 0.15, 0.10, 0.30)  # Europe's utilities mostly mentor
#: Mean cash cost of one partnership used to size budgets (USD, default costs).
TYPICAL_COST = 45_000
#: A mentee's level in an area that is not one of its priorities: 0, 1 or 2 with these shares.
LOW_NEED_SHARE = (0.4, 0.35, 0.25)
#: How mentees' needs are drawn (docs/generator.md): "priorities", two or three priority
#: needs and lower levels elsewhere, durations from the issues addressed; "legacy", the
#: rounds of wopmatch 0.1 (one to three needs at level 2-5, one fixed duration), byte for byte.
NEEDS_PROFILES = ("priorities", "legacy")


def generate(
    mentees: int,
    mentors: int,
    donors: int = 0,
    seed: int = 0,
    tightness: float = 0.4,
    name: Optional[str] = None,
    dual_share: float = 0.3,
    work_areas: tuple[str, ...] = DEFAULT_WORK_AREAS,
    needs: str = "priorities",
    interests: int = 0,
) -> dict[str, Any]:
    """A JSON-ready instance dict. ``tightness`` = total donor budget / cost of funding
    every mentee at a typical cost; ``dual_share`` = share of mentors that also
    take a mentee profile; ``interests``: interests each operator states (_interests)."""
    raw = _draw(mentees, mentors, donors, seed, tightness, name, dual_share, work_areas, needs, interests)
    parse_instance(raw)  # a generator bug must not produce an invalid file
    return raw


def generate_instance(mentees: int, mentors: int, donors: int = 0, seed: int = 0, tightness: float = 0.4,
                      name: Optional[str] = None, dual_share: float = 0.3, needs: str = "priorities",
                      interests: int = 0) -> Instance:
    """The same round as ``generate``, validated once into an Instance: what ``wopmatch
    generate`` and ``wopmatch.generate`` give (and ``wopmatch.write`` writes as JSON)."""
    return parse_instance(_draw(mentees, mentors, donors, seed, tightness, name, dual_share, DEFAULT_WORK_AREAS,
                                needs, interests))


def _draw(mentees: int, mentors: int, donors: int, seed: int, tightness: float, name: Optional[str],
          dual_share: float, work_areas: tuple[str, ...], needs: str, interests: int = 0) -> dict[str, Any]:
    if mentees < 0 or mentors < 0 or donors < 0 or interests < 0:
        raise ValueError("mentees, mentors, donors and interests must be >= 0")
    if not 0 < tightness:
        raise ValueError("tightness must be > 0")
    if needs not in NEEDS_PROFILES:
        raise ValueError(f"needs must be one of {', '.join(NEEDS_PROFILES)}, got {needs!r}")
    rng = np.random.default_rng(seed)
    dual = min(mentees, mentors, int(round(dual_share * mentors)))
    n_ops = mentees + mentors - dual
    by_region = {r: [c for c in COUNTRIES if c[1] == r] for r in REGIONS}
    areas = list(work_areas)
    operators: list[dict[str, Any]] = []
    for k in range(n_ops):
        is_mentor = k < mentors
        is_mentee = k >= mentors - dual
        share = MENTOR_REGION_SHARE if is_mentor else MENTEE_REGION_SHARE
        region = REGIONS[int(rng.choice(len(REGIONS), p=share))]
        cc, _, langs, lat, lon = by_region[region][int(rng.integers(len(by_region[region])))]
        languages = list(langs[: 1 + int(rng.integers(min(2, len(langs))))])
        if "en" not in languages and rng.random() < (0.6 if is_mentor else 0.35):
            languages.append("en")
        op: dict[str, Any] = {
            "id": f"{cc}-{k + 1:06d}",
            "name": f"Synthetic utility {cc}-{k + 1}",
            "country": cc,
            "region": region,
            "languages": languages[:3],
            "location": {"lat": round(float(np.clip(lat + rng.normal(0, 2.0), -89, 89)), 4),
                         "lon": round(float(((lon + rng.normal(0, 2.5)) + 180) % 360 - 180), 4)},
        }
        if is_mentor:
            strong = rng.choice(len(areas), size=int(rng.integers(1, 5)), replace=False)
            strengths = {areas[a]: int(rng.integers(3, 6)) for a in sorted(strong)}
            for a in range(len(areas)):
                if areas[a] not in strengths and rng.random() < 0.3:
                    strengths[areas[a]] = int(rng.integers(1, 3))
            op["mentor"] = {"capacity": int(rng.integers(1, 6)),
                            "strengths": {a: strengths[a] for a in areas if a in strengths}}
        if is_mentee and needs == "legacy":  # the rounds of wopmatch 0.1: the same bytes for the same seed
            wanted = rng.choice(len(areas), size=int(rng.integers(1, 4)), replace=False)
            mentee: dict[str, Any] = {"needs": {areas[a]: int(rng.integers(2, 6)) for a in sorted(wanted)}}
            if rng.random() < 0.2:
                mentee["weight"] = float(rng.choice([1.5, 2.0]))
            op["mentee"] = mentee
        elif is_mentee:
            # two or three priority needs (level 3-5: costs.priority_need's default is 3), lower levels elsewhere
            wanted = set(int(a) for a in rng.choice(len(areas), size=min(len(areas), int(rng.integers(2, 4))),
                                                   replace=False))
            levels = {a: int(rng.integers(3, 6)) if a in wanted else int(rng.choice(3, p=LOW_NEED_SHARE))
                      for a in range(len(areas))}
            mentee = {"needs": {areas[a]: v for a, v in levels.items() if v > 0}}
            if rng.random() < 0.2:
                mentee["weight"] = float(rng.choice([1.5, 2.0]))
            op["mentee"] = mentee
        operators.append(op)
    # Interleave roles so ids are not sorted by role (realistic spreadsheets are not).
    order = rng.permutation(n_ops)
    operators = [operators[i] for i in order]
    if interests:
        _interests(operators, interests, seed)

    donor_list = []
    if donors:
        total = tightness * mentees * TYPICAL_COST
        shares = rng.dirichlet(np.full(donors, 2.0))
        for d in range(donors):
            donor: dict[str, Any] = {"id": f"DONOR-{d + 1:02d}", "name": f"Synthetic fund {d + 1}",
                                     "budget": int(math.floor(total * shares[d] / 1000) * 1000)}
            roll = rng.random()
            if roll < 0.45:
                donor["regions"] = sorted(str(r) for r in rng.choice(REGIONS[:4], size=int(rng.integers(1, 3)),
                                                                      replace=False))
            elif roll < 0.6:
                pool = [c[0] for c in COUNTRIES if c[1] != "europe"]
                donor["countries"] = sorted(str(c) for c in rng.choice(pool, size=int(rng.integers(3, 9)),
                                                                        replace=False))
            if rng.random() < 0.35:
                donor["work_areas"] = [areas[a] for a in sorted(rng.choice(len(areas), size=int(rng.integers(1, 3)),
                                                                           replace=False))]
            if rng.random() < 0.3:
                donor["max_grant"] = int(rng.choice([40_000, 50_000, 60_000]))
            if rng.random() < 0.3:
                donor["max_partnerships"] = max(1, int(mentees * shares[d] * tightness))
            donor_list.append(donor)

    raw: dict[str, Any] = {"format": INSTANCE_FORMAT}
    raw["name"] = name or f"Synthetic round: {mentees} mentees, {mentors} mentors, {donors} donors, seed {seed}"
    raw["currency"] = "USD"
    raw["operators"] = operators
    raw["donors"] = donor_list
    if needs == "priorities":  # after donors, in the Instance model's field order
        raw["costs"] = {"duration_rule": "issues"}  # months from the issues each pair addresses (docs/format.md §3)
    return raw


#: A stated interest's level (first choice, interested, will not work with) and its share.
INTEREST_LEVELS, INTEREST_SHARE = (2, 1, -1), (0.3, 0.6, 0.1)


def _interests(operators: list[dict[str, Any]], per_operator: int, seed: int) -> None:
    """Each operator states up to ``per_operator`` interests in possible partners (mentors
    rate mentees and mentees rate mentors), drawn from its own region where it has enough
    of them, at INTEREST_LEVELS with INTEREST_SHARE. A generator of its own (seed + 1):
    the rest of a round is the same with or without interests."""
    rng = np.random.default_rng(seed + 1)
    mentor_ids = [k for k, op in enumerate(operators) if "mentor" in op]
    mentee_ids = [k for k, op in enumerate(operators) if "mentee" in op]
    for k, op in enumerate(operators):
        pool = sorted({*(mentor_ids if "mentee" in op else ()), *(mentee_ids if "mentor" in op else ())} - {k})
        near = [x for x in pool if operators[x]["region"] == op["region"]]
        pool = near if len(near) >= per_operator else pool
        if not pool:
            continue
        chosen = rng.choice(len(pool), size=min(per_operator, len(pool)), replace=False)
        levels = rng.choice(INTEREST_LEVELS, size=len(chosen), p=INTEREST_SHARE)
        op["interests"] = [{"operator": operators[pool[int(c)]]["id"], "level": int(v)}
                           for c, v in zip(chosen, levels)]


def to_json_bytes(raw: dict[str, Any]) -> bytes:
    return (json.dumps(raw, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
