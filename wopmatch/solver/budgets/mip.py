"""Exact lexicographic assignment with donors: a staged MIP through MathOpt.

Variables: x[e,d] in {0,1} for every candidate pair e and donor d that can fund it.

    sum_{e,d: mentee(e)=i} x[e,d] <= 1             each mentee at most once
    sum_{e,d: mentor(e)=j} x[e,d] <= cap_j          capacity left after pinned
    sum_{e: d}  cost_e x[e,d]     <= budget_d       budget left after pinned
    sum_{e: d}  x[e,d]            <= count_d        where max_partnerships is set

Stage 1 maximises sum W_i x (coverage in units of 1e-6), stage 2 maximises
sum Q_e x (quality in units of 1e-9) with stage 1's value as a constraint,
stage 3 minimises cost with both as constraints. All objective coefficients are
integers, so an absolute gap below 1 proves a stage optimal.

The model is written straight into a MathOpt ``ModelProto`` from numpy arrays
(the Python modelling layer costs about a microsecond per term), and solved by
the HiGHS bundled with OR-Tools (highs.py). Each stage is started from the
previous stage's solution (or the greedy heuristic's) as a hint.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Optional

import numpy as np
from ortools.math_opt import model_pb2, result_pb2

from ..graph.encoding import NO_LIMIT, CandidateGraph
from .highs import HighsRun, MipError, solve_model

T = result_pb2.TerminationReasonProto
__all__ = ["HighsRun", "MipError", "MipResult", "MipStage", "StageOutcome", "solve_stage", "solve_staged_mip",
           "stage_objectives"]


@dataclass(frozen=True)
class MipStage:
    name: str
    status: str  # "optimal" | "feasible" | "no_solution" | "not_run"
    seconds: float
    value: Optional[int]
    bound: Optional[float]  # in the stage's integer units


@dataclass(frozen=True)
class MipResult:
    pair: np.ndarray  # candidate indices chosen
    donor: np.ndarray  # donor index for each
    stages: list[MipStage]


@dataclass(frozen=True)
class StageOutcome:
    """One stage solved over some of the variables (all of them, or a core)."""

    pair: np.ndarray
    donor: np.ndarray
    status: str  # "optimal" (for the variables given) | "feasible"
    value: int  # stage objective of the returned assignment, in the stage's integer units
    bound: Optional[float]  # solver's bound over the variables given
    seconds: float


#: A row kept from an earlier stage: (coefficient per candidate, value, +1 for >= / -1 for <=).
Keep = tuple[np.ndarray, int, int]


def stage_objectives(g: CandidateGraph) -> dict[str, tuple[np.ndarray, bool]]:
    """Each stage's integer objective per candidate and whether it is maximised."""
    return {
        "coverage": (g.mentee_weight_units[g.pair_mentee].astype(np.int64), True),
        "quality": (g.pair_quality_units(), True),
        "cost": (g.cost.astype(np.int64), False),
    }


@dataclass
class _StageModel:
    """One stage's MIP over the variables (pair, donor) a mask allows."""

    var_pair: np.ndarray
    var_donor: np.ndarray  # -1 without donors
    rows: np.ndarray
    cols: np.ndarray
    coefs: np.ndarray
    rhs: np.ndarray
    extra: list[Keep]  # the kept rows, over these variables
    obj: np.ndarray
    maximise: bool
    proto: model_pb2.ModelProto

    @staticmethod
    def build(g: CandidateGraph, name: str, keep: list[Keep], mask: np.ndarray) -> "_StageModel":
        obj_pair, maximise = stage_objectives(g)[name]
        var_pair, var_donor = np.nonzero(mask)
        if not g.has_donors:
            var_donor = np.full(len(var_pair), -1)
        var_pair = var_pair.astype(np.int64)
        rows, cols, coefs, rhs = _constraints(g, var_pair, var_donor)
        extra = [(coef[var_pair], value, sense) for coef, value, sense in keep]
        obj = obj_pair[var_pair]
        return _StageModel(var_pair, var_donor, rows, cols, coefs, rhs, extra, obj, maximise,
                           _model(len(var_pair), rows, cols, coefs, rhs, extra, obj, maximise))

    def vector(self, pairs: np.ndarray, donors: np.ndarray) -> np.ndarray:
        return _as_vector(self.var_pair, self.var_donor, pairs, donors)

    def fits(self, x: np.ndarray) -> bool:
        return _fits(x, self.rows, self.cols, self.coefs, self.rhs, self.extra)


