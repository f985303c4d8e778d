"""optimal on a priced working set equals optimal on the whole graph (issue: exact at any size)."""

from __future__ import annotations

import math
from dataclasses import replace
from unittest import mock

import pytest
from helpers import assert_lexicographic_optimum, brute_force, parse, solve_checked, tiny_instances
from hypothesis import given
from hypothesis import strategies as st

from wopmatch.generator import generate
from wopmatch.solver.tuning import Tuning

STARVED = Tuning().starved()


def _rounds(s) -> int:
    return int(s.stats.method.split("(")[1].split(" rounds")[0])


@pytest.mark.parametrize("tuning", [STARVED, STARVED.uncached()], ids=["cached", "uncached"])
@given(raw=tiny_instances(donors=False))
def test_priced_equals_brute_force(raw, tuning):
    inst = parse(raw)
    s = solve_checked(inst, method="flow-pricing", tuning=tuning)
    assert_lexicographic_optimum(s, brute_force(inst))
    if s.status == "optimal":
        assert s.stats.method.startswith("min-cost-flow+pricing")


@pytest.mark.parametrize("tuning", [STARVED, STARVED.uncached()], ids=["cached", "uncached"])
@pytest.mark.parametrize("seed", [1, 2])
def test_priced_equals_full_graph_after_several_rounds(seed, tuning):
    inst = parse(generate(300, 80, seed=seed))
    full = solve_checked(inst, method="flow")
    priced = solve_checked(inst, method="flow-pricing", tuning=tuning)
    assert _rounds(priced) >= 3
    assert priced.objective == full.objective
    assert priced.stats.candidates == full.stats.candidates  # every eligible pair is counted
    assert priced.stats.working_set < priced.stats.candidates
    # the cost stage ran once on the closed face, without pricing
    assert [st.name for st in priced.stats.stages if st.name.startswith("cost")] == ["cost round 1"]


def test_pairs_dropped_between_rounds_do_not_change_the_answer():
    from wopmatch.solver.network import pricing

    inst = parse(generate(300, 80, seed=7))
    full = solve_checked(inst, method="flow")
    dropped = []
    real = pricing._worth_keeping

    def spy(mentee, rc, used, per_mentee):
        kept = real(mentee, rc, used, per_mentee)
        dropped.append(len(mentee) - len(kept))
        assert used[kept].sum() == used.sum()  # every pair in the flow is kept
        return kept

    tuning = Tuning()
    tuning = replace(tuning, optimal_pricing=replace(tuning.optimal_pricing, keep_per_mentee=2, add_per_mentee=4))
    with mock.patch.object(pricing, "_worth_keeping", spy):
        priced = solve_checked(inst, method="flow-pricing", tuning=tuning)
    assert sum(dropped) > 0
    assert priced.objective == full.objective


def test_default_working_set_converges_and_is_recorded():
    inst = parse(generate(400, 100, seed=3))
    s = solve_checked(inst, method="flow-pricing")
    full = solve_checked(inst, method="flow")
    assert s.objective == full.objective
    assert s.stats.working_set is not None and full.stats.working_set is None


def test_pricing_refuses_donors():
    from wopmatch.solver.errors import UnsupportedMethodError

    with pytest.raises(UnsupportedMethodError, match="does not model donor budgets"):
        solve_checked(parse(generate(20, 5, donors=2, seed=1)), method="flow-pricing")


def test_coarser_quality_resolution_when_the_finest_does_not_fit():
    inst = parse(generate(300, 80, seed=4))
    full = solve_checked(inst, method="flow")
    # A cost ceiling that 1e-9 quality units overflow (about 4 x 300 x 1e9 x 380 nodes) but 1e-7 ones do not.
    with mock.patch("wopmatch.solver.network.flow.COST_LIMIT", 10**13):
        priced = solve_checked(inst, method="flow-pricing")
    assert "quality resolution 1e-" in priced.stats.method
    assert priced.objective.coverage == full.objective.coverage
    assert math.isclose(priced.objective.quality, full.objective.quality, abs_tol=300 * 1e-6)


@pytest.mark.parametrize("how", ["no fit", "unfolded"])
def test_stages_apart_when_coverage_and_quality_are_not_folded(how):
    """Where no resolution fits one integer cost (or folding is off), the stages run
    apart, each priced, and the answer is the whole graph's."""
    inst = parse(generate(200, 50, seed=8))
    full = solve_checked(inst, method="flow")
    if how == "no fit":
        with mock.patch("wopmatch.solver.network.flow.COST_LIMIT", 10):
            priced = solve_checked(inst, method="flow-pricing", tuning=STARVED)
    else:
        priced = solve_checked(inst, method="flow-pricing", tuning=STARVED.unfolded())
    assert priced.objective == full.objective
    names = {st.name.split(" ")[0] for st in priced.stats.stages}
    assert {"coverage", "quality", "cost"} <= names and "coverage+quality" not in names


def test_a_cache_that_holds_some_blocks_gives_the_same_answer():
    from wopmatch.solver.graph.encoding import build_graph
    from wopmatch.solver.network.pricing import PairSource

    inst = parse(generate(300, 80, seed=5))
    full = solve_checked(inst, method="flow")
    tuning = replace(STARVED, optimal_pricing=replace(STARVED.optimal_pricing, cache_bytes=16 * 4_000,
                                                      block_pairs=2_000))
    source = PairSource(build_graph(inst, candidates=False), money=False, params=tuning.optimal_pricing)
    list(source.blocks())
    assert 0 < sum(kept is not None for kept in source._cache) < len(source._cache)  # some blocks kept, not all
    mixed = solve_checked(inst, method="flow-pricing", tuning=tuning)
    assert _rounds(mixed) >= 3
    assert mixed.objective == full.objective


def test_the_memory_saving_settings_for_the_largest_rounds_give_the_same_answer():
    inst = parse(generate(300, 80, seed=6))
    full = solve_checked(inst, method="flow")
    tuning = replace(STARVED, large_pairs=0)
    assert tuning.optimal_pricing_for(300 * 80).cache_bytes == 0
    priced = solve_checked(inst, method="flow-pricing", tuning=tuning)
    assert priced.objective == full.objective
    assert _rounds(priced) >= 3


@given(data=st.data())
def test_the_most_negative_pairs_per_mentee_are_those_of_a_full_sort(data):
    """pricing._most_negative (a partition per crowded mentee) takes what sorting every
    negative pair by (mentee, reduced cost, -quality, mentor) and keeping each
    mentee's first k would take, ties included."""
    import numpy as np

    from wopmatch.solver.network.pricing import _most_negative

    rows, m = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 12))
    k = data.draw(st.integers(1, 5))
    cells = data.draw(st.lists(st.tuples(st.integers(0, rows - 1), st.integers(0, m - 1)), min_size=1, max_size=60,
                               unique=True))
    cells.sort()
    local = np.array([r for r, _ in cells], np.int32)
    mentor = np.array([j for _, j in cells], np.int32)
    rc = np.array(data.draw(st.lists(st.integers(-4, 1), min_size=len(cells), max_size=len(cells))), np.int64)
    q = np.array(data.draw(st.lists(st.integers(0, 3), min_size=len(cells), max_size=len(cells))), np.int64)
    neg = np.flatnonzero(rc < 0)
    order = neg[np.lexsort((mentor[neg], -q[neg], rc[neg], local[neg]))]
    owner = local[order]
    rank = np.arange(len(order)) - np.searchsorted(owner, owner, side="left")
    expected = np.sort(order[rank < k])
    assert _most_negative(neg, local, mentor, rc, q, k).tolist() == expected.tolist()
