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
the HiGHS bundled with OR-Tools. Each stage is started from the previous stage's
solution (or the greedy heuristic's) as a hint where the solver accepts hints.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import time
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Optional

import numpy as np
from ortools.math_opt import model_parameters_pb2, model_pb2, parameters_pb2, result_pb2
from ortools.math_opt.core.python import solver as core_solver
from ortools.math_opt.python import mathopt
from pybind11_abseil import status

from ..errors import SolveError
from ..graph.encoding import NO_LIMIT, CandidateGraph

T = result_pb2.TerminationReasonProto


class MipError(SolveError):
    pass
SOLVER = mathopt.SolverType.HIGHS


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


def solve_stage(
    g: CandidateGraph,
    name: str,
    keep: list[Keep],
    hint_pairs: np.ndarray,
    hint_donors: np.ndarray,
    time_limit: Optional[float],
    seed: int,
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
    obj_pair, maximise = stage_objectives(g)[name]
    mask = g.fundable if g.has_donors else np.ones((g.n_candidates, 1), bool)
    if allowed is not None:
        mask = mask & (allowed if allowed.ndim == 2 else allowed[:, None])
    hp, hd = np.asarray(hint_pairs, np.int64), np.asarray(hint_donors, np.int64)
    if len(hp):  # the hint's own variables are always in the model
        mask = mask.copy()
        mask[hp, np.maximum(hd, 0)] = True
    var_pair, var_donor = np.nonzero(mask)
    if not g.has_donors:
        var_donor = np.full(len(var_pair), -1)
    var_pair = var_pair.astype(np.int64)
    nv = len(var_pair)
    rows, cols, coefs, rhs = _constraints(g, var_pair, var_donor)
    extra = [(coef[var_pair], value, sense) for coef, value, sense in keep]
    obj = obj_pair[var_pair]
    current = _as_vector(var_pair, var_donor, hp, hd)
    model = _model(nv, rows, cols, coefs, rhs, extra, obj, maximise)
    remaining = None if time_limit is None else time_limit - (time.perf_counter() - t0)
    if remaining is not None and remaining <= 0:
        return None
    if allowed is None and name in LP_FIXED_STAGES and nv >= LP_FIXING_MIN_VARIABLES:
        if incumbent is not None:  # the core is smaller the better the incumbent
            inc = _as_vector(var_pair, var_donor, *incumbent)
            if _better(obj @ inc, obj @ current, maximise):
                current = inc
        core = _lp_core(model, current, obj, maximise, step, rows, cols, coefs, rhs, extra, remaining, seed)
        if core is not None:
            keep_var, better = core
            if better is not None:
                current = better
            fixed = np.zeros_like(mask)
            fixed[var_pair[keep_var], np.maximum(var_donor[keep_var], 0)] = True
            chosen = np.flatnonzero(current)
            remaining = None if time_limit is None else time_limit - (time.perf_counter() - t0)
            out = solve_stage(g, name, keep, var_pair[chosen], var_donor[chosen], remaining, seed, step,
                              allowed=fixed, bound_cap=bound_cap)
            if out is not None:  # optimal over the core = optimal: every better assignment lies in it
                return replace(out, seconds=time.perf_counter() - t0)
            return None
        remaining = None if time_limit is None else time_limit - (time.perf_counter() - t0)
        if remaining is not None and remaining <= 0:
            return None
    result = _solve(model, current, remaining, seed, gap=step - 0.5, presolve=PRESOLVE[name])
    if result is None:
        return None
    if result.solutions and result.solutions[0].HasField("primal_solution"):
        sol = result.solutions[0].primal_solution.variable_values
        x = np.zeros(nv)
        x[np.asarray(sol.ids, dtype=np.int64)] = np.asarray(sol.values)
        candidate = (x > 0.5).astype(np.int64)
        # Keep the better of the solver's answer and the hint (a solver may stop
        # at a limit with a worse incumbent than the one it was given), and only
        # an answer that is feasible once rounded to 0/1.
        if _fits(candidate, rows, cols, coefs, rhs, extra) and not _better(obj @ current, obj @ candidate, maximise):
            current = candidate
    bound = result.termination.objective_bounds.dual_bound
    if bound_cap is not None:
        bound = min(bound, bound_cap) if maximise else max(bound, bound_cap)
    value = int(obj @ current)
    proven = result.termination.reason == T.TERMINATION_REASON_OPTIMAL or _closed(value, bound, maximise, step)
    chosen = np.flatnonzero(current)
    return StageOutcome(var_pair[chosen], var_donor[chosen].astype(np.int64), "optimal" if proven else "feasible",
                        value, float(bound) if np.isfinite(bound) else None, time.perf_counter() - t0)


#: Whether HiGHS presolves each stage. Measured (docs/model.md, "Presolve"): on
#: the quality and cost stages, whose kept rows span every variable, presolve
#: took 6 of 8.6 s at 300 x 70 and removed 2% of the columns; switched off, the
#: stages ran 3-5x faster. On the coverage stage it helps about as often as it hurts.
PRESOLVE = {"coverage": True, "quality": False, "cost": False}


#: Stages solved first as an LP whose reduced costs fix variables (_lp_core).
LP_FIXED_STAGES = ("coverage", "quality", "cost")
#: Below this many variables HiGHS alone is as quick.
LP_FIXING_MIN_VARIABLES = 2_000


def _lp_core(model, hint, obj, maximise: bool, step: int, rows, cols, coefs, rhs, extra, time_limit,
             seed) -> Optional[tuple[np.ndarray, Optional[np.ndarray]]]:
    """Reduced-cost fixing from the LP relaxation (None when the LP does not solve).

    1. Solve the LP relaxation; its duals y give, for *any* y, the bound
       c.x <= sum_v max(0, r_v) + sum_rows y_r * (bound of row r) for 0 <= x <= 1,
       r = c - yA (computed here, so MathOpt's sign conventions cannot make it
       invalid: a wrong-signed dual only weakens it).
    2. The MIP over the LP's support (and the hint's variables) gives an incumbent z.
    3. A variable with r_v < 0 set to 1 lowers the bound by |r_v|: if that goes
       below z + step it is 0 in every better assignment. The rest is the core.
    Returns (core variable mask, better incumbent or None)."""
    sign = 1.0 if maximise else -1.0  # work on max sign*obj
    lp = model_pb2.ModelProto()
    lp.CopyFrom(model)
    del lp.variables.integers[:]
    lp.variables.integers.extend([False] * len(hint))
    result = _solve(lp, hint, time_limit, seed, presolve=False)
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
    res = _solve(small, hint, time_limit, seed, presolve=False, gap=step - 0.5)
    incumbent = hint
    if res is not None and res.solutions and res.solutions[0].HasField("primal_solution"):
        vals = res.solutions[0].primal_solution.variable_values
        x = np.zeros(len(hint))
        x[np.asarray(vals.ids, dtype=np.int64)] = np.asarray(vals.values)
        candidate = (x > 0.5).astype(np.int64)
        if _fits(candidate, rows, cols, coefs, rhs, extra) and sign * (obj @ candidate) > sign * (obj @ hint):
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
    workers: int,
    seed: int,
    coverage_cap: Optional[int] = None,
    coverage_step: int = 1,
    first_hint: Optional[tuple[np.ndarray, np.ndarray]] = None,
    stage_names: tuple[str, ...] = ("coverage", "quality", "cost"),
) -> MipResult:
    """Solve the stages in turn over all variables; ``start_*`` is a feasible
    assignment (the greedy one). ``workers`` is recorded by callers only: HiGHS
    through MathOpt takes no thread count (its MIP search is serial and
    deterministic).

    ``coverage_cap`` is a known upper bound on stage 1 (the budget-free maximum):
    it tightens the reported bound, and proves stage 1 outright when the start
    already reaches it. ``coverage_step`` divides every achievable coverage (the
    gcd of the weight units), so a stage-1 gap below it is a proof.
    ``first_hint`` replaces the start as stage 1's hint to HiGHS (the start stays
    the incumbent): measured, the greedy assignment often makes a faster hint
    than a better Lagrangian one (0.11 s against 2.9 s at 200 x 60).
    ``stage_names`` runs only those stages."""
    del workers
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
            out = _solve_from(g, name, keep, hint, incumbent, remaining, seed, step, cap)
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


def _solve_from(g, name, keep, hint, incumbent, time_limit, seed, step, cap) -> Optional[StageOutcome]:
    """solve_stage hinted with ``hint``; the incumbent wins when it is better."""
    out = solve_stage(g, name, keep, hint[0], hint[1], time_limit, seed, step, bound_cap=cap, incumbent=incumbent)
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


def _model(nv, rows, cols, coefs, rhs, extra, obj, maximise) -> model_pb2.ModelProto:
    model = model_pb2.ModelProto(name="wopmatch")
    model.variables.ids.extend(range(nv))
    model.variables.lower_bounds.extend(np.zeros(nv).tolist())
    model.variables.upper_bounds.extend(np.ones(nv).tolist())
    model.variables.integers.extend([True] * nv)
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


#: Branch-and-bound nodes each HiGHS MIP solve may explore (None: no limit), set for
#: the length of one solve by api.solve from SolveOptions.node_limit. HiGHS's MIP
#: search is serial and deterministic, so a node limit, unlike a time limit, stops
#: it at the same point on any machine (what scenario sweeps rely on).
NODE_LIMIT: ContextVar[Optional[int]] = ContextVar("NODE_LIMIT", default=None)

#: Seconds a time-limited HiGHS solve may run past its limit before it is stopped.
DEADLINE_GRACE = 1.0


def _solve(model, hint: np.ndarray, time_limit, seed: int, gap: float = 0.5,
           presolve: bool = True) -> Optional[result_pb2.SolveResultProto]:
    params = mathopt.SolveParameters(
        time_limit=None if time_limit is None else timedelta(seconds=max(time_limit, 0.01)),
        random_seed=seed,
        relative_gap_tolerance=0.0,
        absolute_gap_tolerance=gap,  # objectives on a lattice of step `gap + 0.5`: a smaller gap is a proof
        presolve=None if presolve else mathopt.Emphasis.OFF,
        node_limit=NODE_LIMIT.get(),
    )
    model_params = model_parameters_pb2.ModelSolveParametersProto()
    h = model_params.solution_hints.add()
    h.variable_values.ids.extend(range(len(hint)))
    h.variable_values.values.extend(hint.astype(np.float64).tolist())
    if time_limit is None or len(hint) < CHILD_MIN_VARIABLES:
        return _solve_checked(model, params.to_proto(), model_params)
    return _solve_with_deadline(model, params.to_proto(), model_params, time_limit + DEADLINE_GRACE)


#: Time-limited models from this many variables on run in a child process that is
#: stopped at the deadline; smaller ones keep to HiGHS's own limit well enough and
#: run here (starting a child costs about 0.6 s, and a stage makes up to three solves).
CHILD_MIN_VARIABLES = 100_000


def _solve_here(model, params, model_params) -> result_pb2.SolveResultProto:
    with _quiet_stdout():
        return core_solver.solve(
            model,
            SOLVER.value,
            mathopt.StreamableSolverInitArguments().to_proto(),
            params,
            model_params,
            None,
            mathopt.CallbackRegistration().to_proto(),
            None,
            None,
        )


def _solve_checked(model, params, model_params) -> result_pb2.SolveResultProto:
    """HiGHS's own consistency check can reject a solve run without presolve
    ("claims optimality, but with ... infeasibilities"): retry once with it."""
    try:
        return _solve_here(model, params, model_params)
    except status.StatusNotOk as exc:
        if params.presolve != parameters_pb2.EMPHASIS_OFF:
            raise MipError(f"HiGHS failed: {exc}") from None
    retry = parameters_pb2.SolveParametersProto()
    retry.CopyFrom(params)
    retry.presolve = parameters_pb2.EMPHASIS_UNSPECIFIED
    try:
        return _solve_here(model, retry, model_params)
    except status.StatusNotOk as exc:
        raise MipError(f"HiGHS failed: {exc}") from None


def _solve_with_deadline(model, params, model_params, seconds: float) -> Optional[result_pb2.SolveResultProto]:
    """HiGHS checks its clock only between phases (measured: 19 s for a 10 s limit
    on a 681,000-variable model, and its interrupter is no quicker), so a
    time-limited solve runs in a child process that is stopped at the deadline.
    Returns None when it had to be stopped."""
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_solve, args=(send, model.SerializeToString(), params.SerializeToString(),
                                                   model_params.SerializeToString()))
    proc.start()
    send.close()
    try:
        if receive.poll(seconds):
            try:
                answer = receive.recv_bytes()
            except EOFError:  # the child died without an answer
                return None
            if not answer:
                raise MipError("HiGHS failed (in its time-limited child process)")
            return result_pb2.SolveResultProto.FromString(answer)
        return None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        receive.close()


def _child_solve(send, model: bytes, params: bytes, model_params: bytes) -> None:
    try:
        result = _solve_checked(model_pb2.ModelProto.FromString(model),
                                parameters_pb2.SolveParametersProto.FromString(params),
                                model_parameters_pb2.ModelSolveParametersProto.FromString(model_params))
        send.send_bytes(result.SerializeToString())
    except MipError:
        send.send_bytes(b"")  # the parent raises it
    send.close()


@contextlib.contextmanager
def _quiet_stdout():
    """HiGHS 1.x (bundled with OR-Tools 9.15) prints a debug line straight to
    file descriptor 1 when it accepts a hint; keep it out of our output."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # captured stdout without a descriptor
        fd = 1
    sys.stdout.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
