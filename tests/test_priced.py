"""min-cost, max-min and regional-equity on a priced working set equal the same
policies on the whole candidate graph (issue: policies, at scale)."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from helpers import parse, solve_checked, tiny_instances
from hypothesis import given
from hypothesis import strategies as st

from wopmatch.generator import generate
from wopmatch.solver.errors import UnsupportedMethodError
from wopmatch.solver.tuning import PricingParams, Tuning

PRICED = ["min-cost", "max-min", "regional-equity"]


#: One pair per mentee to start, none per mentor, one added per mentee per round,
#: every pair of positive reduced cost dropped: pricing finds the rest.
STARVED = Tuning().starved()


def _stage(s, name):
    """The stage's value, None when the policy did not run (pinned partnerships overrun)."""
    return next((st.value for st in s.stats.stages if st.name == name), None)


def _same_answer(full, priced, policy):
    assert priced.objective == full.objective  # coverage, quality and cost, each exact
    if policy == "max-min":
        assert _stage(priced, "threshold") == _stage(full, "threshold")
        if full.metrics is not None:
            assert priced.metrics.min_score == full.metrics.min_score
    if policy == "regional-equity":
        assert _stage(priced, "lowest-rate") == _stage(full, "lowest-rate")


@pytest.mark.parametrize("policy", PRICED)
@pytest.mark.parametrize("tuning", [STARVED, STARVED.uncached()], ids=["cached", "uncached"])
@given(raw=tiny_instances(donors=False))
def test_priced_equals_the_whole_graph_on_tiny_instances(raw, tuning, policy):
    inst = parse(raw)
    full = solve_checked(inst, policy, method="flow")
    priced = solve_checked(inst, policy, method="flow-pricing", tuning=tuning)
    assert "pricing" in priced.stats.method or priced.status == "infeasible"  # pinned overrun: nothing to solve
    _same_answer(full, priced, policy)


@pytest.mark.parametrize("policy", PRICED)
@pytest.mark.parametrize("seed,folded", [(1, True), (2, True), (1, False)])
def test_priced_equals_the_whole_graph_after_many_rounds(policy, seed, folded):
    inst = parse(generate(300, 80, seed=seed, needs="legacy"))
    full = solve_checked(inst, policy, method="flow")
    priced = solve_checked(inst, policy, method="flow-pricing", tuning=STARVED if folded else STARVED.unfolded())
    _same_answer(full, priced, policy)
    names = {st.name for st in priced.stats.stages}
    assert any("+" in n for n in names) == folded, names
    rounds = int(priced.stats.method.rsplit("(", 1)[1].split(" rounds")[0])
    assert rounds >= 6  # the starved working set needed pricing, stage after stage
    assert priced.stats.candidates == full.stats.candidates  # every eligible pair is counted
    assert priced.stats.working_set < priced.stats.candidates


@pytest.mark.parametrize("policy", PRICED)
def test_default_working_set_and_group_by_country(policy):
    inst = parse(generate(400, 100, seed=3))
    kw = {"group_by": "country"} if policy == "regional-equity" else {}
    full = solve_checked(inst, policy, method="flow", **kw)
    priced = solve_checked(inst, policy, method="flow-pricing", **kw)
    _same_answer(full, priced, policy)


def test_flow_pricing_refuses_donors_and_keep_stable():
    inst = parse(generate(40, 10, donors=2, seed=4))
    with pytest.raises(UnsupportedMethodError, match="does not model donor budgets"):
        solve_checked(inst, "min-cost", method="flow-pricing")
    free = parse(generate(40, 10, seed=4))
    with pytest.raises(UnsupportedMethodError, match="--keep-stable needs the whole candidate graph"):
        solve_checked(free, "max-min", method="flow-pricing", prefer=[("x", "y")])


def test_first_working_set_is_the_same_however_often_the_pool_is_merged():
    from wopmatch.solver.graph.encoding import build_graph
    from wopmatch.solver.network import pricing

    g = build_graph(parse(generate(300, 80, seed=5)), candidates=False)
    sets = []
    for compact in (1, 10**9):  # merge after every block, or once at the end
        params = PricingParams(compact_min=compact, block_pairs=800)  # 10 mentees a block: 30 blocks
        sets.append(pricing.first_working_set(pricing.PairSource(g, money=False, params=params)).keys(g.n_mentors))
    assert len(sets[0]) > 300 and (sets[0] == sets[1]).all()


@given(k=st.integers(1, 10**9), unit=st.integers(1, 10**6), v1=st.integers(-10**6, 10**6),
       frac=st.floats(0, 1, exclude_max=True), money=st.booleans(), target=st.integers(-10**6, 10**6))
def test_folded_values_unfold_exactly(k, unit, v1, frac, money, target):
    from wopmatch.solver.network.pricing import Folded, Stage

    second = int(frac * k)  # in [0, k): a cost, or a quality (subtracted)
    stage = Stage("x", np.zeros(1, np.int64), money=1) if money else Stage("x", np.zeros(1, np.int64), quality=1)
    folded = Folded(stage, k, unit)
    value = k * v1 + (second if money else -second)
    assert folded.first_value(value) == v1 * unit
    assert (value <= folded.enough(target * unit)) == (v1 <= target)


def test_a_coarser_quality_resolution_when_the_finest_does_not_fit():
    """At 100,000 x 20,000 quality in units of 1e-9 does not fit one integer cost with
    coverage; fold() then takes the finest that does, as optimal's pricing does."""
    from wopmatch.solver.graph.encoding import build_graph
    from wopmatch.solver.network import flow, pricing

    inst = parse(generate(300, 80, seed=1))
    g = build_graph(inst, candidates=False)
    structure = flow.plain_structure(g)
    source = pricing.PairSource(g, money=False, params=PricingParams())
    pricing.first_working_set(source)
    zero = np.zeros(len(structure.tail), np.int64)
    coverage = pricing.Stage("coverage", flow.coverage_cost(g, structure))
    quality = pricing.Stage("q", zero, quality=1)
    assert pricing.fold(coverage, quality, source, structure).scale == 10**9
    for j in range(1, 12):  # the largest cost limit at which 1e-9 no longer fits
        with mock.patch.object(flow, "COST_LIMIT", 2**62 // 10**j):
            coarse = pricing.fold(coverage, quality, source, structure)
        if coarse is None or coarse.scale < 10**9:
            break
    assert coarse is not None and coarse.scale < 10**9
    full = solve_checked(inst, "max-min", method="flow")
    with mock.patch.object(flow, "COST_LIMIT", 2**62 // 10**j):
        s = solve_checked(inst, "max-min", method="flow-pricing")
    assert f"quality resolution 1e-{len(str(coarse.scale)) - 1}" in s.stats.method
    assert s.objective.coverage == full.objective.coverage
    assert _stage(s, "threshold") == _stage(full, "threshold")
    assert abs(s.objective.quality - full.objective.quality) <= 300 * 2 / coarse.scale  # within the resolution
