"""Where the compiled pair kernels (kernels.py) give the numpy code's answer, and
from what size on they are used. Kept apart from kernels.py so that deciding
does not import numba (it is imported, and compiles, only where it runs)."""

from __future__ import annotations

from .encoding import CandidateGraph

#: From this many pairs on, the blocking-pair count and the explanations of the
#: unmatched run compiled too (numba is imported, and compiles, only then).
KERNEL_MIN_PAIRS = 1_000_000


def kernels_apply(g: CandidateGraph, funding: bool = True) -> bool:
    """Whether the compiled kernels give the numpy code's answer: without a distance
    rule, and without donors where funding matters (``funding``)."""
    return g.instance.rules.max_distance_km is None and not (funding and g.has_donors)
