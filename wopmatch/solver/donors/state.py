"""What the engine knows of a stage while it works on it (engine.py), what its moves
read and change (moves.py), and the plain figures ``engine.decide`` reads."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ...models.instance import WEIGHT_RESOLUTION
from ..graph.encoding import CandidateGraph
from ..graph.units import QUALITY_SCALE
from .bound import Relaxed, pool_of
from .result import stage_gap
from .rows import PROOF_TOLERANCE, Keep, Objective, maximised
from .solvers import Run

log = logging.getLogger("wopmatch.solver")

#: A stage's gain (maximised form, integer units) in the solution's units: weight, quality, money.
UNITS = {"coverage": WEIGHT_RESOLUTION, "quality": 1 / QUALITY_SCALE, "cost": -1.0}


@dataclass(frozen=True)
class Found:
    pairs: Optional[np.ndarray]  # a better assignment, or None
    donors: Optional[np.ndarray]
    bound: Optional[float]  # a proven bound on the stage (maximised form), or None
    exhausted: bool = False  # no later round of the move can find more (LNS: the whole pool was solved)


NOTHING = Found(None, None, None)


@dataclass(frozen=True)
class View:
    """What ``decide`` reads of a stage: plain figures, no arrays."""

    later: bool  # quality or cost (their kept rows make cores dear)
    position: int  # the stage's place in the policy's order (0, 1, 2)
    keeps_quality: bool  # a stage after quality: it keeps the quality row
    gain: int  # the incumbent, maximised form
    top: int  # the proven bound, maximised form
    step: int
    core: Optional[int]  # columns of the core at the incumbent (None: not counted on rounds this large)
    tried: frozenset[str]  # moves run so far in this stage
    lns_rounds: int
    lns_stall: int  # LNS rounds since the last that improved
    enough: Optional[int] = None  # a probe's target: stop once reached, or proven out of reach
    out_of_time: bool = False
    free_mentees: Optional[int] = None  # the round's free mentees (None: not said, as a large round)

    @property
    def closed(self) -> bool:
        return self.gain >= self.top or (self.enough is not None and (self.gain >= self.enough or self.top < self.enough))


@dataclass
class Best:
    """The best assignment so far, carried from stage to stage."""

    pairs: np.ndarray
    donors: np.ndarray


@dataclass
class Stage:
    """One stage as the moves work on it."""

    g: CandidateGraph
    name: str
    keep: list[Keep]
    best: Best
    run: Run
    deadline: Optional[float]
    objective: Objective  # the stage's objective per pair (rows.stage_objective)
    step: int
    relaxed: Relaxed
    top: int
    pool: tuple[np.ndarray, np.ndarray]  # (pairs, donors): the columns LNS works over (bound.pool_of)
    rng: np.random.Generator
    donor_pairs: list[np.ndarray]
    enough: Optional[int] = None
    keeps_quality: bool = False
    position: int = 0
    gain: int = 0
    core: Optional[int] = None
    tried: set[str] = field(default_factory=set)
    steps: list[str] = field(default_factory=list)
    lns_rounds: int = 0
    lns_stall: int = 0
    pool_level: int = 0  # the pool's rung on tuning.pool_ladder
    pool_rounds: int = 0  # LNS rounds over the current pool
    cp_sat_workers: int = 0
    f: np.ndarray = field(init=False)  # the objective, maximised form (cost negated)

    def __post_init__(self) -> None:
        self.f = maximised(self.objective)

    @property
    def n_free(self) -> int:
        return int(self.g.free_mentee.sum())

    def time_left(self) -> Optional[float]:
        return None if self.deadline is None else max(0.0, self.deadline - time.perf_counter())

    def gain_of(self, pairs: np.ndarray) -> int:
        return int(self.f[pairs].sum())

    def meets(self, pairs: np.ndarray) -> bool:
        """Whether an assignment's pairs meet every kept row."""
        return meets_rows(self.keep, pairs)

    def view(self) -> View:
        return View(later=self.name != "coverage", position=self.position, keeps_quality=self.keeps_quality,
                    gain=self.gain, top=self.top, step=self.step, core=self.core,
                    tried=frozenset(self.tried), lns_rounds=self.lns_rounds, lns_stall=self.lns_stall,
                    enough=self.enough, out_of_time=self.time_left() == 0.0, free_mentees=self.n_free)

    def apply(self, move: str, found: Found) -> None:
        self.tried.add(move)
        before = (self.gain, self.top)
        improved = found.pairs is not None and self.gain_of(found.pairs) > self.gain
        if improved:
            self.best.pairs, self.best.donors = found.pairs, found.donors
            self.gain = self.gain_of(found.pairs)
            self.steps.append(move)
            self.count_core()
        if found.bound is not None:  # a move's proof: over a core, which holds every better assignment
            self.top = min(self.top, max(self.gain, lattice_floor(found.bound, self.step)))
            self.steps.append(move)
        self.top = settled(self.top, self.gain)
        if move == "lns":
            self.lns_rounds += 1
            self.pool_rounds += 1
            self.lns_stall = 0 if improved else self.lns_stall + 1
            if found.exhausted:  # the whole pool is solved: a larger one, or no more LNS
                self.lns_stall = 0 if self.grow_pool() else self.run.params.lns_stall
        if (self.gain, self.top) != before:  # progress lines say what moved
            log.info("%s", progress_line(self.name, self.gain, self.top, move))

    def grow_pool(self) -> bool:
        """The next pool on tuning.pool_ladder, if there is one."""
        ladder = self.run.params.pool_ladder
        if self.pool_level + 1 >= len(ladder):
            return False
        self.pool_level += 1
        self.pool = pool_of(self.g, self.relaxed, ladder[self.pool_level])
        self.pool_rounds = 0
        return True

    def count_core(self) -> None:
        """The core's size at the incumbent, on rounds where one pass over the columns is cheap."""
        if self.g.fundable.size <= self.run.params.core_count_max_cells and self.gain < self.top:
            self.core = int(self.relaxed.core(self.g, self.gain + self.step).sum())


