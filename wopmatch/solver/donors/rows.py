"""A stage's model with donors, written once (docs/model.md, "With donors").

Columns x[e,d] in {0,1}: candidate pair e funded by donor d (d = -1 when the round
has no donors: only the tests' oracle builds such models). The rows, in this order:

    sum_{(e,d): mentee(e)=i} x[e,d] <= 1         each free mentee at most once   (n rows)
    sum_{(e,d): mentor(e)=j} x[e,d] <= cap_j      capacity left after pinned      (m rows)
    sum_{e: d} cost_e x[e,d]        <= budget_d   budget left after pinned        (k rows)
    sum_{e: d} x[e,d]               <= count_d    donors whose count is limited   (max_count; cuts.py)
    sum_e g_e x[e,d]  >= h  (or <= h)             rows kept from earlier stages   (one each)

Every coefficient and bound is an integer, so a 0/1 assignment is checked
exactly (``fits``). Float solvers (HiGHS's LP and MIP) get the kept rows widened
by half a unit (``float_bounds``): no 0/1 point changes side, and HiGHS does not
reject its own optimum over a 1e-6 violation of a row whose activity is ~1e10.
The column-generation master (bound.py), the MIP solvers and CP-SAT (solvers.py)
all read these rows from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from ortools.math_opt import model_pb2

from ..graph.encoding import NO_LIMIT, CandidateGraph

if TYPE_CHECKING:
    from ortools.sat.python import cp_model

#: The stages, in the order of the default objective (min-cost puts cost before quality).
STAGES = ("coverage", "quality", "cost")

#: A stage whose gap is at most this share of its bound counts as proven (engine.settled): HiGHS
#: computes bounds in floating point, with tolerances of about that size.
PROOF_TOLERANCE = 1e-9

#: A row kept from an earlier stage: (coefficient per candidate pair, value, +1 for >= / -1 for <=).
Keep = tuple[np.ndarray, int, int]


#: A stage's integer objective per candidate pair, and whether it is maximised.
Objective = tuple[np.ndarray, bool]


def stage_objective(g: CandidateGraph, name: str) -> Objective:
    """The objective of stage ``name``. Computed once a stage and handed on: at 20,000 x
    5,000 x 5 the quality units of 28 million pairs took a quarter of the solve when every
    LNS round recomputed them."""
    if name == "coverage":
        return g.mentee_weight_units[g.pair_mentee].astype(np.int64), True
    if name == "quality":
        return g.pair_quality_units(), True
    if name == "cost":
        return g.cost.astype(np.int64), False
    raise ValueError(f"unknown stage {name!r}; stages: {', '.join(STAGES)}")


def maximised(objective: Objective) -> np.ndarray:
    """The objective in the form the engine maximises (cost negated)."""
    obj, maximise = objective
    return obj if maximise else -obj


def counted(g: CandidateGraph) -> np.ndarray:
    """The donors with a count row."""
    return np.flatnonzero(g.max_count < NO_LIMIT)


def row_bounds(g: CandidateGraph, keep: list[Keep]) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) of every row, exact (+-inf where a side is open)."""
    plain = np.concatenate([np.ones(g.n_mentees), g.capacity, g.budget, g.max_count[counted(g)]]).astype(np.float64)
    lower = np.concatenate([np.full(len(plain), -np.inf),
                            [value if sense > 0 else -np.inf for _, value, sense in keep]])
    upper = np.concatenate([plain, [value if sense < 0 else np.inf for _, value, sense in keep]])
    return lower, upper


def float_bounds(lower: np.ndarray, upper: np.ndarray, n_kept: int) -> tuple[np.ndarray, np.ndarray]:
    """The bounds a float solver gets: the kept rows (the last ``n_kept``) widened by half a unit."""
    lower, upper = lower.copy(), upper.copy()
    if n_kept:
        lower[-n_kept:] -= 0.5
        upper[-n_kept:] += 0.5
    return lower, upper


