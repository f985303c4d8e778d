"""Running HiGHS (bundled with OR-Tools, through MathOpt's core solver) on a model
that mip.py wrote straight into a ``ModelProto``.

HiGHS's MIP search is serial and deterministic, so a node limit stops it at the
same point on any machine; a time limit does not, and HiGHS checks its clock
only between phases (measured: 19 s for a 10 s limit on a 681,000-variable
model), so a large time-limited model runs in a child process that is stopped
at the deadline.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Optional

import numpy as np
from ortools.math_opt import model_parameters_pb2, model_pb2, parameters_pb2, result_pb2
from ortools.math_opt.core.python import solver as core_solver
from ortools.math_opt.python import mathopt
from pybind11_abseil import status

from ..children import die_with_parent
from ..errors import SolveError
from ..tuning import BudgetParams

SOLVER = mathopt.SolverType.HIGHS


class MipError(SolveError):
    pass


@dataclass(frozen=True)
class HighsRun:
    """What every HiGHS solve of one wopmatch solve shares."""

    seed: int = 0
    #: Branch-and-bound nodes each MIP solve may explore (None: no limit): unlike a time
    #: limit, it stops the search at the same point on any machine (what scenario sweeps rely on).
    node_limit: Optional[int] = None
    params: BudgetParams = field(default_factory=BudgetParams)
    #: CP-SAT's workers (budgets/cpsat.py; HiGHS's MIP search is serial).
    workers: int = 2


def solve_model(model: model_pb2.ModelProto, hint: np.ndarray, time_limit: Optional[float], run: HighsRun,
                gap: float = 0.5, presolve: bool = True) -> Optional[result_pb2.SolveResultProto]:
    """Solve with ``hint`` (0/1 per variable) as a solution hint; None when a
    time-limited solve in a child process had to be stopped at its deadline."""
    params = mathopt.SolveParameters(
        time_limit=None if time_limit is None else timedelta(seconds=max(time_limit, 0.01)),
        random_seed=run.seed,
        relative_gap_tolerance=0.0,
        absolute_gap_tolerance=gap,  # objectives on a lattice of step `gap + 0.5`: a smaller gap is a proof
        presolve=None if presolve else mathopt.Emphasis.OFF,
        node_limit=run.node_limit,
    )
    model_params = model_parameters_pb2.ModelSolveParametersProto()
    h = model_params.solution_hints.add()
    h.variable_values.ids.extend(range(len(hint)))
    h.variable_values.values.extend(hint.astype(np.float64).tolist())
    if time_limit is None or len(hint) < run.params.child_min_variables:
        return _solve_checked(model, params.to_proto(), model_params)
    return _solve_with_deadline(model, params.to_proto(), model_params, time_limit + run.params.deadline_grace)


def solve_lp(model: model_pb2.ModelProto,
             iteration_limit: Optional[int] = None) -> Optional[result_pb2.SolveResultProto]:
    """An LP by HiGHS's dual simplex, without presolve (so it returns the duals
    of every row), limited only by simplex iterations: deterministic. None when
    it stops before an optimal basis."""
    params = mathopt.SolveParameters(lp_algorithm=mathopt.LPAlgorithm.DUAL_SIMPLEX, presolve=mathopt.Emphasis.OFF,
                                     iteration_limit=iteration_limit)
    result = _solve_checked(model, params.to_proto(), model_parameters_pb2.ModelSolveParametersProto())
    if result.termination.reason != result_pb2.TERMINATION_REASON_OPTIMAL or not result.solutions:
        return None
    return result


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
    """The solve in a child process, stopped at the deadline (None then)."""
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_solve, args=(send, model.SerializeToString(), params.SerializeToString(),
                                                   model_params.SerializeToString(), os.getpid()))
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


def _child_solve(send, model: bytes, params: bytes, model_params: bytes, parent: int) -> None:
    die_with_parent(parent)  # a killed wopmatch leaves no HiGHS running on
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
