"""What the donor engine returns, and the words it says about it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

import numpy as np

from ...models.solution import StageStats
from ..graph.encoding import CandidateGraph

if TYPE_CHECKING:
    from .solvers import Run

#: The moves, in the order stats.method names them.
MOVE_NAMES = ("lp-fill", "direct-cp-sat", "lns", "core-mip", "core-cp-sat")


@dataclass(frozen=True)
class DonorResult:
    """The best assignment found with donors, and what is proven of it."""

    pairs: np.ndarray  # candidate indices
    donors: np.ndarray  # donor index per pair
    proven: bool  # every stage proven optimal
    method: str
    stages: list[StageStats]  # each stage's value and bound, in its own units
    workers: int = 0  # CP-SAT's workers where it ran with several
    message: Optional[str] = None

    @staticmethod
    def of(pairs: np.ndarray, donors: np.ndarray, stages: list[StageStats], order: tuple[str, ...], steps: list[str],
           workers: int, message: Optional[str], prefix: str = "") -> "DonorResult":
        proven = len(stages) == len(order) and all(s.status == "optimal" for s in stages)
        method = "+".join(["colgen-lp"] + [m for m in MOVE_NAMES if m in steps])
        if tuple(order) != ("coverage", "quality", "cost"):
            method += f" ({', '.join(order)})"
        return DonorResult(pairs, donors, proven, prefix + method, stages, workers, message)


def stage_message(stages: list[StageStats], order: tuple[str, ...], cut: bool, run: "Run") -> Optional[str]:
    """Which stages are open and why: the time limit, or the work limits (named when
    they are the defaults, so that a user knows what a larger effort would change)."""
    open_ = [s for s in stages if s.status != "optimal"]
    if cut and (open_ or len(stages) < len(order)):
        return "the time limit stopped the work before its work limits; the best assignment found is returned"
    if not open_:
        return None
    gaps = ", ".join(f"{s.name} (gap {s.gap:.2%})" for s in open_ if s.gap is not None)
    limits = "the node limit you set" if run.node_limit is not None else (
        f"the default work limits (at most {max(run.params.lns_rounds)} LNS rounds of {run.params.lns_nodes} nodes "
        "a stage; --node-limit N sets every MIP's nodes)")
    return f"{gaps} not proven optimal within {limits}: each stage's bound certifies its gap"


def stage_gap(name: str, value: float, bound: float) -> float:
    """(bound - value) / bound for a maximised stage, (value - bound) / value for cost;
    0 when the base is 0."""
    base = value if name == "cost" else bound
    return round(abs(bound - value) / abs(base), 9) if base else 0.0


def coverage_step(graph: CandidateGraph) -> int:
    """Every coverage is a sum of mentee weight units, hence a multiple of their
    greatest common divisor."""
    units = graph.mentee_weight_units[graph.free_mentee]
    return max(1, int(np.gcd.reduce(units))) if len(units) else 1


def pinned_coverage(graph: CandidateGraph) -> float:
    """The coverage of the pinned partnerships (progress reports add it to the free part's)."""
    return float(graph.mentee_weight[graph.pinned.mentee].sum()) if len(graph.pinned.mentee) else 0.0
