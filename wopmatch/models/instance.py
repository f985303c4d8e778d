"""The instance schema (``wopmatch.instance/1``), see docs/format.md.

Field-level rules (types, ranges, patterns) live on the pydantic models;
rules that relate fields to each other (duplicate ids, unknown work areas,
pinned pairs naming operators without the needed role) live in
:func:`cross_reference_problems`, which reads the raw JSON-like data so that it
can report alongside field errors: :func:`parse_instance` returns every problem
of an input at once.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Annotated, Any, Literal, Optional

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
    with_config,
)
from typing_extensions import TypedDict

from .outcomes import area_of, indicator
from .problems import InputError, Problem, json_path
from .vocab import closest, country_name, country_problem, language_name, language_problem, spellings

INSTANCE_FORMAT = "wopmatch.instance/1"
DEFAULT_WORK_AREAS = (
    "septage",
    "non_revenue_water",
    "climate_adaptation",
    "customer_relations",
    "regulation",
)
#: Levels of needs and strengths: 0 = none, 5 = the strongest.
MAX_LEVEL = 5
#: Work areas are encoded as bits of a 64-bit integer.
MAX_WORK_AREAS = 62
#: Priority weights are used by the optimiser at this resolution (see docs/model.md).
WEIGHT_RESOLUTION = 1e-6
MAX_WEIGHT = 1000.0

#: A level of need or strength, checked per key so errors name the work area.
Level = Annotated[int, Field(ge=0, le=MAX_LEVEL)]


#: Upper limits that keep every derived integer (costs, budgets, objective units)
#: far inside 64 bits; no real round comes near them.
MAX_MONEY = 10**15
MAX_CAPACITY = 10**6


class _Schema(BaseModel):
    # NaN and Infinity parse as JSON numbers in Python; they are never valid here.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Location(_Schema):
    lat: float = Field(ge=-90, le=90, description="Latitude in degrees.")
    lon: float = Field(ge=-180, le=180, description="Longitude in degrees.")


class MentorProfile(_Schema):
    capacity: int = Field(ge=0, le=MAX_CAPACITY, description="How many mentees it can take this round.")
    strengths: dict[str, Level] = Field(
        default_factory=dict, description="Level 0..5 per work area."
    )
    offers: Optional[list[Annotated[str, Field(min_length=1)]]] = Field(
        default=None, min_length=1,
        description="The work areas it is willing to share (some of its strengths); absent: all of them.")


class MenteeProfile(_Schema):
    needs: dict[str, Level] = Field(default_factory=dict, description="Level 0..5 per work area.")
    weight: float = Field(
        default=1.0,
        gt=0,
        le=MAX_WEIGHT,
        description="Priority of matching this mentee (coverage counts weights).",
    )


#: Interest levels an operator states about another (docs/format.md §2, "Interests").
VETO, INTERESTED, FIRST_CHOICE = -1, 1, 2


@with_config(ConfigDict(extra="forbid"))
class Interest(TypedDict):
    """One stated interest, read as ``interest["operator"]`` and ``interest["level"]``. A typed
    dict, not a model: a round's operators state thousands, and building a model object for each
    was a quarter of loading a 2,000 x 500 round with 5 per operator (benchmarks/interests.py)."""

    operator: Annotated[str, Field(min_length=1, pattern=r"\S", description="The other operator's id.")]
    level: Annotated[Literal[-1, 1, 2], Field(description="-1: will not work with it (never paired); "
                                                            "1: interested; 2: first choice.")]


class Operator(_Schema):
    id: str = Field(min_length=1, pattern=r"\S")
    name: Optional[str] = None
    country: str = Field(description="ISO 3166-1 alpha-2 code.")
    region: str = Field(min_length=1, pattern=r"\S")
    languages: list[str] = Field(min_length=1)
    location: Optional[Location] = None
    mentor: Optional[MentorProfile] = None
    mentee: Optional[MenteeProfile] = None
    interests: list[Interest] = Field(default_factory=list,
                                      description="Whom it would like to work with, or will not.")
    indicators: dict[str, float] = Field(default_factory=dict,
                                         description="Current values of performance indicators (docs/format.md §7): "
                                                     "a work plan's baselines.")
    in_kind: Optional[int] = Field(default=None, ge=0, le=MAX_MONEY,
                                   description="What it gives in kind (mostly staff time) to each of its "
                                               "partnerships, valued in the round's currency, beside the cash cost.")

    @field_validator("country")
    @classmethod
    def _country_code(cls, country: str, info: ValidationInfo) -> str:
        problem = country_problem(country, (info.context or {}).get("countries", ()))
        if problem:
            raise ValueError(problem)
        return country

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, languages: list[str], info: ValidationInfo) -> list[str]:
        used = (info.context or {}).get("languages", ())
        problems = [p for p in (language_problem(c, used) for c in languages) if p]
        if problems:
            raise ValueError("; ".join(problems))
        return languages


class Donor(_Schema):
    id: str = Field(min_length=1, pattern=r"\S")
    name: Optional[str] = None
    budget: int = Field(ge=0, le=MAX_MONEY, description="Integer currency units.")
    regions: Optional[list[str]] = Field(default=None, min_length=1)
    countries: Optional[list[str]] = Field(default=None, min_length=1)
    work_areas: Optional[list[str]] = Field(default=None, min_length=1)
    max_partnerships: Optional[int] = Field(default=None, ge=0, le=MAX_CAPACITY * 1000)
    max_grant: Optional[int] = Field(default=None, ge=0, le=MAX_MONEY)


class DefaultDistance(_Schema):
    same_region: float = Field(default=1500, ge=0, le=100_000)
    cross_region: float = Field(default=8000, ge=0, le=100_000)


class Costs(_Schema):
    base: float = Field(default=20000, ge=0, le=1e9)
    duration_months: int = Field(default=24, ge=1, le=120, description="Every partnership's duration under the "
                                                                        "fixed rule.")
    duration_rule: Literal["fixed", "issues"] = Field(
        default="fixed", description="fixed: every partnership lasts duration_months; issues: months from the "
                                     "number of issues it addresses (docs/format.md §3).")
    priority_need: int = Field(default=3, ge=1, le=MAX_LEVEL, description="A mentee's need at or above this level "
                                                                          "is a priority issue.")
    months_first_issue: int = Field(default=12, ge=1, le=120, description="issues rule: months for one issue.")
    months_per_issue: int = Field(default=6, ge=0, le=120, description="issues rule: months for each further issue.")
    max_months: int = Field(default=36, ge=1, le=120, description="issues rule: the longest partnership.")
    mentor_visits_per_year: int = Field(default=1, ge=0, le=100)
    mentee_visits: int = Field(default=1, ge=0, le=100)
    trip_fixed: float = Field(default=3000, ge=0, le=1e7)
    per_km: float = Field(default=0.5, ge=0, le=1000)
    default_distance_km: DefaultDistance = Field(default_factory=DefaultDistance)

    @model_validator(mode="after")
    def _months(self) -> "Costs":
        if self.months_first_issue > self.max_months:
            raise ValueError(f"months_first_issue ({self.months_first_issue}) is more than max_months "
                             f"({self.max_months})")
        return self


class Rules(_Schema):
    language: Literal["hard", "ignore"] = "hard"
    region: Literal["any", "same"] = "any"
    cross_region_penalty: float = Field(default=0.1, ge=0, le=1)
    min_strength: int = Field(default=3, ge=1, le=MAX_LEVEL)
    min_score: float = Field(default=0.0, ge=0, le=1)
    max_distance_km: Optional[float] = Field(default=None, ge=0)
    interest_weight: float = Field(default=0.2, ge=0, le=1, description="What stated interest adds to a pair's "
                                                                        "score at most (docs/format.md §3).")


class Pinned(_Schema):
    mentee: str = Field(min_length=1)
    mentor: str = Field(min_length=1)
    donor: Optional[str] = None


class Forbidden(_Schema):
    mentee: str = Field(min_length=1)
    mentor: str = Field(min_length=1)


class Instance(_Schema):
    format: Literal["wopmatch.instance/1"] = INSTANCE_FORMAT
    name: Optional[str] = None
    currency: str = Field(default="USD", min_length=1)
    start: Optional[str] = Field(default=None, description="The month the partnerships start, YYYY-MM: the "
                                                           "work plans' calendar.")
    work_areas: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=lambda: list(DEFAULT_WORK_AREAS), min_length=1, max_length=MAX_WORK_AREAS)
    operators: list[Operator] = Field(default_factory=list)
    donors: list[Donor] = Field(default_factory=list)
    costs: Costs = Field(default_factory=Costs)
    rules: Rules = Field(default_factory=Rules)
    pinned: list[Pinned] = Field(default_factory=list)
    forbidden: list[Forbidden] = Field(default_factory=list)

    @model_validator(mode="after")
    def _cross_references(self, info: ValidationInfo) -> "Instance":
        # parse_instance has already run the same check on the raw data.
        if info.context and info.context.get("cross_checked"):
            return self
        problems = cross_reference_problems(self.model_dump())
        if problems:
            raise ValueError("; ".join(str(p) for p in problems))
        return self

    @field_validator("start")
    @classmethod
    def _month(cls, start: Optional[str]) -> Optional[str]:
        if start is not None and not re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", start):
            raise ValueError(f"must be a month written YYYY-MM, such as 2027-01, got {start!r}")
        return start

    # Convenience look-ups used by readers and shells (not by the solver core).
    def operator(self, op_id: str) -> Operator:
        for op in self.operators:
            if op.id == op_id:
                return op
        raise KeyError(op_id)


def parse_instance(raw: Any, source: str = "") -> Instance:
    """Validate JSON-like data; raise :class:`InputError` listing every problem."""
    problems: list[Problem] = []
    instance: Optional[Instance] = None
    try:
        instance = Instance.model_validate(raw, context={"cross_checked": True, **_codes_used(raw)})
    except ValidationError as exc:
        problems.extend(_pydantic_problems(exc, raw))
    problems.extend(cross_reference_problems(raw))
    if problems or instance is None:
        raise InputError(_dedupe(problems), source)
    return instance


def _codes_used(raw: Any) -> dict[str, set[str]]:
    """The country and language codes the round's operators write: a misspelling is matched
    against these first (validation's suggestions)."""
    ops = [op for _, op in _records(raw.get("operators"))] if isinstance(raw, dict) else []
    langs = [op.get("languages") for op in ops]
    return {"countries": {op["country"] for op in ops if isinstance(op.get("country"), str)},
            "languages": {c for ls in langs if isinstance(ls, list) for c in ls if isinstance(c, str)}}


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    out = []
    for p in problems:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def _pydantic_problems(exc: ValidationError, raw: Any) -> list[Problem]:
    out = []
    for err in exc.errors(include_url=False):
        loc = err["loc"]
        hint = _id_hint(raw, loc)
        out.append(Problem(json_path(loc) or "(instance)", plain_message(err) + hint))
    return out


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def plain_message(err: dict[str, Any]) -> str:
    """A pydantic error in plain words, with the value given (never a type name or a regex)."""
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    got = f", got {_shown(value)}"
    if kind == "value_error":
        return err["msg"].removeprefix("Value error, ")
    if kind == "missing":
        return "missing: this field is required"
    if kind == "extra_forbidden":
        return f"unknown field {str(err['loc'][-1])!r} (check its spelling; docs/format.md lists the fields)"
    if kind in ("int_parsing", "float_parsing", "int_from_float", "int_type", "float_type"):
        whole = kind.startswith("int")
        want = "a whole number" if whole else "a number"
        if isinstance(value, str):
            fixed = _number_fix(value.strip(), whole)
            if fixed is not None:
                return f"expected {want}{got}: {fixed}"
        if kind == "int_from_float":
            return f"expected a whole number{got}"
        return f"expected {want}{got}"
    if kind == "finite_number":
        return f"expected a finite number{got}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = ctx.get("ge", ctx.get("gt", ctx.get("le", ctx.get("lt"))))
        words = {"greater_than_equal": "at least", "greater_than": "more than", "less_than_equal": "at most",
                 "less_than": "less than"}[kind]
        return f"must be {words} {bound:g}{got}" if isinstance(bound, (int, float)) else f"must be {words} {bound}{got}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '')}{got}"
    if kind == "string_type":
        return f"expected text{got}"
    if kind in ("list_type", "tuple_type"):
        return f"expected a list{got}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected an object (a mapping of fields){got}"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false{got}"
    if kind == "too_short":
        return "must not be empty" if isinstance(value, (list, dict, str)) else f"too short{got}"
    if kind == "too_long":
        return f"too long: at most {ctx.get('max_length')} entries{got}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_pattern_mismatch":
        return "must not be blank"
    return err["msg"] + got


def _number_fix(text: str, whole: bool) -> Optional[str]:
    """How to write a number a person typed with separators, or None."""
    body = text.lstrip("-+")
    if not body or not all(ch.isdigit() or ch in ",. \u00a0'" for ch in body) or not any(ch.isdigit() for ch in body):
        return None
    spaced = any(ch in body for ch in " \u00a0'")
    plain = "".join(ch for ch in body if ch not in " \u00a0'")
    sign = "-" if text.startswith("-") else ""
    last_comma, last_point = plain.rfind(","), plain.rfind(".")
    if last_comma > last_point and (last_point >= 0 or len(plain) - last_comma - 1 != 3):
        # 1.234,5 or 2,5: a decimal comma (points, if any, separate thousands)
        number = sign + plain.replace(".", "").replace(",", ".")
        if whole:
            return f"a decimal comma? a whole number has no decimals (it would be {number})"
        return f"write the decimals with a point{' and no thousands separators' if '.' in plain else ''} ({number})"
    number = sign + plain.replace(",", "")
    if "," in plain or spaced:
        return f"write it without thousands separators ({number})"
    return None


def _id_hint(raw: Any, loc: tuple[Any, ...]) -> str:
    """Name the operator or donor an error sits in, when its id is readable."""
    if len(loc) >= 3 and loc[0] in ("operators", "donors") and isinstance(loc[1], int):
        items = raw.get(loc[0]) if isinstance(raw, dict) else None
        if isinstance(items, list) and loc[1] < len(items) and isinstance(items[loc[1]], dict):
            ident = items[loc[1]].get("id")
            if isinstance(ident, str) and ident.strip():
                return f" ({loc[0][:-1]} {ident})"
    return ""


def cross_reference_problems(raw: Any) -> list[Problem]:
    """Relations between fields, checked on raw JSON-like data (best effort:
    entries too malformed to read are left to the field validation)."""
    if not isinstance(raw, dict):
        return []  # field validation reports "expected an object"
    problems: list[Problem] = []
    areas_raw = raw.get("work_areas", list(DEFAULT_WORK_AREAS))
    areas = [a for a in areas_raw if isinstance(a, str)] if isinstance(areas_raw, list) else []
    for area, count in Counter(areas).items():
        if count > 1:
            problems.append(Problem("work_areas", f"work area {area!r} is listed {count} times"))
    known_areas = set(areas)

    operators = _records(raw.get("operators"))
    first_at = _first_positions(operators, "operators", problems)
    mentors: set[str] = set()
    mentees: set[str] = set()
    for i, op in operators:
        ident = op.get("id")
        if isinstance(ident, str) and ident:
            if isinstance(op.get("mentor"), dict):
                mentors.add(ident)
            if isinstance(op.get("mentee"), dict):
                mentees.add(ident)
        for role, key in (("mentor", "strengths"), ("mentee", "needs")):
            profile = op.get(role)
            levels = profile.get(key) if isinstance(profile, dict) else None
            if isinstance(levels, dict) and areas:
                for area in levels:
                    if area not in known_areas:
                        problems.append(
                            Problem(
                                f"operators[{i}].{role}.{key}.{area}",
                                f"unknown work area {area!r}"
                                f"{_for(ident)}; known: {', '.join(areas)}",
                            )
                        )

        offers = op.get("mentor", {}).get("offers") if isinstance(op.get("mentor"), dict) else None
        if isinstance(offers, list) and areas:
            problems.extend(_offer_problems(f"operators[{i}].mentor.offers", ident, offers, op["mentor"], areas))
    vetoes = _interest_problems(operators, first_at, mentors, mentees, problems)
    problems.extend(_indicator_problems(operators, areas))

    donors = _records(raw.get("donors"))
    donor_first = _first_positions(donors, "donors", problems)
    labels = {"regions": {op.get("region") for _, op in operators if isinstance(op.get("region"), str)},
              "countries": {op.get("country") for _, op in operators if isinstance(op.get("country"), str)}}
    for i, donor in donors:
        ident = donor.get("id")
        wa = donor.get("work_areas")
        if isinstance(wa, list) and areas:
            for k, area in enumerate(wa):
                if isinstance(area, str) and area not in known_areas:
                    like = closest(area, areas)
                    problems.append(
                        Problem(f"donors[{i}].work_areas[{k}]", f"unknown work area {area!r}{_for(ident, 'donor')}"
                                + (f"; did you mean {like!r}?" if like else f"; known: {', '.join(areas)}")))
        for key, what in (("regions", "region"), ("countries", "country")):
            entries = donor.get(key)
            if not isinstance(entries, list) or not labels[key]:
                continue
            for k, value in enumerate(entries):
                # a label like one of the round's but not it is a typo (an entry naming a region or
                # country absent from this round is only a warning: instance_warnings)
                like = closest(value, labels[key], TYPO_CUTOFF) if isinstance(value, str) and \
                    value not in labels[key] else None
                if like is not None:
                    problems.append(Problem(
                        f"donors[{i}].{key}[{k}]",
                        f"no operator of the round has the {what} {value!r}{_for(ident, 'donor')}, so this entry "
                        f"funds nobody; did you mean {like!r}?"))

    problems.extend(_split_region_problems(operators, donors))

    def check_pair(path: str, rec: dict[str, Any]) -> None:
        mentee, mentor = rec.get("mentee"), rec.get("mentor")
        if isinstance(mentee, str) and mentee:
            if mentee not in first_at:
                problems.append(Problem(f"{path}.mentee", f"unknown operator {mentee!r}"))
            elif mentee not in mentees:
                problems.append(Problem(f"{path}.mentee", f"operator {mentee!r} has no mentee profile"))
        if isinstance(mentor, str) and mentor:
            if mentor not in first_at:
                problems.append(Problem(f"{path}.mentor", f"unknown operator {mentor!r}"))
            elif mentor not in mentors:
                problems.append(Problem(f"{path}.mentor", f"operator {mentor!r} has no mentor profile"))
        if isinstance(mentee, str) and mentee and mentee == mentor:
            problems.append(Problem(path, f"operator {mentee!r} cannot be paired with itself"))

    def pair_of(rec: dict[str, Any]) -> Optional[tuple[str, str]]:  # None unless both are ids (text)
        mentee, mentor = rec.get("mentee"), rec.get("mentor")
        return (mentee, mentor) if isinstance(mentee, str) and isinstance(mentor, str) else None

    forbidden_pairs = set()
    for i, rec in _records(raw.get("forbidden")):
        check_pair(f"forbidden[{i}]", rec)
        if pair_of(rec) is not None:
            forbidden_pairs.add(pair_of(rec))
    pinned_mentee_at: dict[str, int] = {}
    for i, rec in _records(raw.get("pinned")):
        path = f"pinned[{i}]"
        check_pair(path, rec)
        donor = rec.get("donor")
        if isinstance(donor, str) and donor not in donor_first:
            problems.append(Problem(f"{path}.donor", f"unknown donor {donor!r}"))
        mentee = rec.get("mentee")
        if isinstance(mentee, str) and mentee:
            if mentee in pinned_mentee_at:
                first = pinned_mentee_at[mentee]
                problems.append(Problem(f"{path}.mentee", f"mentee {mentee!r} is already pinned at pinned[{first}]"))
            else:
                pinned_mentee_at[mentee] = i
        if pair_of(rec) is not None and pair_of(rec) in forbidden_pairs:
            problems.append(Problem(path, "this pair is both pinned and forbidden"))
        pair = pair_of(rec)
        for who, whom in ((pair, pair[::-1]) if pair is not None else ()):
            if (who, whom) in vetoes:
                problems.append(Problem(path, f"this pair is pinned, but {who} will not work with {whom} (a veto "
                                              "in its interests, level -1): drop the pin or the veto"))
    return problems


def _offer_problems(path: str, ident: Any, offers: list[Any], mentor: dict[str, Any],
                    areas: list[str]) -> list[Problem]:
    """A mentor's ``offers``: known work areas, each once, each one of its strengths."""
    out = []
    strengths = mentor.get("strengths") if isinstance(mentor.get("strengths"), dict) else {}
    seen: set[str] = set()
    for k, area in enumerate(offers):
        if not isinstance(area, str) or not area:
            continue  # field validation says what is wrong
        if area not in areas:
            like = closest(area, areas)
            out.append(Problem(f"{path}[{k}]", f"unknown work area {area!r}{_for(ident)}"
                               + (f"; did you mean {like!r}?" if like else f"; known: {', '.join(areas)}")))
        elif area in seen:
            out.append(Problem(f"{path}[{k}]", f"{area!r} is offered twice{_for(ident)}"))
        elif not (isinstance(strengths.get(area), int) and strengths[area] >= 1):
            out.append(Problem(f"{path}[{k}]", f"offers {area!r}, but it has no strength there{_for(ident)}: "
                                               "offers are some of its strengths"))
        seen.add(area)
    return out


def _interest_problems(operators: list[tuple[int, dict[str, Any]]], first_at: dict[str, int], mentors: set[str],
                       mentees: set[str], problems: list[Problem]) -> set[tuple[str, str]]:
    """Each operator's stated interests: known operators, not itself, each once, and one it could be
    paired with. Returns the vetoes, as (who, whom)."""
    vetoes: set[tuple[str, str]] = set()
    for i, op in operators:
        ident, stated = op.get("id"), op.get("interests")
        if not (stated and isinstance(stated, list) and isinstance(ident, str) and ident):
            continue  # none stated, or field validation says what is wrong
        # whom it could be paired with: mentors if it is a mentee, mentees if it is a mentor
        as_mentee, as_mentor = ident in mentees, ident in mentors
        others = [rec.get("operator") if isinstance(rec, dict) else None for rec in stated]
        if as_mentee != as_mentor and len(set(others)) == len(others) \
                and (mentors if as_mentee else mentees).issuperset(others) and ident not in others:
            # the common case in set operations: every one known, another, once, and a possible partner
            vetoes.update((ident, other) for other, rec in zip(others, stated) if rec.get("level") == VETO)
            continue
        seen: set[str] = set()
        for k, rec in enumerate(stated):
            other = rec.get("operator") if isinstance(rec, dict) else None
            if not (isinstance(other, str) and other):
                continue  # field validation says what is wrong
            if other != ident and other not in seen and ((as_mentee and other in mentors)
                                                         or (as_mentor and other in mentees)):  # the common case
                seen.add(other)
                if rec.get("level") == VETO:
                    vetoes.add((ident, other))
                continue
            path = f"operators[{i}].interests[{k}]"
            if other == ident:
                problems.append(Problem(f"{path}.operator", f"an operator cannot state an interest in itself "
                                                            f"({ident})"))
            elif other not in first_at:
                like = closest(other, list(first_at))
                problems.append(Problem(f"{path}.operator", f"unknown operator {other!r}{_for(ident)}"
                                        + (f"; did you mean {like!r}?" if like else "")))
            elif other in seen:
                problems.append(Problem(f"{path}.operator", f"{ident} states an interest in {other} twice"))
            else:
                problems.append(Problem(f"{path}.operator", f"{ident} and {other} can never be partners: one must "
                                                            "have a mentor profile and the other a mentee profile"))
    return vetoes


def _indicator_problems(operators: list[tuple[int, dict[str, Any]]], areas: list[str]) -> list[Problem]:
    """Each operator's indicator values: a known indicator (docs/format.md §7), in its range."""
    out: list[Problem] = []
    known = [i for a in areas for i in (ind.id for ind in area_of(a).indicators)]
    for i, op in operators:
        values = op.get("indicators")
        if not isinstance(values, dict):
            continue  # none stated, or field validation says what is wrong
        for ident, value in values.items():
            path = f"operators[{i}].indicators.{ident}"
            ind = indicator(ident) if ident in known else None
            if ind is None:
                like = closest(ident, known)
                out.append(Problem(path, f"unknown indicator {ident!r}{_for(op.get('id'))}"
                                   + (f"; did you mean {like!r}?" if like else f"; known: {', '.join(known)}")))
            elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
                    and not ind.low <= value <= ind.high:
                out.append(Problem(path, f"{ind.name} must be between {ind.low:g} and {ind.high:g} {ind.unit}, "
                                         f"got {value:g}{_for(op.get('id'))}"))
    return out


def region_writers(inst: Instance) -> dict[str, list[str]]:
    """Each region label -> the ids of the operators that write it, in the round's order."""
    who: dict[str, list[str]] = {}
    for op in inst.operators:
        who.setdefault(op.region, []).append(op.id)
    return who


def spelling_list(group: list[str], who: dict[str, list[str]], shown: int = 3) -> str:
    """``the regions 'A' (X, Y), 'B' (Z) and 'C' (no operator)``: each spelling with the
    first ``shown`` operators that write it."""
    def one(label: str) -> str:
        ids = who.get(label, [])
        more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
        return f"{label!r} ({', '.join(ids[:shown]) + more if ids else 'no operator'})"

    parts = [one(label) for label in group]
    return "the regions " + ", ".join(parts[:-1]) + " and " + parts[-1]


def _split_region_problems(operators: list[tuple[int, dict[str, Any]]],
                           donors: list[tuple[int, dict[str, Any]]]) -> list[Problem]:
    """A donor that names one spelling of a region but not another the round's operators
    write ('Sub-Saharan Africa' but not 'sub-saharan-africa'): it would fund some of that
    region's operators and not others. Each left-out operator is named by its position,
    which a workbook's reader turns into its row."""
    where: dict[str, list[str]] = {}
    for i, op in operators:
        region, ident = op.get("region"), op.get("id")
        if isinstance(region, str):
            where.setdefault(region, []).append(f"{ident} (operators[{i}])" if isinstance(ident, str) else
                                                f"operators[{i}]")
    out = []
    groups = spellings(where)
    for i, donor in donors:
        entries = donor.get("regions")
        named = {e for e in entries if isinstance(e, str)} if isinstance(entries, list) else set()
        for group in groups:
            funded, left = [g for g in group if g in named], [g for g in group if g not in named]
            if funded and left:
                out.append(Problem(
                    f"donors[{i}].regions",
                    f"donor {donor.get('id') if isinstance(donor.get('id'), str) else i} funds "
                    f"{' and '.join(repr(f) for f in funded)} but not "
                    + " nor ".join(f"{g!r}, written by {', '.join(where[g][:5])}"
                                   + (f" and {len(where[g]) - 5} more" if len(where[g]) > 5 else "") for g in left)
                    + ": the spellings differ only in case, spaces or hyphens; if they are one region, write it "
                      "one way"))
    return out


#: How alike (difflib's ratio) a donor's label must be to one of the round's to count as its typo:
#: 'europa' and 'europe' are (0.83); 'asia' and 'africa' (0.6) are two regions.
TYPO_CUTOFF = 0.8


def instance_warnings(inst: Instance) -> list[Problem]:
    """What is valid but probably not meant (docs/format.md, "Warnings"): a round with no
    mentee or no mentor, a donor's region or country that no operator of the round has (it
    funds nobody there), region labels that differ only in case, spaces, hyphens or
    underscores, and a language one operator alone speaks (it can never be shared)."""
    out: list[Problem] = []
    if not any(op.mentee for op in inst.operators):
        out.append(Problem("operators", "no operator has a mentee profile (role mentee or both): there is "
                                        "nothing to match"))
    elif not any(op.mentor for op in inst.operators):
        out.append(Problem("operators", "no operator has a mentor profile (role mentor or both): no mentee can "
                                        "be matched"))
    regions = {op.region for op in inst.operators}
    countries = {op.country for op in inst.operators}
    for i, d in enumerate(inst.donors):
        for key, have in (("regions", regions), ("countries", countries)):
            entries = getattr(d, key) or []
            absent = [v for v in entries if v not in have]
            if absent:
                what = "region" if key == "regions" else "country"
                named = absent if what == "region" else [f"{c} ({country_name(c)})" for c in absent]
                out.append(Problem(f"donors[{i}].{key}", f"donor {d.id}: no operator of the round has the "
                                   f"{what if len(absent) == 1 else 'regions' if what == 'region' else 'countries'} "
                                   f"{', '.join(named)}: those entries fund nobody in this round"))
    spelled = region_writers(inst)
    for group in spellings(regions | {r for d in inst.donors for r in d.regions or []}):
        out.append(Problem("operators", f"{spelling_list(group, spelled)} differ only in case, spaces or hyphens: "
                                        "regional-equity and the figures by region count them as different "
                                        "regions; if they are one region, write it one way"))
    speakers: dict[str, list[str]] = {}
    for op in inst.operators:
        for lang in set(op.languages):
            speakers.setdefault(lang, []).append(op.id)
    lonely = sorted((lang, ids[0]) for lang, ids in speakers.items() if len(ids) == 1)
    if lonely and inst.rules.language == "hard":
        listed = ", ".join(f"{lang!r} ({language_name(lang)}: {who})" for lang, who in lonely)
        out.append(Problem("operators", f"spoken by one operator only, so never shared: {listed}"))
    return out


def _first_positions(records: list[tuple[int, dict[str, Any]]], field: str,
                     problems: list[Problem]) -> dict[str, int]:
    """id -> position of its first record; later duplicates become problems."""
    first: dict[str, int] = {}
    for i, rec in records:
        ident = rec.get("id")
        if not (isinstance(ident, str) and ident):
            continue
        if ident in first:
            problems.append(Problem(f"{field}[{i}].id", f"duplicate id {ident!r} (first at {field}[{first[ident]}])"))
        else:
            first[ident] = i
    return first


def _records(value: Any) -> list[tuple[int, dict[str, Any]]]:
    if not isinstance(value, list):
        return []
    return [(i, v) for i, v in enumerate(value) if isinstance(v, dict)]


def _for(ident: Any, kind: str = "operator") -> str:
    return f" ({kind} {ident})" if isinstance(ident, str) and ident else ""
