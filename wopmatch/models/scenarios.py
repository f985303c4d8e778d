"""Scenario sets (``wopmatch.scenarios/1``): a base instance and variations of it.

A donor asks "what does another million buy", "what if this eligibility rule
went", "what if the travel costs rose": each scenario is the base instance with
a list of changes, solved with a policy. This module reads a set (JSON or YAML),
applies each scenario's changes to the base and validates every resulting
instance up front, naming the scenario, the change and the field of every
problem; it never solves anything (wopmatch/scenarios/ does).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .instance import MAX_CAPACITY, MAX_MONEY, Donor, Instance, parse_instance, plain_message
from .io import decode_json, read_bytes
from .problems import InputError, Problem, json_path

SCENARIOS_FORMAT = "wopmatch.scenarios/1"
#: Scenario names become file names: letters, digits, '.', '_' and '-' only.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$"


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ScaleBudget(_Schema):
    """Multiply budgets by ``factor`` (rounded to whole currency units, halves to even)."""

    op: Literal["scale_budget"]
    factor: float = Field(ge=0, le=1e6)
    donors: Optional[list[str]] = Field(default=None, min_length=1, description="Default: every donor.")


class SetBudget(_Schema):
    op: Literal["set_budget"]
    donor: str
    budget: int = Field(ge=0, le=MAX_MONEY)


class AddDonor(_Schema):
    op: Literal["add_donor"]
    donor: Donor


class RemoveDonor(_Schema):
    op: Literal["remove_donor"]
    donor: str


class DonorRules(_Schema):
    """Replace a donor's eligibility lists or caps: a field given replaces the
    donor's (null removes the restriction); a field left out is kept."""

    op: Literal["donor_rules"]
    donor: str
    regions: Optional[list[str]] = None
    countries: Optional[list[str]] = None
    work_areas: Optional[list[str]] = None
    max_partnerships: Optional[int] = None
    max_grant: Optional[int] = None


class SetCosts(_Schema):
    """Replace cost parameters (the instance's ``costs`` fields; checked as there)."""

    op: Literal["costs"]
    set: dict[str, Any] = Field(min_length=1)


class SetRules(_Schema):
    """Replace eligibility and scoring rules (the instance's ``rules`` fields)."""

    op: Literal["rules"]
    set: dict[str, Any] = Field(min_length=1)


class MentorCapacity(_Schema):
    """Set a mentor's capacity (the operator must have a mentor profile)."""

    op: Literal["mentor_capacity"]
    operator: str
    capacity: int = Field(ge=0, le=MAX_CAPACITY)


class AllowPair(_Schema):
    """Remove a pair from the instance's forbidden list."""

    op: Literal["allow_pair"]
    mentee: str
    mentor: str


Change = Annotated[Union[ScaleBudget, SetBudget, AddDonor, RemoveDonor, DonorRules, SetCosts, SetRules,
                         MentorCapacity, AllowPair], Field(discriminator="op")]


class Scenario(_Schema):
    name: str = Field(pattern=NAME_PATTERN, description="Unique; names the scenario's files.")
    description: Optional[str] = None
    changes: list[Change] = Field(default_factory=list, description="Applied in order to the base instance.")
    policy: Optional[str] = Field(default=None, description="Default: the set's policy.")


class ScenarioSet(_Schema):
    format: Literal["wopmatch.scenarios/1"] = SCENARIOS_FORMAT
    name: Optional[str] = None
    base: str = Field(min_length=1, description="The base instance (.json, .xlsx or CSV folder), relative to "
                                                "this file.")
    policy: str = Field(default="optimal", description="Policy of every scenario that names none.")
    method: Optional[str] = Field(default=None, description=(
        "How an exact policy solves (as solve --method). Default: auto, except lagrangian for optimal with donors "
        "above 200,000 free mentees x mentors x donors. A scenario set has no time limit: every scenario gets "
        "the same answer on any machine."))
    node_limit: Optional[int] = Field(default=None, ge=1,
                                      description="Branch-and-bound nodes per MIP solve (default 10,000).")
    group_by: Literal["region", "country"] = Field(default="region", description="regional-equity's groups.")
    seed: int = Field(default=0, ge=0)
    scenarios: list[Scenario] = Field(default_factory=list)


