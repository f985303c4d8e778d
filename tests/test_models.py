"""Instance validation: every problem at once, each named by its path."""

from __future__ import annotations

import json

import pytest
from helpers import op

from wopmatch.models import InputError, Instance, Solution, parse_instance
from wopmatch.models.io import decode_json

MENTOR = {"capacity": 2, "strengths": {"septage": 5}}
MENTEE = {"needs": {"septage": 4}}


def _problems(raw):
    with pytest.raises(InputError) as info:
        parse_instance(raw)
    return [str(p) for p in info.value.problems]


def test_defaults_follow_the_spec():
    inst = parse_instance({"operators": [op("A", mentee=MENTEE)]})
    assert inst.work_areas == ["septage", "non_revenue_water", "climate_adaptation", "customer_relations",
                               "regulation"]
    assert inst.costs.base == 20000 and inst.costs.duration_months == 24 and inst.costs.per_km == 0.5
    assert inst.costs.default_distance_km.cross_region == 8000
    assert inst.rules.language == "hard" and inst.rules.min_strength == 3 and inst.rules.max_distance_km is None
    assert inst.currency == "USD" and inst.operators[0].mentee.weight == 1.0


@pytest.mark.parametrize("mutate, path, words", [
    (lambda r: r["operators"].append(op("A", mentee=MENTEE)), "operators[2].id", "duplicate id 'A'"),
    (lambda r: r["operators"][0]["mentor"]["strengths"].update(sewers=4), "operators[0].mentor.strengths.sewers",
     "unknown work area"),
    (lambda r: r["operators"][1]["mentee"]["needs"].update(septage=6), "operators[1].mentee.needs.septage",
     "less than or equal to 5"),
    (lambda r: r["operators"][1]["mentee"]["needs"].update(septage=-1), "operators[1].mentee.needs.septage",
     "greater than or equal to 0"),
    (lambda r: r["operators"][0].update(languages=[]), "operators[0].languages", "at least 1"),
    (lambda r: r["operators"][0].update(location={"lat": 91, "lon": 0}), "operators[0].location.lat", "90"),
    (lambda r: r["operators"][0].update(location={"lat": 0, "lon": -181}), "operators[0].location.lon", "-180"),
    (lambda r: r["operators"][0]["mentor"].update(capacity=-1), "operators[0].mentor.capacity", "greater than"),
    (lambda r: r["donors"][0].update(budget=-5), "donors[0].budget", "greater than"),
    (lambda r: r["donors"].append({"id": "D", "budget": 1}), "donors[1].id", "duplicate id 'D'"),
    (lambda r: r["donors"][0].update(work_areas=["x"]), "donors[0].work_areas[0]", "unknown work area"),
    (lambda r: r.update(pinned=[{"mentee": "ZZ", "mentor": "M"}]), "pinned[0].mentee", "unknown operator 'ZZ'"),
    (lambda r: r.update(pinned=[{"mentee": "M", "mentor": "A"}]), "pinned[0].mentee", "no mentee profile"),
    (lambda r: r.update(pinned=[{"mentee": "A", "mentor": "M", "donor": "Q"}]), "pinned[0].donor",
     "unknown donor 'Q'"),
    (lambda r: r.update(forbidden=[{"mentee": "A", "mentor": "A"}]), "forbidden[0].mentor", "no mentor profile"),
    (lambda r: r["operators"][0].update(country="Philippines"), "operators[0].country", "pattern"),
    (lambda r: r["operators"][0].update(colour="blue"), "operators[0].colour", "Extra inputs"),
    (lambda r: r.update(format="wopmatch.instance/2"), "format", "wopmatch.instance/1"),
    (lambda r: r["rules"].update(language="soft"), "rules.language", "'hard' or 'ignore'"),
    (lambda r: r.update(work_areas=[f"a{i}" for i in range(63)]), "work_areas", "at most 62"),
    (lambda r: r.update(work_areas=["septage", "septage"]), "work_areas", "listed 2 times"),
    (lambda r: r["operators"][1]["mentee"].update(weight=0), "operators[1].mentee.weight", "greater than 0"),
])
def test_each_problem_is_named_by_path(mutate, path, words):
    raw = {"operators": [op("M", mentor={"capacity": 2, "strengths": {"septage": 5}}),
                         op("A", mentee={"needs": {"septage": 4}})],
           "donors": [{"id": "D", "budget": 100}], "rules": {}}
    mutate(raw)
    problems = _problems(raw)
    assert any(p.startswith(path + ":") and words in p for p in problems), problems


def test_all_problems_are_reported_together():
    raw = {"operators": [
        {"id": "A", "country": "ph", "region": "x", "languages": [], "mentor": {"capacity": -1}},
        {"id": "A", "country": "PH", "region": "x", "languages": ["en"], "mentee": {"needs": {"foo": 9}}},
    ], "donors": [{"id": "D", "budget": -1}], "pinned": [{"mentee": "Q", "mentor": "A"}]}
    problems = _problems(raw)
    paths = {p.split(":")[0] for p in problems}
    assert {"operators[0].country", "operators[0].languages", "operators[0].mentor.capacity",
            "operators[1].id", "operators[1].mentee.needs.foo", "donors[0].budget", "pinned[0].mentee"} <= paths
    assert any("(operator A)" in p for p in problems)  # field errors name the operator too


@pytest.mark.parametrize("text, words", [
    (b'{"operators": [', "malformed JSON at line 1"),
    (b'{"operators": [}', "malformed JSON"),
    (b"", "empty"),
    (b"\xff\xfe", "not UTF-8"),
])
def test_malformed_files(text, words):
    with pytest.raises(InputError) as info:
        decode_json(text, "x.json")
    assert words in str(info.value.problems[0])


def test_not_an_object():
    assert any("valid dictionary" in p for p in _problems([1, 2]))


def test_json_schema_comes_from_the_models():
    inst = Instance.model_json_schema()
    assert inst["properties"]["format"]["const"] == "wopmatch.instance/1"
    assert "Operator" in inst["$defs"] and inst["$defs"]["Operator"]["additionalProperties"] is False
    sol = Solution.model_json_schema()
    assert set(sol["$defs"]["Unmatched"]["properties"]["reason"]["enum"]) >= {"capacity", "budget", "forbidden"}
    json.dumps(sol)


def test_direct_construction_checks_cross_references():
    with pytest.raises(Exception, match="duplicate id"):
        Instance.model_validate({"operators": [op("A", mentee=MENTEE), op("A", mentee=MENTEE)]})
