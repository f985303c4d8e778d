"""What a partnership works towards (issue 31): the round's start month, operators' current
indicator values and in-kind contributions, read from JSON, a workbook or CSV files, with
located problems; and the work-area table the plans draw on."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest

from wopmatch.models import InputError, load_instance, parse_instance
from wopmatch.models.outcomes import AREAS, INDICATORS, area_of, indicator
from wopmatch.models.tables import instance_workbook_bytes

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "instances" / "demo.json"


def _problems(raw) -> list[str]:
    with pytest.raises(InputError) as exc:
        parse_instance(raw)
    return [f"{p.where}: {p.message}" for p in exc.value.problems]


def _mentee_at(raw) -> int:
    return next(k for k, op in enumerate(raw["operators"]) if "mentee" in op and "mentor" not in op)


def test_start_indicators_and_in_kind_are_read_and_their_mistakes_located():
    raw = json.loads(DEMO.read_text())
    k = _mentee_at(raw)
    who = raw["operators"][k]["id"]
    raw["start"] = "2027-13"
    raw["operators"][k]["indicators"] = {"nrw_pct": 120, "nrw_pc": 3, "supply_hours": 12}
    raw["operators"][k]["in_kind"] = -5
    assert _problems(raw) == [
        "start: must be a month written YYYY-MM, such as 2027-01, got '2027-13'",
        f"operators[{k}].in_kind: must be at least 0, got -5 (operator {who})",
        f"operators[{k}].indicators.nrw_pct: Non-revenue water (share of system input volume) must be between "
        f"0 and 100 %, got 120 (operator {who})",
        f"operators[{k}].indicators.nrw_pc: unknown indicator 'nrw_pc' (operator {who}); did you mean 'nrw_pct'?"]
    raw["start"], raw["operators"][k]["in_kind"] = "2027-01", 5000
    raw["operators"][k]["indicators"] = {"nrw_pct": 42.5, "supply_hours": 12}
    op = parse_instance(raw).operator(who)
    assert op.indicators == {"nrw_pct": 42.5, "supply_hours": 12.0} and op.in_kind == 5000


def test_a_round_s_own_work_area_has_its_generic_indicator_and_nothing_else():
    raw = json.loads(DEMO.read_text())
    k = _mentee_at(raw)
    raw["work_areas"] = ["septage", "water_safety"]
    for op in raw["operators"]:
        for role, key in (("mentor", "strengths"), ("mentee", "needs")):
            if role in op:
                op[role][key] = {"septage": 4, "water_safety": 4}
        op.get("mentor", {}).pop("offers", None)
        op.pop("indicators", None)
    raw["donors"] = [{k2: v for k2, v in d.items() if k2 != "work_areas"} for d in raw["donors"]]
    raw["operators"][k]["indicators"] = {"water_safety_plan_done_pct": 20, "nrw_pct": 30}
    got = _problems(raw)
    assert len(got) == 1 and "unknown indicator 'nrw_pct'" in got[0]
    raw["operators"][k]["indicators"] = {"water_safety_plan_done_pct": 20}
    assert parse_instance(raw).operators[k].indicators == {"water_safety_plan_done_pct": 20.0}


def test_the_workbook_carries_start_indicators_and_in_kind_and_locates_their_problems(tmp_path):
    inst = load_instance(DEMO).instance
    stated = [op for op in inst.operators if op.indicators]
    assert inst.start == "2027-03" and stated and all(op.in_kind for op in inst.operators)
    path = tmp_path / "round.xlsx"
    path.write_bytes(instance_workbook_bytes(inst))
    assert load_instance(path).instance == inst
    wb = openpyxl.load_workbook(path)
    ws = wb["indicators"]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    assert rows[0] == ["operator", "indicator", "value"]
    assert len(rows) - 1 == sum(len(op.indicators) for op in inst.operators)
    first = stated[0]
    taken = next(iter(first.indicators))
    for row in (["Q", "nrw_pct", 30], [first.id, "nrw_pt", 30], [first.id, taken, 1], [first.id, None, 3],
                [first.id, "supply_hours", 30]):
        ws.append(row)
    wb.save(path)
    n = len(rows)
    with pytest.raises(InputError) as exc:
        load_instance(path)
    got = [f"{p.where}: {p.message}" for p in exc.value.problems]
    assert got[:4] == [
        f"sheet indicators, row {n + 1}, column operator: unknown operator 'Q'",
        f"sheet indicators, row {n + 2}: unknown indicator 'nrw_pt' (operator {first.id}); did you mean 'nrw_pct'?",
        f"sheet indicators, row {n + 3}, column indicator: {first.id}'s {taken} is given twice (first at row "
        f"{next(k + 2 for k, r in enumerate(rows[1:]) if r[:2] == [first.id, taken])})",
        f"sheet indicators, row {n + 4}, column indicator: missing: every row names an indicator and its value"]
    if "supply_hours" not in first.indicators:
        assert got[4] == (f"sheet indicators, row {n + 5}: Hours of supply per day must be between 0 and 24 "
                          f"hours/day, got 30 (operator {first.id})")


def test_every_work_area_of_the_table_has_indicators_whose_defaults_lie_in_their_range():
    assert set(AREAS) == {"septage", "non_revenue_water", "climate_adaptation", "customer_relations", "regulation"}
    for area in AREAS.values():
        assert area.objective and len(area.activities) >= 3 and area.indicators
        for ind in area.indicators:
            assert ind.low <= ind.baseline <= ind.high and ind.low <= ind.good <= ind.high
            assert (ind.good > ind.baseline) == (ind.better == "higher")
            assert indicator(ind.id) is ind and INDICATORS[ind.id] is ind
    assert area_of("septage") is AREAS["septage"] and indicator("nope") is None
