"""What every policy shares: options, the interface, and the Assignment every policy returns."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import TYPE_CHECKING, ClassVar, Optional

import numpy as np
import ortools

from ...models.solution import StageStats, Status
from ..budgets.highs import HighsRun
from ..budgets.staged import Budgeted
from ..errors import UnsupportedMethodError
from ..graph.encoding import CandidateGraph
from ..network.pricing import LexResult, PairSource, working_graph
from ..tuning import Tuning

if TYPE_CHECKING:
    from ..graph.streams import Streamed

ORTOOLS_VERSION = ortools.__version__
#: How min-cost, max-min and regional-equity may solve (``--method``): on the
#: whole candidate graph (flow) or on a priced working set (flow-pricing).
PRICED_METHODS = ("auto", "flow", "flow-pricing")
#: With donors: the certified column-generation engine (colgen, what auto runs) or,
#: for min-cost, the staged MIP over every (pair, donor) variable (mip).
DONOR_METHODS = ("auto", "colgen", "mip")


@dataclass(frozen=True)
class PolicyOptions:
    """What a policy reads of the solve's options (options.SolveOptions)."""

    time_limit: Optional[float] = None  # seconds for the whole solve; None = until proven
    seed: int = 0
    method: str = "auto"  # how an exact policy solves: the method plan() chose
    group_by: str = "region"  # regional-equity: the mentee field that forms groups (region or country)
    #: Branch-and-bound nodes per HiGHS MIP solve (None: no limit). Unlike a time
    #: limit it stops the search at the same point on any machine (budgets/highs.py).
    node_limit: Optional[int] = None
    workers: int = 2  # CP-SAT's workers (method colgen)


@dataclass(frozen=True)
class Assignment:
    """What a policy returns: chosen candidates and how sure it is of them."""

    pairs: np.ndarray  # candidate indices
    donors: np.ndarray  # donor index per pair, -1 = none
    status: Status
    method: str
    solver: str
    # Proven upper bounds for the free (non-pinned) part, in the stage units
    # (coverage: WEIGHT_RESOLUTION, quality: 1e-9); None when unknown.
    bound_coverage_units: Optional[float] = None
    bound_quality_units: Optional[float] = None
    stages: list[StageStats] = field(default_factory=list)
    message: Optional[str] = None
    # Set by policies that encode their own working set of candidates: the graph
    # ``pairs`` index into, and how many eligible pairs the whole instance has.
    graph: Optional[CandidateGraph] = None
    candidates_total: Optional[int] = None
    # False for policies whose "optimal" is of another objective (min-cost,
    # max-min, regional-equity): then only the bounds given above are reported.
    default_objective: bool = True



class Policy(ABC):
    """A matching policy. ``exact``: its answer is proven optimal for its own
    objective (with a bound when stopped). Every policy models donor budgets."""

    name: ClassVar[str]
    exact: ClassVar[bool]
    #: Works from mentee streams when the graph is encoded without candidates (graph/streams.py).
    streams: ClassVar[bool] = False
    #: Without donors, solves on a priced working set (network/pricing.py) when
    #: ``--method flow-pricing`` is chosen, or by ``auto`` from Tuning.pricing_min_pairs pairs on.
    priced: ClassVar[bool] = False
    summary: ClassVar[str]

    @abstractmethod
    def solve(self, graph: CandidateGraph, options: PolicyOptions, tuning: Tuning) -> Assignment: ...


def priced_method(policy: str, method: str, has_donors: bool, pairs: int, pricing_min_pairs: int) -> str:
    """The method a ``priced`` policy runs; ``pairs`` = free mentees x mentors."""
    if has_donors and method == "mip" and policy != "min-cost":
        raise UnsupportedMethodError(f"method 'mip' is for the optimal and min-cost policies; {policy!r} with donors "
                                     "solves by 'auto' or 'colgen'")
    if has_donors and method in DONOR_METHODS:
        return "colgen" if method == "auto" else method
    if has_donors and method in PRICED_METHODS:
        raise UnsupportedMethodError(f"method {method!r} does not model donor budgets, and this instance has donors; "
                                     f"use one of {', '.join(DONOR_METHODS)} with policy {policy!r}")
    if method not in PRICED_METHODS:
        raise UnsupportedMethodError(f"policy {policy!r} solves by one of the methods {', '.join(PRICED_METHODS)}; "
                                     f"{method!r} is for the optimal policy")
    if method == "auto":
        return "flow-pricing" if pairs >= pricing_min_pairs else "flow"
    return method


