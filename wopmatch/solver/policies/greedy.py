"""The two baselines: ``greedy`` (the hand method) and ``random`` (the null model)."""

from __future__ import annotations

import time

import numpy as np

from ..decode import Assignment
from ..encoding import CandidateGraph
from ..greedy import greedy_assignment
from .base import Policy, SolveOptions, heuristic_assignment


class GreedyPolicy(Policy):
    """Pairs in descending score (ties: mentee, then mentor, in instance order),
    each taken while its mentee is free, its mentor has room and, with donors, the
    first donor in instance order that can fund it has budget and count left."""

    name = "greedy"
    exact = False
    summary = "pairs in descending score while mentee, mentor and a donor have room (the hand method)"

    def solve(self, graph: CandidateGraph, options: SolveOptions) -> Assignment:
        t0 = time.perf_counter()
        pairs, donors = greedy_assignment(graph)
        return heuristic_assignment(pairs, donors, "greedy", t0)


class RandomPolicy(Policy):
    """The same taking rule in a uniformly random order of the eligible pairs
    (numpy's PCG64 seeded with --seed): a random maximal matching, the null
    baseline every other policy should beat."""

    name = "random"
    exact = False
    summary = "a random maximal matching (seeded): the null baseline"

    def solve(self, graph: CandidateGraph, options: SolveOptions) -> Assignment:
        t0 = time.perf_counter()
        order = np.random.default_rng(options.seed).permutation(graph.n_candidates)
        pairs, donors = greedy_assignment(graph, order)
        return heuristic_assignment(pairs, donors, "random", t0)
