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
from ..donors import DonorResult, Run
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
#: With donors: the donor engine (colgen, what auto runs; solver/donors/).
DONOR_METHODS = ("auto", "colgen")
#: Methods of the retired second engine: accepted for one release, with a warning, as auto.
DEPRECATED_METHODS = ("mip", "lagrangian-mip", "lagrangian")


def deprecation(method: str) -> Optional[str]:
    """The warning a deprecated method gets (None for the others)."""
    if method not in DEPRECATED_METHODS:
        return None
    return (f"--method {method} is deprecated and runs as 'auto' (the donor engine with donors, the min-cost "
            "flow without); it will be refused from the next release")


@dataclass(frozen=True)
class PolicyOptions:
    """What a policy reads of the solve's options (options.SolveOptions)."""

    time_limit: Optional[float] = None  # seconds for the whole solve; None = until proven
    seed: int = 0
    method: str = "auto"  # how an exact policy solves: the method plan() chose
    group_by: str = "region"  # regional-equity: the mentee field that forms groups (region or country)
    #: Branch-and-bound nodes per MIP (None: each move's own). Unlike a time limit it
    #: stops the search at the same point on any machine (donors/solvers.py).
    node_limit: Optional[int] = None
    workers: int = 1  # CP-SAT's workers (the donor engine's proofs)


@dataclass(frozen=True)
class Assignment:
    """What a policy returns: chosen candidates and how sure it is of them."""

    pairs: np.ndarray  # candidate indices
    donors: np.ndarray  # donor index per pair, -1 = none
    status: Status
    method: str
    solver: str
    # Proven bounds of a solution that is not proven optimal, for the free (non-pinned) part, by
    # stage ("coverage", "quality": upper; "cost": lower), in the solution's units; each holds among
    # the assignments at least as good in the policy's earlier stages. Absent: unknown.
    bounds: dict[str, float] = field(default_factory=dict)
    stages: list[StageStats] = field(default_factory=list)
    message: Optional[str] = None
    # Set by policies that encode their own working set of candidates: the graph
    # ``pairs`` index into, and how many eligible pairs the whole instance has.
    graph: Optional[CandidateGraph] = None
    candidates_total: Optional[int] = None
    workers: int = 1  # CP-SAT's workers where it ran with several, else 1


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
    method = "auto" if method in DEPRECATED_METHODS else method
    if has_donors and method in DONOR_METHODS:
        return "colgen" if method == "auto" else method
    if has_donors and method in PRICED_METHODS:
        raise UnsupportedMethodError(f"method {method!r} does not model donor budgets, and this instance has donors; "
                                     f"use one of {', '.join(DONOR_METHODS)} with policy {policy!r}")
    if method not in PRICED_METHODS:
        raise UnsupportedMethodError(f"method {method!r} models donor budgets, and this instance has none; policy "
                                     f"{policy!r} solves it by one of {', '.join(PRICED_METHODS)}")
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
                      first: Optional[list[StageStats]] = None) -> Assignment:
    """A priced policy's answer: optimal for its own objective, over the working set's graph."""
    stages = list(first or [])
    stages += [StageStats(name=s.name, status="optimal", seconds=round(s.seconds, 4), value=float(s.value))
               for s in result.stages]
    chosen = result.chosen
    return Assignment(
        pairs=chosen, donors=np.full(len(chosen), -1, np.int64), status="optimal",
        method=f"{method} ({result.rounds} rounds, {source.passes} passes)",
        solver=f"ortools-min-cost-flow {ORTOOLS_VERSION}", stages=stages, graph=working_graph(g, result.work),
        candidates_total=source.eligible)


def donor_run(options: PolicyOptions, tuning: Tuning) -> Run:
    """What every MIP of one solve with donors shares."""
    return Run(seed=options.seed, node_limit=options.node_limit, params=tuning.donors, workers=options.workers)


def donor_assignment(found: DonorResult) -> Assignment:
    """A policy's answer from the donor engine (solver/donors/): its LPs run in highspy,
    its MIPs in OR-Tools' HiGHS (and CP-SAT, which stats.method names)."""
    bounds = {s.name: s.bound for s in found.stages if s.name in ("coverage", "quality", "cost") and
              s.bound is not None}
    return Assignment(pairs=found.pairs, donors=found.donors, status="optimal" if found.proven else "feasible",
                      method=found.method, solver=f"ortools-mathopt-highs {ORTOOLS_VERSION} + highspy "
                                                  f"{version('highspy')}",
                      bounds=bounds, stages=found.stages, message=found.message, workers=max(found.workers, 1))