def concrete_policies(cls: type[Policy] = Policy) -> list[type[Policy]]:
    """Every concrete subclass of ``cls`` with a name: the policies defined so far."""
    out = []
    for sub in cls.__subclasses__():
        if not getattr(sub, "__abstractmethods__", None) and hasattr(sub, "name"):
            out.append(sub)
        out.extend(concrete_policies(sub))
    return out


def heuristic_assignment(pairs: np.ndarray, donors: np.ndarray, method: str, t0: float) -> Assignment:
    """An assignment of a policy that proves nothing: status feasible, no bound."""
    return Assignment(pairs=np.asarray(pairs, np.int64), donors=np.asarray(donors, np.int64), status="feasible",
                      method=method, solver=f"wopmatch-{method} (ortools {ORTOOLS_VERSION} not used)",
                      stages=[StageStats(name=method, status="feasible", seconds=round(time.perf_counter() - t0, 4))])


def streamed_assignment(graph: CandidateGraph, found: "Streamed", method: str, t0: float) -> Assignment:
    """A heuristic's assignment found on streams: the chosen pairs become the
    working graph the decoder reads, and every eligible pair is counted."""
    from dataclasses import replace

    pl = graph.pair_list(found.mentee, found.mentor)
    work = replace(graph, pair_mentee=found.mentee.astype(np.int32), pair_mentor=found.mentor.astype(np.int32),
                   score=pl.score, cost=pl.cost, distance=pl.distance, focus=pl.focus,
                   fundable=np.zeros((len(found.mentee), graph.n_donors), bool))
    a = heuristic_assignment(np.arange(len(found.mentee)), found.donor, method, t0)
    return replace(a, method=f"{method} on mentee streams ({found.refills} refills)", graph=work,
                   candidates_total=found.eligible)


def priced_assignment(g: CandidateGraph, result: LexResult, source: PairSource, method: str,
                      first: Optional[list[StageStats]] = None, coverage_units: Optional[int] = None) -> Assignment:
    """A priced policy's answer: optimal for its own objective, over the working set's graph."""
    stages = list(first or [])
    stages += [StageStats(name=s.name, status="optimal", seconds=round(s.seconds, 4), value=float(s.value))
               for s in result.stages]
    chosen = result.chosen
    return Assignment(
        pairs=chosen, donors=np.full(len(chosen), -1, np.int64), status="optimal", default_objective=False,
        bound_coverage_units=coverage_units, method=f"{method} ({result.rounds} rounds, {source.passes} passes)",
        solver=f"ortools-min-cost-flow {ORTOOLS_VERSION}", stages=stages, graph=working_graph(g, result.work),
        candidates_total=source.eligible)


def highs_run(options: PolicyOptions, tuning: Tuning) -> HighsRun:
    """What every HiGHS and CP-SAT solve of one solve with donors shares."""
    return HighsRun(seed=options.seed, node_limit=options.node_limit, params=tuning.budgets, workers=options.workers)


def colgen_solver() -> str:
    """stats.solver of method colgen: its LPs run in highspy, its MIPs in OR-Tools' HiGHS
    (and CP-SAT: stats.method)."""
    return f"ortools-mathopt-highs {ORTOOLS_VERSION} + highspy {version('highspy')}"


def budgeted_assignment(found: Budgeted, solver: str, default_objective: bool = True) -> Assignment:
    """A policy's answer from the exact method with donors (budgets/staged.py)."""
    return Assignment(pairs=found.pairs, donors=found.donors, status="optimal" if found.proven else "feasible",
                      method=found.method, solver=solver, bound_coverage_units=found.bound_coverage_units,
                      bound_quality_units=found.bound_quality_units if default_objective else None,
                      stages=found.stages, message=found.message, default_objective=default_objective)
