"""The staged min-cost flow: against brute force with its stages run apart
(tiny instances always take the combined coverage+quality cost), against an
independent exact method (the staged MIP) on larger instances, and its potentials."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import assert_lexicographic_optimum, brute_force, parse, solve_checked, tiny_instances
from hypothesis import given
from oracle import staged_optimum

from wopmatch.generator import generate
from wopmatch.solver.graph.encoding import build_graph
from wopmatch.solver.network.flow import Network, min_cost_flow, residual_potentials
from wopmatch.solver.tuning import Tuning


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_flow_equals_the_donor_engine_when_a_donor_funds_everything_and_the_staged_mip(seed):
    raw = generate(70, 20, donors=0, seed=seed)
    flow = solve_checked(parse(raw))
    assert flow.stats.method == "staged-min-cost-flow"
    # The staged MIP over every pair (the tests' oracle) on the same round.
    opt, _ = staged_optimum(build_graph(parse(raw)))
    assert math.isclose(flow.objective.coverage, opt["coverage"] * 1e-6, abs_tol=1e-9)
    assert math.isclose(flow.objective.quality, opt["quality"] * 1e-9, abs_tol=1e-6)
    assert flow.objective.cost == opt["cost"]
    # One unrestricted donor with an unbounded budget changes nothing but the method.
    raw["donors"] = [{"id": "ALL", "budget": 10**12}]
    engine = solve_checked(parse(raw))
    assert engine.stats.method.startswith("colgen-lp") and engine.status == "optimal", engine.stats
    assert math.isclose(flow.objective.coverage, engine.objective.coverage, abs_tol=1e-9)
    assert math.isclose(flow.objective.quality, engine.objective.quality, abs_tol=1e-6)
    assert flow.objective.cost == engine.objective.cost
    assert len(flow.partnerships) > 20


def test_potentials_certify_optimality():
    g = build_graph(parse(generate(40, 12, seed=9)))
    n, m = g.n_mentees, g.n_mentors
    tail = np.concatenate([np.zeros(n, np.int64), 1 + g.pair_mentee, 1 + n + np.arange(m), [0]])
    head = np.concatenate([1 + np.arange(n), 1 + n + g.pair_mentor, np.full(m, n + m + 1), [n + m + 1]])
    upper = np.concatenate([np.ones(n + g.n_candidates, np.int64), g.capacity, [n]])
    lower = np.zeros_like(upper)
    cost = np.zeros(len(upper), np.int64)
    cost[n:n + g.n_candidates] = -np.arange(g.n_candidates) % 7  # arbitrary integer costs
    supply = np.zeros(n + m + 2, np.int64)
    supply[0], supply[-1] = n, -n
    net = Network(tail, head, lower, upper, supply, n + m + 2, slice(n, n + g.n_candidates))
    x = min_cost_flow(net, cost)
    pi = residual_potentials(net, lower, upper, cost, x)
    rc = cost + pi[tail] - pi[head]
    # Complementary slackness: positive reduced cost -> at lower bound; negative -> at upper.
    assert np.all(x[rc > 0] == lower[rc > 0])
    assert np.all(x[rc < 0] == upper[rc < 0])
    assert (rc != 0).any()


@given(tiny_instances(donors=False))
def test_separate_stages_equal_brute_force(raw):
    inst = parse(raw)
    s = solve_checked(inst, tuning=Tuning().unfolded())
    assert_lexicographic_optimum(s, brute_force(inst))
    if s.status == "optimal":
        assert [st.name for st in s.stats.stages] == ["coverage", "quality", "cost"]


@pytest.mark.parametrize("seed", [6, 7])
def test_combined_and_separate_stages_agree(seed):
    inst = parse(generate(120, 35, seed=seed))
    combined = solve_checked(inst)
    assert [st.name for st in combined.stats.stages] == ["coverage+quality", "cost"]
    apart = solve_checked(inst, tuning=Tuning().unfolded())
    assert combined.objective == apart.objective
