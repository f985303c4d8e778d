"""The engine with donors (docs/model.md, "With donors"), entered here only:
``solve_stages`` for the lexicographic stages (optimal, min-cost), ``max_min`` and
``equity`` for the policies that search a threshold or a rate first, and
``largest_reached``, the binary search both run with and without donors."""

from .engine import solve_stages
from .result import DonorResult
from .search import equity, largest_reached, max_min, need_for_rate
from .solvers import Run

__all__ = ["DonorResult", "Run", "equity", "largest_reached", "max_min", "need_for_rate", "solve_stages"]