def _variables(g: CandidateGraph, allowed: Optional[np.ndarray], hp: np.ndarray, hd: np.ndarray) -> np.ndarray:
    """(E, K) mask of the variables: fundable (pair, donor) where ``allowed`` says,
    and always the hint's own."""
    mask = g.fundable if g.has_donors else np.ones((g.n_candidates, 1), bool)
    if allowed is not None:
        mask = mask & (allowed if allowed.ndim == 2 else allowed[:, None])
    if len(hp):
        mask = mask.copy()
        mask[hp, np.maximum(hd, 0)] = True
    return mask


def solve_stage(
    g: CandidateGraph,
    name: str,
    keep: list[Keep],
    hint_pairs: np.ndarray,
    hint_donors: np.ndarray,
    time_limit: Optional[float],
    run: HighsRun,
    step: int = 1,
    allowed: Optional[np.ndarray] = None,
    bound_cap: Optional[float] = None,
    incumbent: Optional[tuple[np.ndarray, np.ndarray]] = None,
) -> Optional[StageOutcome]:
    """Optimise stage ``name`` subject to the capacity, budget and count rows and
    the ``keep`` rows of earlier stages, over the variables (pair, donor) that
    ``allowed`` marks ((E,) or (E, K) boolean; None = all). The hint must be
    feasible; it is returned when the solver finds nothing better. None when the
    solve was stopped at its deadline before HiGHS answered.

    Over all variables (``allowed`` None) a stage of LP_FIXED_STAGES is first
    reduced by LP reduced-cost fixing (_lp_core), from the better of the hint and
    ``incumbent``; the optimum over what is left is the stage's optimum."""
    t0 = time.perf_counter()
    hp, hd = np.asarray(hint_pairs, np.int64), np.asarray(hint_donors, np.int64)
    sm = _StageModel.build(g, name, keep, _variables(g, allowed, hp, hd))
    current = sm.vector(hp, hd)

    def remaining() -> Optional[float]:
        return None if time_limit is None else time_limit - (time.perf_counter() - t0)

    if remaining() is not None and remaining() <= 0:
        return None
    if allowed is None and name in LP_FIXED_STAGES and len(sm.var_pair) >= run.params.lp_fixing_min_variables:
        if incumbent is not None:  # the core is smaller the better the incumbent
            inc = sm.vector(*incumbent)
            if _better(sm.obj @ inc, sm.obj @ current, sm.maximise):
                current = inc
        core = _lp_core(sm, current, step, remaining(), run)
        if core is not None:
            keep_var, better = core
            if better is not None:
                current = better
            fixed = np.zeros((g.n_candidates, g.fundable.shape[1] if g.has_donors else 1), bool)
            fixed[sm.var_pair[keep_var], np.maximum(sm.var_donor[keep_var], 0)] = True
            chosen = np.flatnonzero(current)
            out = solve_stage(g, name, keep, sm.var_pair[chosen], sm.var_donor[chosen], remaining(), run, step,
                              allowed=fixed, bound_cap=bound_cap)
            if out is not None:  # optimal over the core = optimal: every better assignment lies in it
                return replace(out, seconds=time.perf_counter() - t0)
            return None
        if remaining() is not None and remaining() <= 0:
            return None
    result = solve_model(sm.proto, current, remaining(), run, gap=step - 0.5, presolve=PRESOLVE[name])
    if result is None:
        return None
    return _outcome(sm, result, current, step, bound_cap, time.perf_counter() - t0)


def _outcome(sm: _StageModel, result: result_pb2.SolveResultProto, current: np.ndarray, step: int,
             bound_cap: Optional[float], seconds: float) -> StageOutcome:
    """The better of HiGHS's answer and ``current`` (a solver may stop at a limit
    with a worse incumbent than the one it was given), counting only an answer
    that is feasible once rounded to 0/1; its status and bound."""
    if result.solutions and result.solutions[0].HasField("primal_solution"):
        sol = result.solutions[0].primal_solution.variable_values
        x = np.zeros(len(sm.var_pair))
        x[np.asarray(sol.ids, dtype=np.int64)] = np.asarray(sol.values)
        candidate = (x > 0.5).astype(np.int64)
        if sm.fits(candidate) and not _better(sm.obj @ current, sm.obj @ candidate, sm.maximise):
            current = candidate
    bound = result.termination.objective_bounds.dual_bound
    if bound_cap is not None:
        bound = min(bound, bound_cap) if sm.maximise else max(bound, bound_cap)
    value = int(sm.obj @ current)
    proven = result.termination.reason == T.TERMINATION_REASON_OPTIMAL or _closed(value, bound, sm.maximise, step)
    chosen = np.flatnonzero(current)
    return StageOutcome(sm.var_pair[chosen], sm.var_donor[chosen].astype(np.int64), "optimal" if proven else "feasible",
                        value, float(bound) if np.isfinite(bound) else None, seconds)


