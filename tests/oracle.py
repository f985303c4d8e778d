"""The staged MIP over every (pair, donor) column, run to the end: the oracle the
donor engine's bounds and answers are checked against on rounds too large for
brute force. The same rows as the engine (solver/donors/rows.py), but no LP, no
cuts, no moves: HiGHS alone, each stage started from the last one's answer."""

from __future__ import annotations

import numpy as np

from wopmatch.solver.donors.rows import Keep, StageModel, stage_objective
from wopmatch.solver.donors.solvers import Run, solve_mip
from wopmatch.solver.graph.encoding import CandidateGraph
from wopmatch.solver.heuristics.greedy import greedy_assignment


def staged_optimum(g: CandidateGraph, order: tuple[str, ...] = ("coverage", "quality", "cost")
                   ) -> tuple[dict[str, int], tuple[np.ndarray, np.ndarray]]:
    """Each stage's exact value (in its own integer units) and the lexicographic optimum."""
    pairs, donors = greedy_assignment(g)
    keep: list[Keep] = []
    values: dict[str, int] = {}
    mask = g.fundable if g.has_donors else np.ones((g.n_candidates, 1), bool)
    for name in order:
        objective = stage_objective(g, name)
        model = StageModel.over(g, objective, keep, mask)
        answer = solve_mip(model, model.vector(pairs, donors if g.has_donors else np.full(len(pairs), -1)), Run(),
                           None, None)
        assert answer.proven(1), name
        pairs, donors = model.chosen(answer.x)
        obj, maximise = objective
        values[name] = int(obj[pairs].sum())
        keep.append((obj, values[name], 1 if maximise else -1))
    return values, (pairs, donors)