def entries(g: CandidateGraph, keep: list[Keep], pairs: np.ndarray, donors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, column, coefficient) of the columns (pairs[c], donors[c]) in the rows of
    row_bounds, the column index being c; sorted by row, then column."""
    nv = len(pairs)
    var = np.arange(nv)
    n, m, k = g.n_mentees, g.n_mentors, g.n_donors
    count_row = np.full(max(k, 1), -1)
    with_count = counted(g)
    count_row[with_count] = n + m + k + np.arange(len(with_count))
    parts = [(g.pair_mentee[pairs].astype(np.int64), var, np.ones(nv)),
             (n + g.pair_mentor[pairs].astype(np.int64), var, np.ones(nv))]
    if k:
        parts.append((n + m + donors, var, g.cost[pairs].astype(np.float64)))
        rows = count_row[donors]
        parts.append((rows[rows >= 0], var[rows >= 0], np.ones(int((rows >= 0).sum()))))
    first = n + m + k + len(with_count)
    for r, (coef, _, _) in enumerate(keep, start=first):
        v = coef[pairs].astype(np.float64)
        nz = np.flatnonzero(v)
        parts.append((np.full(len(nz), r), nz, v[nz]))
    rows = np.concatenate([p[0] for p in parts])
    cols = np.concatenate([p[1] for p in parts])
    coefs = np.concatenate([p[2] for p in parts])
    order = np.lexsort((cols, rows))
    return rows[order], cols[order], coefs[order]


@dataclass(frozen=True)
class StageModel:
    """One stage over some of its columns (all fundable ones, a core, a neighbourhood)."""

    pair: np.ndarray  # (V,) candidate pair of each column
    donor: np.ndarray  # (V,) donor of each column (-1 without donors)
    rows: np.ndarray  # the matrix, sorted by row
    cols: np.ndarray
    coefs: np.ndarray
    lower: np.ndarray  # exact row bounds
    upper: np.ndarray
    n_kept: int
    obj: np.ndarray  # (V,) the stage objective, in its own units
    maximise: bool

    @staticmethod
    def build(g: CandidateGraph, objective: Objective, keep: list[Keep], pairs: np.ndarray, donors: np.ndarray
              ) -> "StageModel":
        pairs, donors = np.asarray(pairs, np.int64), np.asarray(donors, np.int64)
        rows, cols, coefs = entries(g, keep, pairs, donors)
        lower, upper = row_bounds(g, keep)
        obj, maximise = objective
        return StageModel(pairs, donors, rows, cols, coefs, lower, upper, len(keep), obj[pairs], maximise)

    @staticmethod
    def over(g: CandidateGraph, objective: Objective, keep: list[Keep], mask: np.ndarray) -> "StageModel":
        """The model over the columns an (E, k) mask allows (an (E, 1) mask without donors)."""
        pairs, donors = np.nonzero(mask)
        return StageModel.build(g, objective, keep, pairs, donors if g.has_donors else np.full(len(pairs), -1))

    @property
    def size(self) -> int:
        return len(self.pair)

    def vector(self, pairs: np.ndarray, donors: np.ndarray) -> np.ndarray:
        """The 0/1 vector of an assignment whose columns are all in the model."""
        key = self.pair * (self.donor.max(initial=0) + 2) + self.donor + 1
        want = np.asarray(pairs, np.int64) * (self.donor.max(initial=0) + 2) + np.asarray(donors, np.int64) + 1
        return np.isin(key, want).astype(np.int64)

    def chosen(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        on = np.flatnonzero(np.asarray(x) > 0.5)
        return self.pair[on], self.donor[on]

    @property
    def sign(self) -> int:
        """+1 for a maximised stage, -1 for cost: the engine works on sign x objective."""
        return 1 if self.maximise else -1

    def gain(self, x: np.ndarray) -> int:
        """The stage objective of a 0/1 vector, in the maximised form."""
        return self.sign * int(self.obj @ np.asarray(x, np.int64))

    def fits(self, x: np.ndarray) -> bool:
        """Whether a 0/1 vector meets every row exactly (integer arithmetic)."""
        x = np.asarray(x, np.int64)
        activity = np.zeros(len(self.upper), np.int64)
        np.add.at(activity, self.rows, (self.coefs.astype(np.int64) * x[self.cols]))
        return bool(np.all(activity <= self.upper) and np.all(activity >= self.lower))

    def proto(self, integer: bool = True, objective_scale: float = 1.0) -> model_pb2.ModelProto:
        """The MathOpt model (HiGHS, SCIP), with float_bounds; the objective times
        ``objective_scale``."""
        lower, upper = float_bounds(self.lower, self.upper, self.n_kept)
        model = model_pb2.ModelProto(name="wopmatch")
        nv = self.size
        model.variables.ids.extend(range(nv))
        model.variables.lower_bounds.extend([0.0] * nv)
        model.variables.upper_bounds.extend([1.0] * nv)
        model.variables.integers.extend([integer] * nv)
        lc = model.linear_constraints
        lc.ids.extend(range(len(upper)))
        lc.lower_bounds.extend(lower.tolist())
        lc.upper_bounds.extend(upper.tolist())
        mat = model.linear_constraint_matrix
        mat.row_ids.extend(self.rows.tolist())
        mat.column_ids.extend(self.cols.tolist())
        mat.coefficients.extend(self.coefs.tolist())
        model.objective.maximize = self.maximise
        nz = np.flatnonzero(self.obj)
        model.objective.linear_coefficients.ids.extend(nz.tolist())
        model.objective.linear_coefficients.values.extend((self.obj[nz].astype(np.float64) * objective_scale).tolist())
        return model

    def cp_model(self) -> tuple["cp_model.CpModel", list]:
        """The same rows in CP-SAT (exact bounds); the objective is left to the caller."""
        from ortools.sat.python import cp_model  # here: importing it costs every process 0.16 s

        model = cp_model.CpModel()
        x = [model.new_bool_var("") for _ in range(self.size)]
        starts = np.searchsorted(self.rows, np.arange(len(self.upper) + 1))
        for r in range(len(self.upper)):
            a, b = starts[r], starts[r + 1]
            if a == b:
                continue
            expr = cp_model.LinearExpr.weighted_sum([x[c] for c in self.cols[a:b].tolist()],
                                                    self.coefs[a:b].astype(np.int64).tolist())
            if np.isfinite(self.upper[r]):
                model.add(expr <= int(self.upper[r]))
            if np.isfinite(self.lower[r]):
                model.add(expr >= int(self.lower[r]))
        return model, x
