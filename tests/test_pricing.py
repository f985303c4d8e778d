"""Pruned-and-priced answers equal unpruned ones (issue: exact at any size)."""

from __future__ import annotations

import contextlib
import math
from unittest import mock

import pytest
from helpers import assert_lexicographic_optimum, brute_force, parse, solve_checked, tiny_instances
from hypothesis import given

from wopmatch.generator import generate
from wopmatch.solver.graph.encoding import build_graph
from wopmatch.solver.network.optimal_pricing import solve_with_pricing


def _starved():
    """A first working set of one pair per mentee and nothing per mentor, adding one
    pair per mentee per round and dropping every pair of positive reduced cost
    between rounds: pricing has to find everything else."""
    return mock.patch.multiple("wopmatch.solver.network.optimal_pricing", K_MENTEE=1, K_MENTOR=0, ADD_PER_MENTEE=1,
                               KEEP_PER_MENTEE=0)


def _uncached():
    """Every pricing pass encodes its blocks again (what blocks past the cache budget do)."""
    return mock.patch("wopmatch.solver.network.optimal_pricing.PRICING_CACHE_BYTES", 0)


@pytest.mark.parametrize("cached", [True, False])
@given(raw=tiny_instances(donors=False))
def test_priced_equals_brute_force(raw, cached):
    inst = parse(raw)
    with _starved(), (contextlib.nullcontext() if cached else _uncached()):
        s = solve_checked(inst, method="flow-pricing")
    assert_lexicographic_optimum(s, brute_force(inst))
    if s.status == "optimal":
        assert s.stats.method.startswith("min-cost-flow+pricing")


@pytest.mark.parametrize("cached", [True, False])
@pytest.mark.parametrize("seed", [1, 2])
def test_priced_equals_full_graph_after_several_rounds(seed, cached):
    inst = parse(generate(300, 80, seed=seed))
    full = solve_checked(inst, method="flow")
    with _starved(), (contextlib.nullcontext() if cached else _uncached()):
        priced = solve_checked(inst, method="flow-pricing")
        rounds = solve_with_pricing(build_graph(inst, candidates=False)).rounds
    assert rounds >= 3
    assert priced.objective == full.objective
    assert priced.stats.candidates == full.stats.candidates  # every eligible pair is counted
    assert priced.stats.working_set < priced.stats.candidates


def test_pairs_dropped_between_rounds_do_not_change_the_answer():
    from wopmatch.solver.network import optimal_pricing as pricing

    inst = parse(generate(300, 80, seed=7))
    full = solve_checked(inst, method="flow")
    dropped = []
    real = pricing._worth_keeping

    def spy(work, rc, used, per_mentee):
        kept = real(work, rc, used, per_mentee)
        dropped.append(len(work.mentee) - len(kept))
        assert used[kept].sum() == used.sum()  # every pair in the flow is kept
        return kept

    with mock.patch.multiple(pricing, KEEP_PER_MENTEE=2, ADD_PER_MENTEE=4, _worth_keeping=spy):
        priced = solve_checked(inst, method="flow-pricing")
    assert sum(dropped) > 0
    assert priced.objective == full.objective


def test_default_working_set_converges_and_is_recorded():
    inst = parse(generate(400, 100, seed=3))
    s = solve_checked(inst, method="flow-pricing")
    full = solve_checked(inst, method="flow")
    assert s.objective == full.objective
    assert s.stats.working_set is not None and full.stats.working_set is None


def test_pricing_refuses_donors():
    from wopmatch.solver.policies import UnsupportedMethodError

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


def test_no_fit_at_all_is_a_clean_error(tmp_path):
    from click.testing import CliRunner

    from wopmatch.cli.main import cli

    src, out = tmp_path / "i.json", tmp_path / "s.json"
    runner = CliRunner()
    assert runner.invoke(cli, ["generate", "--mentees", "50", "--mentors", "10", "-o", str(src)]).exit_code == 0
    with mock.patch("wopmatch.solver.network.flow.COST_LIMIT", 10):
        r = runner.invoke(cli, ["solve", str(src), "-o", str(out), "--method", "flow-pricing"])
    assert r.exit_code == 1
    assert "use --method flow" in r.output and "Traceback" not in r.output
    assert not out.exists()


def test_a_cache_that_holds_some_blocks_gives_the_same_answer():
    inst = parse(generate(300, 80, seed=5))
    g = build_graph(inst, candidates=False)
    reference = solve_with_pricing(g, block_pairs=2_000)
    with _starved(), mock.patch("wopmatch.solver.network.optimal_pricing.PRICING_CACHE_BYTES", 16 * 4_000):
        mixed = solve_with_pricing(g, block_pairs=2_000)
    assert mixed.rounds >= 3 and mixed.eligible == reference.eligible
    assert [s.value for s in mixed.flow.stages if s.name == "cost"] == \
        [s.value for s in reference.flow.stages if s.name == "cost"]
    assert mixed.flow.stages[-2].value == reference.flow.stages[-2].value  # the last coverage+quality round


def test_the_memory_saving_settings_for_the_largest_rounds_give_the_same_answer():
    inst = parse(generate(300, 80, seed=6))
    full = solve_checked(inst, method="flow")
    with mock.patch("wopmatch.solver.network.optimal_pricing.LARGE_PAIRS", 0), \
            mock.patch("wopmatch.solver.network.optimal_pricing.ADD_PER_MENTEE_LARGE", 1):
        priced = solve_checked(inst, method="flow-pricing")
        rounds = solve_with_pricing(build_graph(inst, candidates=False)).rounds
    assert priced.objective == full.objective
    assert rounds >= 3  # one addition per mentee a round: the large-round setting was in force