#: Whether HiGHS presolves each stage. Measured (docs/model.md, "Presolve"): on
#: the quality and cost stages, whose kept rows span every variable, presolve
#: took 6 of 8.6 s at 300 x 70 and removed 2% of the columns; switched off, the
#: stages ran 3-5x faster. On the coverage stage it helps about as often as it hurts.
PRESOLVE = {"coverage": True, "quality": False, "cost": False}


#: Stages solved first as an LP whose reduced costs fix variables (_lp_core), from
#: BudgetParams.lp_fixing_min_variables variables on.
LP_FIXED_STAGES = ("coverage", "quality", "cost")


def _lp_core(sm: _StageModel, hint: np.ndarray, step: int, time_limit: Optional[float],
             run: HighsRun) -> Optional[tuple[np.ndarray, Optional[np.ndarray]]]:
    """Reduced-cost fixing from the LP relaxation (None when the LP does not solve).

    1. Solve the LP relaxation; its duals y give, for *any* y, the bound
       c.x <= sum_v max(0, r_v) + sum_rows y_r * (bound of row r) for 0 <= x <= 1,
       r = c - yA (computed here, so MathOpt's sign conventions cannot make it
       invalid: a wrong-signed dual only weakens it).
    2. The MIP over the LP's support (and the hint's variables) gives an incumbent z.
    3. A variable with r_v < 0 set to 1 lowers the bound by |r_v|: if that goes
       below z + step it is 0 in every better assignment. The rest is the core.
    Returns (core variable mask, better incumbent or None)."""
    model, obj, rows, cols, coefs, rhs, extra = sm.proto, sm.obj, sm.rows, sm.cols, sm.coefs, sm.rhs, sm.extra
    sign = 1.0 if sm.maximise else -1.0  # work on max sign*obj
    lp = model_pb2.ModelProto()
    lp.CopyFrom(model)
    del lp.variables.integers[:]
    lp.variables.integers.extend([False] * len(hint))
    result = solve_model(lp, hint, time_limit, run, presolve=False)
    if result is None or result.termination.reason != T.TERMINATION_REASON_OPTIMAL or not result.solutions:
        return None
    sol = result.solutions[0]
    if not sol.HasField("dual_solution"):
        return None
    n_rows = len(rhs)
    y = np.zeros(n_rows + len(extra))
    duals = sol.dual_solution.dual_values
    y[np.asarray(duals.ids, dtype=np.int64)] = np.asarray(duals.values)
    y *= sign
    # Row bounds: the model rows are <= rhs; kept rows are >= value (sense +1) or <= value (-1).
    upper_b = np.concatenate([rhs, [value + 0.5 if sense < 0 else np.inf for _, value, sense in extra]])
    lower_b = np.concatenate([np.full(n_rows, -np.inf), [value - 0.5 if sense > 0 else -np.inf
                                                         for _, value, sense in extra]])
    y = np.where(y > 0, np.where(np.isfinite(upper_b), y, 0.0), np.where(np.isfinite(lower_b), y, 0.0))
    ya = np.bincount(cols, weights=y[rows] * coefs, minlength=len(hint))
    for r, (coef, _, _) in enumerate(extra, start=n_rows):
        ya = ya + y[r] * coef
    red = sign * obj - ya
    row_term = np.where(y > 0, y * np.where(np.isfinite(upper_b), upper_b, 0.0),
                        y * np.where(np.isfinite(lower_b), lower_b, 0.0))
    bound = float(np.maximum(red, 0).sum() + row_term.sum())
    x_lp = np.zeros(len(hint))
    primal = sol.primal_solution.variable_values
    x_lp[np.asarray(primal.ids, dtype=np.int64)] = np.asarray(primal.values)
    # An incumbent from the LP's support.
    support = (x_lp > 1e-9) | (hint > 0)
    small = model_pb2.ModelProto()
    small.CopyFrom(model)
    small.variables.upper_bounds[:] = np.where(support, 1.0, 0.0).tolist()
    res = solve_model(small, hint, time_limit, run, presolve=False, gap=step - 0.5)
    incumbent = hint
    if res is not None and res.solutions and res.solutions[0].HasField("primal_solution"):
        vals = res.solutions[0].primal_solution.variable_values
        x = np.zeros(len(hint))
        x[np.asarray(vals.ids, dtype=np.int64)] = np.asarray(vals.values)
        candidate = (x > 0.5).astype(np.int64)
        if sm.fits(candidate) and sign * (obj @ candidate) > sign * (obj @ hint):
            incumbent = candidate
    z = sign * float(obj @ incumbent)
    slack = bound - (z + step) + 1e-7 * abs(bound) + 1.0  # float rounding only ever widens the core
    core = (red >= -slack) | (incumbent > 0)
    return core, (incumbent if incumbent is not hint else None)