def meets_rows(keep: list[Keep], pairs: np.ndarray) -> bool:
    for coef, value, sense in keep:
        total = int(coef[pairs].sum())
        if (sense > 0 and total < value) or (sense < 0 and total > value):
            return False
    return True


def settled(top: int, gain: int) -> int:
    """The bound, or the incumbent's value when the gap is within PROOF_TOLERANCE of it:
    HiGHS computes its bounds in floating point, with tolerances of about that size
    (200 x 60 x 5 s1, quality: 101.616953600 against HiGHS's 101.616953701 after 230
    nodes; the difference is HiGHS's arithmetic, not a better assignment)."""
    return gain if top - gain <= PROOF_TOLERANCE * abs(top) else top


def lattice_floor(bound: float, step: int) -> int:
    """The largest multiple of ``step`` at or below ``bound``, after widening by float
    rounding (only ever up: the result stays a bound)."""
    widened = bound + 1e-9 * abs(bound) + 1e-6
    return int(np.floor(widened / step)) * step


def progress_line(name: str, gain: int, top: int, after: str) -> str:
    """"coverage 1,149 (<= 1,151, gap 0.17%) lns", in the solution's units (the free
    mentees' part: pinned partnerships are added later); under 70 characters for the
    sizes measured, so that a progress line fits 80 columns."""
    v, b = gain * UNITS[name], top * UNITS[name]
    gap = stage_gap(name, v, b)
    shown = f"{gap:.2%}" if gap == 0 or gap >= 5e-5 else "<0.01%"  # never "0.00%" for an open gap
    return f"{name} {_number(v)} ({'>=' if name == 'cost' else '<='} {_number(b)}, gap {shown}) {after}"


def _number(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1e5 else f"{x:,.6g}"
