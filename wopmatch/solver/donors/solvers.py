"""The MIP solvers a stage model (rows.py) is handed to: HiGHS (bundled with
OR-Tools, through MathOpt's core solver) and CP-SAT.

Both are limited by work, never by the clock alone: HiGHS's search is serial and
deterministic, so a node limit stops it at the same point on any machine; CP-SAT
with several workers repeats itself only with interleaved search and a
deterministic time limit, so several workers always get both (one worker needs
only the limit). A time limit is an outer safety stop, passed to the solver: the
engine's models are small (a neighbourhood, a core: at most tens of thousands of
columns), where HiGHS keeps to its own limit.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Optional

import numpy as np
from ortools.math_opt import model_parameters_pb2, model_pb2, parameters_pb2, result_pb2
from ortools.math_opt.core.python import solver as core_solver
from ortools.math_opt.python import mathopt
from pybind11_abseil import status

from ..errors import SolveError
from ..interrupt import cancellable
from ..tuning import DonorParams
from .rows import StageModel

T = result_pb2.TerminationReasonProto


class MipError(SolveError):
    pass


@dataclass(frozen=True)
class Run:
    """What every MIP of one solve with donors shares."""

    seed: int = 0
    #: The user's node limit (None: each move's own): it replaces every move's node limit.
    node_limit: Optional[int] = None
    params: DonorParams = field(default_factory=DonorParams)
    #: CP-SAT's workers (HiGHS's search is serial).
    workers: int = 1

    def nodes(self, own: int) -> int:
        """The user's node limit where one is given, else a move's own."""
        return own if self.node_limit is None else self.node_limit


@dataclass(frozen=True)
class Answer:
    """A solver's best 0/1 vector and its bound. HiGHS's answer holds the start when it
    found nothing better; CP-SAT's holds None then (it is only asked for better ones)."""

    x: Optional[np.ndarray]
    gain: Optional[int]  # x's stage objective in the maximised form (cost negated)
    bound: Optional[float]  # over the model's columns, in the maximised form; None: unknown
    seconds: float
    optimal: bool = False  # the solver closed its gap (HiGHS: within the absolute gap asked for)

    def proven(self, step: int) -> bool:
        """Whether no assignment over the model's columns is a ``step`` better: the solver
        closed its gap (asked for less than a step), or its bound says so."""
        return self.gain is not None and (self.optimal or (self.bound is not None and self.bound - self.gain < step))


def solve_mip(model: StageModel, start: np.ndarray, run: Run, nodes: Optional[int], time_left: Optional[float],
              gap: float = 0.5, presolve: bool = True, scaled: bool = False) -> Answer:
    """HiGHS from ``start`` (a 0/1 vector meeting every row, given as its hint),
    within ``nodes`` branch-and-bound nodes and an absolute ``gap`` (stage units: on
    a lattice of step s, s - 0.5 proves). The better of its answer and the start,
    counting an answer only when, rounded to 0/1, it meets every row exactly.
    ``scaled``: HiGHS gets the objective divided by a power of ten that puts its
    largest coefficient in [1, 10) (gap and bound scaled with it)."""
    t0 = time.perf_counter()
    scale = objective_scale(model.obj) if scaled else 1.0
    params = mathopt.SolveParameters(
        time_limit=None if time_left is None else timedelta(seconds=max(time_left, 0.01)),
        random_seed=run.seed, relative_gap_tolerance=0.0, absolute_gap_tolerance=gap * scale,
        presolve=None if presolve else mathopt.Emphasis.OFF, node_limit=nodes)
    hints = model_parameters_pb2.ModelSolveParametersProto()
    hint = hints.solution_hints.add()
    hint.variable_values.ids.extend(range(model.size))
    hint.variable_values.values.extend(np.asarray(start, np.float64).tolist())
    result = _solve_checked(model.proto(objective_scale=scale), params.to_proto(), hints)
    x = np.asarray(start, np.int64)
    if result.solutions and result.solutions[0].HasField("primal_solution"):
        values = result.solutions[0].primal_solution.variable_values
        found = np.zeros(model.size)
        found[np.asarray(values.ids, np.int64)] = np.asarray(values.values)
        found = (found > 0.5).astype(np.int64)
        if model.gain(found) > model.gain(x) and model.fits(found):
            x = found
    bound = result.termination.objective_bounds.dual_bound / scale
    return Answer(x, model.gain(x), model.sign * float(bound) if np.isfinite(bound) else None,
                  time.perf_counter() - t0, result.termination.reason == T.TERMINATION_REASON_OPTIMAL)