def solve_staged_mip(
    g: CandidateGraph,
    start_pairs: np.ndarray,
    start_donors: np.ndarray,
    time_limit: Optional[float],
    run: HighsRun,
    coverage_cap: Optional[int] = None,
    coverage_step: int = 1,
    first_hint: Optional[tuple[np.ndarray, np.ndarray]] = None,
    stage_names: tuple[str, ...] = ("coverage", "quality", "cost"),
) -> MipResult:
    """Solve the stages in turn over all variables; ``start_*`` is a feasible
    assignment (the greedy one).

    ``coverage_cap`` is a known upper bound on stage 1 (the budget-free maximum):
    it tightens the reported bound, and proves stage 1 outright when the start
    already reaches it. ``coverage_step`` divides every achievable coverage (the
    gcd of the weight units), so a stage-1 gap below it is a proof.
    ``first_hint`` replaces the start as stage 1's hint to HiGHS (the start stays
    the incumbent): measured, the greedy assignment often makes a faster hint
    than a better Lagrangian one (0.11 s against 2.9 s at 200 x 60).
    ``stage_names`` runs only those stages."""
    t_start = time.perf_counter()
    deadline = None if time_limit is None else t_start + time_limit
    pairs, donors = np.asarray(start_pairs, np.int64), np.asarray(start_donors, np.int64)
    stages: list[MipStage] = []
    keep: list[Keep] = []
    for name in stage_names:
        obj, maximise = stage_objectives(g)[name]
        value = int(obj[pairs].sum())
        cap = float(coverage_cap) if name == "coverage" and coverage_cap is not None else None
        remaining = None if deadline is None else deadline - time.perf_counter()
        if remaining is not None and remaining <= 0:
            stages.append(MipStage(name, "not_run", 0.0, value, cap))
            break
        if cap is not None and value >= cap:
            stages.append(MipStage(name, "optimal", 0.0, value, cap))
        else:
            step = coverage_step if name == "coverage" else 1
            incumbent = (pairs, donors)
            hint = first_hint if name == "coverage" and first_hint is not None else incumbent
            t0 = time.perf_counter()
            out = _solve_from(g, name, keep, hint, incumbent, remaining, run, step, cap)
            if out is None:  # stopped at the deadline before HiGHS returned
                stages.append(MipStage(name, "feasible", time.perf_counter() - t0, value, cap))
                break
            pairs, donors = out.pair, out.donor
            stages.append(MipStage(name, out.status, out.seconds, out.value, out.bound))
            if out.status != "optimal":
                break
            value = out.value
        # The next stage keeps this one's optimum: obj.x >= value (or <= for cost).
        keep.append((obj, value, 1 if maximise else -1))
    return MipResult(pairs, donors, stages)


def _solve_from(g, name, keep, hint, incumbent, time_limit, run, step, cap) -> Optional[StageOutcome]:
    """solve_stage hinted with ``hint``; the incumbent wins when it is better."""
    out = solve_stage(g, name, keep, hint[0], hint[1], time_limit, run, step, bound_cap=cap, incumbent=incumbent)
    if out is None or hint is incumbent:
        return out
    obj, maximise = stage_objectives(g)[name]
    inc_value = int(obj[incumbent[0]].sum())
    if _better(inc_value, out.value, maximise):
        proven = _closed(inc_value, out.bound if out.bound is not None else np.nan, maximise, step)
        return StageOutcome(incumbent[0], incumbent[1], "optimal" if proven else out.status, inc_value,
                            out.bound, out.seconds)
    return out


