"""The two baselines: ``greedy`` (the hand method) and ``random`` (the null model)."""

from __future__ import annotations

import time

import numpy as np

from ..graph.encoding import CandidateGraph
from ..graph.streams import random_keys
from ..heuristics.greedy import greedy_assignment, streamed_greedy
from ..tuning import Tuning
from .base import Assignment, Policy, PolicyOptions, heuristic_assignment, streamed_assignment


class GreedyPolicy(Policy):
    """Pairs in descending score (ties: mentee, then mentor, in instance order),
    each taken while its mentee is free, its mentor has room and, with donors, the
    first donor in instance order that can fund it has budget and count left."""

    name = "greedy"
    exact = False
    summary = "pairs in descending score while mentee, mentor and a donor have room (the hand method)"

    streams = True

    def solve(self, graph: CandidateGraph, options: PolicyOptions, tuning: Tuning) -> Assignment:
        t0 = time.perf_counter()
        if graph.n_candidates == 0:  # encoded without candidates (large): merge the mentees' streams
            return streamed_assignment(graph, streamed_greedy(graph, "score", tuning.streams), "greedy", t0)
        pairs, donors = greedy_assignment(graph)
        return heuristic_assignment(pairs, donors, "greedy", t0)


class RandomPolicy(Policy):
    """The same taking rule in a uniformly random order of the eligible pairs: a
    random maximal matching, the null baseline every other policy should beat.
    Each pair's place in the order is a hash of (--seed, mentee, mentor), so the
    whole graph and the mentee streams give the same matching."""

    name = "random"
    exact = False
    summary = "a random maximal matching (seeded): the null baseline"

    streams = True

    def solve(self, graph: CandidateGraph, options: PolicyOptions, tuning: Tuning) -> Assignment:
        t0 = time.perf_counter()
        if graph.n_candidates == 0:
            found = streamed_greedy(graph, "random", tuning.streams, options.seed)
            return streamed_assignment(graph, found, "random", t0)
        keys = random_keys(options.seed, graph.pair_mentee, graph.pair_mentor, graph.n_mentors)
        order = np.lexsort((graph.pair_mentor, graph.pair_mentee, keys))
        pairs, donors = greedy_assignment(graph, order)
        return heuristic_assignment(pairs, donors, "random", t0)