def objective_scale(obj: np.ndarray) -> float:
    """The power of ten that brings the largest |coefficient| of ``obj`` into [1, 10)."""
    top = float(np.abs(obj).max()) if len(obj) else 0.0
    return 10.0 ** -np.floor(np.log10(top)) if top > 0 else 1.0


def solve_lp(model: model_pb2.ModelProto, iteration_limit: Optional[int] = None
             ) -> Optional[result_pb2.SolveResultProto]:
    """An LP by HiGHS's dual simplex without presolve (so it returns every row's
    dual), limited by simplex iterations. None when it stops before an optimum."""
    params = mathopt.SolveParameters(lp_algorithm=mathopt.LPAlgorithm.DUAL_SIMPLEX, presolve=mathopt.Emphasis.OFF,
                                     iteration_limit=iteration_limit)
    result = _solve_checked(model, params.to_proto(), model_parameters_pb2.ModelSolveParametersProto())
    if result.termination.reason != T.TERMINATION_REASON_OPTIMAL or not result.solutions:
        return None
    return result


def solve_cp(model: StageModel, better_than: int, step: int, cap: Optional[int], work: float, workers: int, seed: int,
             time_left: Optional[float], linearization: Optional[int] = None) -> Answer:
    """CP-SAT asked for an assignment *better* than ``better_than`` (the stage in its
    maximised form, cost negated; counted in ``step``s, at most ``cap``: a proven bound
    that only prunes). Asking for a better one rather than the best lets it prove an
    incumbent optimal by infeasibility (200 x 60 x 5 s1: 7 units of deterministic
    time, against 30 without an answer when it only maximised from a hint). ``bound``
    is in the maximised form (``better_than`` when none is better: a proof)."""
    from ortools.sat.python import cp_model  # here: importing it costs every process 0.16 s

    t0 = time.perf_counter()
    cp, x = model.cp_model()
    objective = cp_model.LinearExpr.weighted_sum(x, (model.sign * model.obj // step).tolist())
    cp.add(objective >= better_than // step + 1)
    if cap is not None:
        cp.add(objective <= cap // step)
    cp.maximize(objective)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers
    solver.parameters.interleave_search = workers > 1  # one worker repeats itself without it
    solver.parameters.max_deterministic_time = work
    if time_left is not None:  # the outer safety stop (the answer then says the clock cut the work)
        solver.parameters.max_time_in_seconds = max(time_left, 0.01)
    solver.parameters.random_seed = seed
    if linearization is not None:
        solver.parameters.linearization_level = linearization
    # CP-SAT would take Ctrl-C for itself and answer as if its limit had passed: interrupt.py stops it
    solver.parameters.catch_sigint_signal = False
    with cancellable(solver.stop_search):
        state = solver.solve(cp)
    seconds = time.perf_counter() - t0
    if state == cp_model.INFEASIBLE:
        return Answer(None, None, float(better_than), seconds)
    if state not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Answer(None, None, None, seconds)
    found = np.array([solver.boolean_value(v) for v in x], np.int64)
    gain = model.gain(found)
    bound = float(gain) if state == cp_model.OPTIMAL else max(float(gain), solver.best_objective_bound * step)
    return Answer(found, gain, bound, seconds)


def _solve_here(model, params, hints) -> result_pb2.SolveResultProto:
    from ortools.util.python import solve_interrupter

    interrupter = solve_interrupter.SolveInterrupter()
    with _quiet_stdout(), cancellable(interrupter.interrupt):
        return core_solver.solve(model, mathopt.SolverType.HIGHS.value,
                                 mathopt.StreamableSolverInitArguments().to_proto(), params, hints, None,
                                 mathopt.CallbackRegistration().to_proto(), None, interrupter.pybind_interrupter)


def _solve_checked(model, params, hints) -> result_pb2.SolveResultProto:
    """HiGHS's own consistency check can reject a solve run without presolve
    ("claims optimality, but with ... infeasibilities"): retry once with it."""
    try:
        return _solve_here(model, params, hints)
    except status.StatusNotOk as exc:
        if params.presolve != parameters_pb2.EMPHASIS_OFF:
            raise MipError(f"HiGHS failed: {exc}") from None
    retry = parameters_pb2.SolveParametersProto()
    retry.CopyFrom(params)
    retry.presolve = parameters_pb2.EMPHASIS_UNSPECIFIED
    try:
        return _solve_here(model, retry, hints)
    except status.StatusNotOk as exc:
        raise MipError(f"HiGHS failed: {exc}") from None


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
