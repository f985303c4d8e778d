"""``stable``: mentee-proposing deferred acceptance with mentor capacities."""

from __future__ import annotations

import time

from ..graph.encoding import CandidateGraph
from ..heuristics.stable import deferred_acceptance, streamed_deferred_acceptance
from ..tuning import Tuning
from .base import Assignment, Policy, PolicyOptions, heuristic_assignment, streamed_assignment


class StablePolicy(Policy):
    """Mentees propose to eligible mentors in descending score (ties: lower
    mentor id first); a mentor holds its ``capacity`` best proposals by score
    (ties: lower mentee id) and rejects the rest. With donors, a proposal a mentor
    would hold is funded at that moment by the first donor (instance order) that
    can fund it and has budget and count left, else it is rejected; a displaced
    proposal releases its funding. Without donors the result is the
    mentee-optimal stable matching: no blocking pair. Scores are compared to 9
    decimals, as solution files state them."""

    name = "stable"
    exact = False
    summary = "mentee-proposing deferred acceptance (no blocking pair when funding is not modelled)"

    streams = True

    def solve(self, graph: CandidateGraph, options: PolicyOptions, tuning: Tuning) -> Assignment:
        t0 = time.perf_counter()
        if graph.n_candidates == 0:  # encoded without candidates (large): each mentee's list from its stream
            return streamed_assignment(graph, streamed_deferred_acceptance(graph, tuning.streams), "stable", t0)
        pairs, donors = deferred_acceptance(graph)
        return heuristic_assignment(pairs, donors, "stable", t0)