def read_scenario_set(path: str | Path) -> ScenarioSet:
    """Read a ``.json``, ``.yaml`` or ``.yml`` set; every problem by its path."""
    p = Path(path)
    data = read_bytes(p)
    suffix = p.suffix.lower()
    if suffix in (".yaml", ".yml"):
        raw = _yaml(data, str(p))
    elif suffix == ".json":
        raw = decode_json(data, str(p))
    else:
        raise InputError([Problem("", f"unsupported scenario set format {p.suffix or '(none)'!r}; "
                                      "supported: .json, .yaml, .yml")], str(p))
    return parse_scenario_set(raw, str(p))


def _yaml(data: bytes, source: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InputError([Problem("", f"not UTF-8 text (byte {exc.start})")], source) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        raise InputError([Problem("", f"malformed YAML{where}: {getattr(exc, 'problem', None) or exc}")],
                         source) from None
    except RecursionError:
        raise InputError([Problem("", "the YAML is nested too deeply to be a scenario set")], source) from None
    except ValueError:  # Python refuses an integer of more than 4,300 digits
        raise InputError([Problem("", "a number in the YAML has more than 4,300 digits: no field of a scenario set "
                                      "takes one that long")], source) from None


def parse_scenario_set(raw: Any, source: str = "") -> ScenarioSet:
    try:
        s = ScenarioSet.model_validate(raw)
    except ValidationError as exc:
        raise InputError([Problem(json_path(e["loc"]) or "(scenario set)", plain_message(e))
                          for e in exc.errors(include_url=False)], source) from None
    seen: dict[str, int] = {}
    problems = []
    for k, sc in enumerate(s.scenarios):
        if sc.name in seen:
            problems.append(Problem(f"scenarios[{k}].name", f"duplicate name {sc.name!r} (first at "
                                                              f"scenarios[{seen[sc.name]}])"))
        seen.setdefault(sc.name, k)
    if problems:
        raise InputError(problems, source)
    return s


def apply_changes(base: Instance, scenario: Scenario, where: str) -> Instance:
    """The base instance with the scenario's changes, validated; ``where`` prefixes
    every problem (``scenarios[3]``). Raise InputError with all of them."""
    raw = base.model_dump(mode="json", exclude_none=True)
    problems: list[Problem] = []
    for k, change in enumerate(scenario.changes):
        at = f"{where}.changes[{k}]"
        donors = {d["id"]: d for d in raw["donors"]}
        if isinstance(change, ScaleBudget):
            for d in change.donors or []:
                if d not in donors:
                    problems.append(Problem(f"{at}.donors", f"unknown donor {d!r}{_known(donors)}"))
            for d in raw["donors"]:
                if change.donors is None or d["id"] in change.donors:
                    d["budget"] = _scaled(d["budget"], change.factor)
        elif isinstance(change, SetBudget):
            if change.donor not in donors:
                problems.append(Problem(f"{at}.donor", f"unknown donor {change.donor!r}{_known(donors)}"))
            else:
                donors[change.donor]["budget"] = change.budget
        elif isinstance(change, AddDonor):
            if change.donor.id in donors:
                problems.append(Problem(f"{at}.donor.id", f"donor {change.donor.id!r} is already in the instance"))
            else:
                raw["donors"].append(change.donor.model_dump(mode="json", exclude_none=True))
        elif isinstance(change, RemoveDonor):
            if change.donor not in donors:
                problems.append(Problem(f"{at}.donor", f"unknown donor {change.donor!r}{_known(donors)}"))
            else:
                raw["donors"] = [d for d in raw["donors"] if d["id"] != change.donor]
                for p in raw.get("pinned", []):  # a pinned partnership it funded stays, unfunded
                    if p.get("donor") == change.donor:
                        problems.append(Problem(f"{at}.donor", f"donor {change.donor!r} funds the pinned "
                                                               f"partnership {p['mentee']} - {p['mentor']}; "
                                                               "unpin it or keep the donor"))
        elif isinstance(change, DonorRules):
            if change.donor not in donors:
                problems.append(Problem(f"{at}.donor", f"unknown donor {change.donor!r}{_known(donors)}"))
            else:
                d = donors[change.donor]
                for field in change.model_fields_set - {"op", "donor"}:
                    value = getattr(change, field)
                    if value is None:
                        d.pop(field, None)
                    else:
                        d[field] = value
        elif isinstance(change, MentorCapacity):
            ops = [o for o in raw["operators"] if o["id"] == change.operator]
            if not ops or "mentor" not in ops[0]:
                problems.append(Problem(f"{at}.operator", f"no mentor with id {change.operator!r}"))
            else:
                ops[0]["mentor"]["capacity"] = change.capacity
        elif isinstance(change, AllowPair):
            before = len(raw.get("forbidden", []))
            raw["forbidden"] = [f for f in raw.get("forbidden", [])
                                if (f["mentee"], f["mentor"]) != (change.mentee, change.mentor)]
            if len(raw["forbidden"]) == before:
                problems.append(Problem(f"{at}", f"the pair {change.mentee} - {change.mentor} is not forbidden"))
        elif isinstance(change, (SetCosts, SetRules)):
            key = "costs" if isinstance(change, SetCosts) else "rules"
            section = raw.setdefault(key, {})
            for field, value in change.set.items():
                if isinstance(value, dict) and isinstance(section.get(field), dict):
                    section[field] = {**section[field], **value}
                else:
                    section[field] = value
    if problems:
        raise InputError(problems)
    try:
        return parse_instance(raw)
    except InputError as exc:  # name the scenario: "scenarios[3]: costs.per_km: ..."
        raise InputError([Problem(f"{where} (the changed instance): {p.where}", p.message)
                          for p in exc.problems]) from None


def _scaled(budget: int, factor: float) -> int:
    return min(int(round(budget * factor)), MAX_MONEY) if math.isfinite(budget * factor) else MAX_MONEY


def _known(donors: dict[str, Any]) -> str:
    return f"; donors: {', '.join(donors)}" if donors else "; the instance has no donors"


def budget_grid(spec: str) -> list[float]:
    """``"0.25:2.0:0.25"`` -> [0.25, 0.5, ..., 2.0] (start:stop:step, stop included);
    a single number is one factor. ValueError with the reason otherwise."""
    parts = spec.split(":")
    try:
        values = [float(x) for x in parts]
    except ValueError:
        raise ValueError(f"{spec!r} is not START:STOP:STEP (numbers)") from None
    if len(values) == 1:
        start = stop = values[0]
        step = 1.0
    elif len(values) == 3:
        start, stop, step = values
    else:
        raise ValueError(f"{spec!r} is not START:STOP:STEP")
    if not all(math.isfinite(v) for v in values) or start < 0 or stop < start or step <= 0:
        raise ValueError(f"{spec!r}: need 0 <= START <= STOP and STEP > 0")
    count = int(math.floor((stop - start) / step + 1e-9)) + 1
    if count > 1000:
        raise ValueError(f"{spec!r} makes {count} scenarios; at most 1000")
    return [round(start + k * step, 10) for k in range(count)]


def grid_scenarios(factors: list[float], donors: Optional[list[str]]) -> list[Scenario]:
    """One scenario per factor: the named donors' budgets (default all) scaled."""
    tag = "budget" if not donors else "-".join(donors)
    return [Scenario(name=_grid_name(tag, f), description=f"budgets of {', '.join(donors) if donors else 'every donor'}"
                     f" x {f:g}", changes=[ScaleBudget(op="scale_budget", factor=f, donors=donors)])
            for f in factors]


def _grid_name(tag: str, factor: float) -> str:
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in tag)[:60].lstrip("._-") or "donor"
    return f"{safe}-x{factor:g}"
