"""benchmarks/report.py's before/after verdict: the first stage that differs decides, in the policy's order."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from report import compare_answers  # noqa: E402


def _stages(**values):
    return [{"name": name, "value": value} for name, value in values.items()]


def test_the_first_differing_stage_decides_and_cost_is_minimised():
    before = _stages(coverage=10.0, quality=5.0, cost=100.0)
    assert compare_answers(before, _stages(coverage=10.0, quality=5.0, cost=100.0)) == "same"
    assert compare_answers(before, _stages(coverage=10.0, quality=5.0, cost=90.0)) == "better"
    assert compare_answers(before, _stages(coverage=10.0, quality=5.0, cost=110.0)) == "worse"
    assert compare_answers(before, _stages(coverage=10.0, quality=4.0, cost=50.0)) == "worse"
    assert compare_answers(before, _stages(coverage=10.5, quality=1.0, cost=500.0)) == "better"


def test_min_cost_order_puts_cost_before_quality():
    before = _stages(coverage=10.0, cost=100.0, quality=5.0)
    assert compare_answers(before, _stages(coverage=10.0, cost=99.0, quality=1.0)) == "better"


def test_a_stage_without_a_value_is_skipped():
    before = _stages(coverage=10.0, threshold=None, quality=5.0)
    assert compare_answers(before, _stages(coverage=10.0, threshold=0.5, quality=6.0)) == "better"