def _better(a: float, b: float, maximise: bool) -> bool:
    return a > b if maximise else a < b


def _fits(x, rows, cols, coefs, rhs, extra) -> bool:
    """Exact integer check of the rounded assignment against every row."""
    activity = np.bincount(rows, weights=coefs * x[cols], minlength=len(rhs))
    if np.any(activity > rhs + 1e-9):
        return False
    for coef, value, sense in extra:
        total = int(coef @ x)
        if (sense > 0 and total < value) or (sense < 0 and total > value):
            return False
    return True


def _closed(value: int, bound: float, maximise: bool, step: int = 1) -> bool:
    if not np.isfinite(bound):
        return False
    return bound - value < step if maximise else value - bound < step


def _as_vector(var_pair, var_donor, pairs, donors) -> np.ndarray:
    x = np.zeros(len(var_pair), np.int64)
    if len(pairs):
        key = var_pair * (1 << 20) + var_donor  # donors -1..2^20: keys stay distinct
        want = np.asarray(pairs, np.int64) * (1 << 20) + np.asarray(donors, np.int64)
        x[np.isin(key, want)] = 1
    return x


def _constraints(g: CandidateGraph, var_pair: np.ndarray, var_donor: np.ndarray):
    """Row-major sparse matrix of the assignment, capacity, budget and count rows."""
    nv = len(var_pair)
    var = np.arange(nv)
    n, m, k = g.n_mentees, g.n_mentors, g.n_donors
    counted = np.flatnonzero(g.max_count < NO_LIMIT)
    count_row = np.full(k, -1)
    count_row[counted] = n + m + k + np.arange(len(counted))
    parts = [
        (g.pair_mentee[var_pair].astype(np.int64), var, np.ones(nv)),
        (n + g.pair_mentor[var_pair].astype(np.int64), var, np.ones(nv)),
    ]
    if k:
        parts.append((n + m + var_donor, var, g.cost[var_pair].astype(np.float64)))
        has_count = count_row[var_donor] >= 0
        parts.append((count_row[var_donor][has_count], var[has_count], np.ones(int(has_count.sum()))))
    rows = np.concatenate([p[0] for p in parts])
    cols = np.concatenate([p[1] for p in parts])
    coefs = np.concatenate([p[2] for p in parts])
    order = np.lexsort((cols, rows))
    rhs = np.concatenate([np.ones(n), g.capacity, g.budget, g.max_count[counted]]).astype(np.float64)
    return rows[order], cols[order], coefs[order], rhs


def _model(nv, rows, cols, coefs, rhs, extra, obj, maximise, integer: bool = True) -> model_pb2.ModelProto:
    model = model_pb2.ModelProto(name="wopmatch")
    model.variables.ids.extend(range(nv))
    model.variables.lower_bounds.extend(np.zeros(nv).tolist())
    model.variables.upper_bounds.extend(np.ones(nv).tolist())
    model.variables.integers.extend([integer] * nv)
    n_rows = len(rhs)
    lc = model.linear_constraints
    lc.ids.extend(range(n_rows + len(extra)))
    lc.lower_bounds.extend([-np.inf] * n_rows)
    lc.upper_bounds.extend(rhs.tolist())
    mat = model.linear_constraint_matrix
    mat.row_ids.extend(rows.tolist())
    mat.column_ids.extend(cols.tolist())
    mat.coefficients.extend(coefs.tolist())
    for r, (coef, value, sense) in enumerate(extra, start=n_rows):
        nz = np.flatnonzero(coef)
        # Integer coefficients: a half-unit of slack changes no 0/1 solution, and
        # keeps HiGHS from rejecting its own optimum over a 1e-6 violation of a
        # row whose activity is ~1e10 (seen with presolve off; _fits stays exact).
        lc.lower_bounds.append(float(value) - 0.5 if sense > 0 else -np.inf)
        lc.upper_bounds.append(float(value) + 0.5 if sense < 0 else np.inf)
        mat.row_ids.extend([r] * len(nz))
        mat.column_ids.extend(nz.tolist())
        mat.coefficients.extend(coef[nz].astype(np.float64).tolist())
    model.objective.maximize = maximise
    nz = np.flatnonzero(obj)
    model.objective.linear_coefficients.ids.extend(nz.tolist())
    model.objective.linear_coefficients.values.extend(obj[nz].astype(np.float64).tolist())
    return model
