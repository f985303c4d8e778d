"""Bounds proven during a long solve, for whoever is watching (api.Watch: the
service's progress route). An engine calls ``report``; nothing happens unless
``solve`` was given a watch, which sets ``PROGRESS`` (a ContextVar, so concurrent
solves in threads do not see each other's callbacks)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Callable, Optional

from .interrupt import check

#: Called with (phase, proven upper bound on coverage or None).
PROGRESS: ContextVar[Optional[Callable[[str, Optional[float]], None]]] = ContextVar("PROGRESS", default=None)


def report(phase: str, coverage_bound: Optional[float] = None, pinned_coverage: float = 0.0) -> None:
    """``coverage_bound``: a proven bound on the free mentees' coverage (their weight). A stop
    asked for (interrupt.py) is raised here, between two steps of the engine."""
    check()
    callback = PROGRESS.get()
    if callback is None:
        return
    callback(phase, None if coverage_bound is None else round(pinned_coverage + coverage_bound, 6))
