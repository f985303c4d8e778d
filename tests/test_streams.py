"""Heuristics on mentee streams (no candidate graph) give the same matching as on the whole graph."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from helpers import parse, solve_checked, tiny_instances
from hypothesis import given

from wopmatch.generator import generate
from wopmatch.solver.graph.encoding import build_graph
from wopmatch.solver.graph.streams import MenteeStreams, random_keys
from wopmatch.solver.tuning import StreamParams, Tuning

STREAMED = ["greedy", "random", "stable"]


def _pairs(s):
    return [(p.mentee, p.mentor, p.donor) for p in s.partnerships]


#: Every instance on streams, a chunk of one pair per mentee: every list is refilled.
STREAMED_TUNING = replace(Tuning().priced_from(0), streams=StreamParams(chunk=1))


@pytest.mark.parametrize("policy", STREAMED)
@given(raw=tiny_instances())
def test_streams_give_the_whole_graph_answer(raw, policy):
    inst = parse(raw)
    whole = solve_checked(inst, policy, seed=3)
    streamed = solve_checked(inst, policy, seed=3, tuning=STREAMED_TUNING)
    assert _pairs(streamed) == _pairs(whole)
    if whole.status != "infeasible":
        assert "mentee streams" in streamed.stats.method
        assert streamed.stats.candidates == whole.stats.candidates  # every eligible pair counted
        assert streamed.metrics == whole.metrics


@pytest.mark.parametrize("policy", STREAMED)
@pytest.mark.parametrize("donors", [0, 3])
def test_streams_at_a_size_with_refills(policy, donors):
    inst = parse(generate(400, 60, donors=donors, seed=31))
    whole = solve_checked(inst, policy, seed=7)
    streamed = solve_checked(inst, policy, seed=7, tuning=STREAMED_TUNING)
    assert _pairs(streamed) == _pairs(whole)
    assert int(streamed.stats.method.split("(")[1].split()[0]) > 0  # refills happened


def test_a_stream_lists_a_mentees_pairs_in_order_across_refills():
    g = build_graph(parse(generate(50, 30, seed=32)))
    s = MenteeStreams(build_graph(parse(generate(50, 30, seed=32)), candidates=False), "score", StreamParams(chunk=2))
    for i in range(g.n_mentees):
        want = [int(g.pair_mentor[e]) for e in np.flatnonzero(g.pair_mentee == i)]
        want.sort(key=lambda j: (-float(g.score[(g.pair_mentee == i) & (g.pair_mentor == j)][0]), j))
        got = []
        while (h := s.head(i)) is not None:
            got.append(h.mentor)
            s.advance(i)
        assert got == want


def test_random_keys_are_uniform_and_independent_of_blocks():
    mentee, mentor = np.repeat(np.arange(200), 300), np.tile(np.arange(300), 200)
    k = random_keys(5, mentee, mentor, 300)
    assert k.min() >= 0 and k.max() < 1 and abs(k.mean() - 0.5) < 0.01
    assert np.array_equal(k[:300], random_keys(5, np.zeros(300, int), np.arange(300), 300))
    assert not np.array_equal(k, random_keys(6, mentee, mentor, 300))
