"""The peers in benchmarks/ solve the same problem: on small rounds they reach wopmatch's optimum."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import parse, solve_checked

from wopmatch.generator import generate
from wopmatch.solver.graph.encoding import build_graph

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import direct  # noqa: E402


def _objective(g, pairs):
    pairs = np.asarray(pairs, np.int64)
    w = g.mentee_weight[g.pair_mentee[pairs]]
    return float(w.sum()), float((w * g.score[pairs]).sum()), int(g.cost[pairs].sum())


@pytest.mark.parametrize("donors", [0, 2])
@pytest.mark.parametrize("model", [direct.cp_sat, direct.highs])
def test_direct_models_reach_the_lexicographic_optimum(model, donors):
    inst = parse(generate(40, 15, donors=donors, seed=3, tightness=0.3))
    ours = solve_checked(inst)
    assert ours.status == "optimal"
    g = build_graph(inst)
    res = model(g, 60)
    assert res.stages_proven == 3
    cov, qual, cost = _objective(g, res.pairs)
    assert cov == pytest.approx(ours.objective.coverage, abs=1e-9)
    assert qual == pytest.approx(ours.objective.quality, abs=1e-6)
    assert cost == ours.objective.cost
    assert len(set(g.pair_mentee[res.pairs].tolist())) == len(res.pairs)  # each mentee at most once
