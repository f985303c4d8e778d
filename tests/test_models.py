"""Instance validation: every problem at once, each named by its path."""

from __future__ import annotations

import json

import pytest
from helpers import BAD_CASES, base_instance, op

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


@pytest.mark.parametrize("mutate, path, words", BAD_CASES, ids=[c[1] for c in BAD_CASES])
def test_each_problem_is_named_by_path(mutate, path, words):
    raw = base_instance()
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
    assert any("expected an object" in p and "got [1, 2]" in p for p in _problems([1, 2]))


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
