"""Golden instances: the solver reproduces objectives found by brute force."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from helpers import solve_checked

from wopmatch.models import load_instance

GOLDEN = Path(__file__).resolve().parent.parent / "instances" / "golden"
EXPECTED = json.loads((GOLDEN / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_golden(name):
    inst = load_instance(GOLDEN / f"{name}.json").instance
    s = solve_checked(inst)
    want = EXPECTED[name]
    if want is None:
        assert s.status == "infeasible" and s.objective is None
        return
    assert s.status == "optimal"
    assert math.isclose(s.objective.coverage, want["coverage"], abs_tol=1e-9)
    assert math.isclose(s.objective.quality, want["quality"], abs_tol=1e-6)
    assert s.objective.cost == want["cost"]


def test_demo_instance_is_valid_and_solves_optimally():
    demo = load_instance(GOLDEN.parent / "demo.json")
    s = solve_checked(demo.instance)
    assert s.status == "optimal"
    assert 50 <= len(demo.instance.operators) <= 70 and 3 <= len(demo.instance.donors) <= 4
    assert {p.pinned for p in s.partnerships} == {True, False}
