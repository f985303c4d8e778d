"""Lagrangian relaxation of donor budgets, for every lexicographic stage.

A stage maximises sum_e f_e x_e (coverage units, quality units, or minus cost)
subject to the assignment rows (each mentee at most once, each mentor at most
its capacity), each donor's budget and partnership count, and the rows kept
from earlier stages (sum_e g_e x_e >= h: coverage at its optimum in stage 2,
coverage and quality in stage 3). Relax the budgets (multiplier lambda_d >= 0
per currency unit), the counts (mu_d >= 0) and the kept rows (beta >= 0). Every
pair e then takes its best donor,

    v_e = max_{d in D_e} v_ed,   v_ed = f_e + sum_k beta_k g_ke - lambda_d c_e - mu_d,

and what is left is an assignment problem, one min-cost flow:

    L = max_y sum_e v_e y_e + sum_d (lambda_d B_d + mu_d K_d) - sum_k beta_k h_k.

For all multipliers >= 0, L bounds the stage from above (weak duality). Arc
values are scaled by a power of two S and rounded down to integers for the
flow; the bound adds 1/S per pair that can be matched, so it stays a proof.
Multipliers come from Kelley's cutting planes in a box trust region (_Master),
or Polyak subgradient steps on a working set; a fixed number of iterations (no
clock), so the result repeats exactly.

The relaxation also fixes variables (the core). With node potentials of the
optimal flow at the best multipliers (one Bellman-Ford pass, flow.py), every
feasible x satisfies

    S * f(x) <= S * L - sum_{(e,d) in x} p_ed,   p_ed = max(rc_e, 0) + S (v_e - v_ed),

rc_e the reduced cost of arc e. A solution better than the incumbent z (f >= z
+ step) therefore uses only variables with p_ed <= S (L - z - step): the core.
The best solution over the core is the stage's optimum (or z is).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from ..graph.encoding import NO_LIMIT, CandidateGraph
from ..network.flow import min_cost_flow, network, residual_potentials


@dataclass(frozen=True)
class Relaxation:
    """The best bound found and what is needed to fix variables against it."""

    bound: float  # upper bound on the stage (maximised form), in stage units
    scale: float  # S
    bound_scaled: float  # S * bound, computed once
    reduced_cost: np.ndarray  # (E,) rc_e at the best multipliers, in scaled units
    a: np.ndarray  # (E,) f + beta.g at the best multipliers
    lam: np.ndarray
    mu: np.ndarray
    beta: np.ndarray
    iterations: int
    seconds: float

    def penalty(self, g: CandidateGraph) -> np.ndarray:
        """(E, K) p_ed in scaled units; inf where d cannot fund e."""
        v = self.a[:, None] - self.lam[None, :] * g.cost[:, None].astype(np.float64) - self.mu[None, :]
        v = np.where(g.fundable, v, -np.inf)
        best = v.max(axis=1, initial=-np.inf) if g.n_donors else np.zeros(g.n_candidates)
        with np.errstate(invalid="ignore"):
            p = np.maximum(self.reduced_cost, 0)[:, None] + self.scale * (best[:, None] - v)
        return np.where(g.fundable, p, np.inf)

    def core(self, g: CandidateGraph, target: float, penalty: Optional[np.ndarray] = None) -> np.ndarray:
        """(E, K) mask of the variables a solution of value >= target may use
        (``penalty``: self.penalty(g), when the caller has it already)."""
        slack = self.bound_scaled - self.scale * target
        slack += 1e-9 * abs(self.bound_scaled) + 4  # float rounding: only ever widens the core
        return (self.penalty(g) if penalty is None else penalty) <= slack


@dataclass(frozen=True)
class LagrangeResult:
    """Stage 1: the relaxation plus the best repaired assignment."""

    relaxation: Relaxation
    pairs: np.ndarray
    donors: np.ndarray
    value: int  # coverage units of pairs

    @property
    def bound(self) -> float:
        return self.relaxation.bound


#: Repairs a relaxed assignment (chosen candidates, each one's best donor) into a
#: feasible one, keeps the best, and returns its stage value (which may raise the target).
Improve = Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class RelaxSettings:
    """A fixed amount of work (no clock), so the result repeats exactly."""

    iterations: int = 150
    #: The stage's values are multiples of ``step``: a bound within it of the incumbent proves it.
    step: float = 1.0
    #: On a working set, every pair is priced every this many iterations (and at the end).
    price_every: int = 10


@dataclass(frozen=True)
class _Eval:
    """One Lagrangian subproblem solved at some multipliers."""

    a: np.ndarray  # f + beta.g of the candidates evaluated
    d_best: np.ndarray  # their best donor
    scale: float
    chosen: np.ndarray  # candidate indices of the flow
    local: np.ndarray  # the same, as indices into a and d_best
    bound_scaled: float
    rc: Optional[np.ndarray]  # every candidate's reduced cost (priced evaluations only)

    @property
    def bound(self) -> float:
        return self.bound_scaled / self.scale


class _Problem:
    """A stage's Lagrangian relaxation: the data, and L at any multipliers (lam, mu, beta)."""

    def __init__(self, g: CandidateGraph, f: np.ndarray, keep: list[tuple[np.ndarray, float]],
                 working: Optional[np.ndarray]) -> None:
        self.g = g
        self.k = g.n_donors
        self.f = np.asarray(f, np.float64)
        self.cost = g.cost.astype(np.float64)
        self.capped = g.max_count < NO_LIMIT
        self.budget = g.budget.astype(np.float64)
        self.count_cap = np.where(self.capped, g.max_count, 0).astype(np.float64)
        self.coefs = [np.asarray(c, np.float64) for c, _ in keep]
        self.rhs = np.array([h for _, h in keep], np.float64)
        self.keep_scale = np.array([max(float(np.mean(np.abs(c[c != 0]))) if np.any(c) else 1.0, 1e-300)
                                    for c in self.coefs])
        e_all = g.n_candidates
        self.ws = None if working is None or len(working) >= e_all else np.unique(np.asarray(working, np.int64))
        self.max_matched = int(min(int(g.free_mentee.sum()), g.capacity.sum()))
        self.net = network(g, self.ws)

    def values(self, idx: Optional[np.ndarray], lam, mu, beta):
        """a_e, the best donor and v_e for candidates ``idx`` (None = all)."""
        a = self.f if idx is None else self.f[idx]
        for b, c in zip(beta, self.coefs, strict=True):
            a = a + b * (c if idx is None else c[idx])
        d_best, v_best = _best_donor(self.g, a, idx, self.cost, lam, mu)
        return a, d_best, v_best

    def evaluate(self, lam, mu, beta, priced: bool) -> _Eval:
        """Flow on the working set. ``priced``: also price all pairs, making the
        bound valid for the whole graph, with every pair's reduced cost."""
        g, net, ws = self.g, self.net, self.ws
        a, d_best, v_best = self.values(None if (priced or ws is None) else ws, lam, mu, beta)
        scale = _scale(v_best, self.max_matched, net.n_nodes)
        val = np.floor(v_best * scale)
        in_ws = val if (ws is None or not priced) else val[ws]
        arc_cost = np.zeros(len(net.upper), np.int64)
        arc_cost[net.pair] = -in_ws.astype(np.int64)
        lower = np.zeros_like(net.upper)
        flow = min_cost_flow(net, arc_cost, lower)
        picked = np.flatnonzero(flow[net.pair] > 0)
        chosen = picked if ws is None else ws[picked]
        local = picked if (ws is None or not priced) else chosen  # index into a, d_best, val
        # Each matched pair lost less than 1/S to rounding down.
        bound_scaled = float(-(arc_cost @ flow)) + self.max_matched + scale * (
            float(lam @ self.budget) + float(mu @ self.count_cap) - float(beta @ self.rhs))
        rc = None
        if priced:
            pi = residual_potentials(net, lower, net.upper, arc_cost, flow)
            rc = -val + pi[1 + g.pair_mentee] - pi[1 + g.n_mentees + g.pair_mentor]
            if ws is not None:  # the bound of dual-feasible potentials for the whole graph
                bound_scaled += _whole_graph_dual(g, net, pi, val, rc) - float(-(arc_cost @ flow))
        return _Eval(a, d_best, scale, chosen, local, bound_scaled, rc)

    def grow(self, rc: np.ndarray) -> None:
        """The pairs of most negative reduced cost join the working set."""
        assert self.ws is not None
        self.ws = _grow(self.ws, rc)
        self.net = network(self.g, self.ws)

    def subgradient(self, ev: _Eval) -> np.ndarray:
        """Of L at the evaluated point: budget and count slack, and kept rows' surplus."""
        k = self.k
        spend = np.bincount(ev.d_best[ev.local], weights=self.cost[ev.chosen], minlength=k) if k else np.zeros(0)
        used = np.bincount(ev.d_best[ev.local], minlength=k).astype(np.float64) if k else np.zeros(0)
        surplus = np.array([float(c[ev.chosen].sum()) - h for c, h in zip(self.coefs, self.rhs, strict=True)])
        return np.concatenate([self.budget - spend, np.where(self.capped, self.count_cap - used, 0.0), surplus])


class _Polyak:
    """Subgradient steps toward the incumbent, the step halved after 8 iterations
    without a lower value."""

    def __init__(self) -> None:
        self.theta, self.lowest, self.stall = 1.0, np.inf, 0

    def step(self, point: np.ndarray, bound: float, grad: np.ndarray, unit: np.ndarray, target: float,
             step: float) -> Optional[np.ndarray]:
        stall = 0 if bound < self.lowest else self.stall + 1
        theta = self.theta / 2 if stall >= 8 else self.theta
        self.theta, self.lowest, self.stall = theta, min(bound, self.lowest), 0 if stall >= 8 else stall
        gn = grad / unit
        norm = float(gn @ gn)
        if norm == 0:
            return None
        return np.maximum(0.0, point - theta * max(bound - target, step) / norm * gn / unit)


def relax_stage(g: CandidateGraph, f: np.ndarray, keep: list[tuple[np.ndarray, float]], best_value: float,
                settings: RelaxSettings = RelaxSettings(), deadline: Optional[float] = None,
                improve: Optional[Improve] = None, working: Optional[np.ndarray] = None) -> Relaxation:
    """Minimise the Lagrangian bound over the multipliers of budgets, counts and
    ``keep`` rows (coef . y >= rhs): cutting planes (_Master) on the whole graph,
    Polyak subgradient steps on a working set. ``best_value`` is the incumbent's
    stage value (the stopping and Polyak target); with ``improve``, relaxed
    assignments are repaired (every one below a million pairs, every fifth above,
    and those of a sweep of prices at the end), which may raise the target.

    ``working`` (candidate indices) solves each flow on that working set only.
    Every ``price_every`` iterations, and at the end, every other pair is priced
    against the flow's node potentials: the bound is then the whole graph's dual
    bound of those potentials with each mentee's raised by its largest violation
    (_whole_graph_dual), which keeps it a proof, and the most violated pairs
    join the working set. Only those priced bounds are kept as bounds."""
    t0 = time.perf_counter()
    prob = _Problem(g, f, keep, working)
    k, step = prob.k, settings.step
    e_all = g.n_candidates
    fmax = float(np.max(np.abs(prob.f))) if e_all else 1.0
    # Start each kept row's multiplier where one typical pair of it is worth the
    # largest stage value: earlier stages dominate, as they do lexicographically.
    point = np.concatenate([np.zeros(2 * k), np.array([fmax / s for s in prob.keep_scale]) if keep else []])
    # Multipliers in normalised units (a typical pair's worth), as the master sees them.
    unit = np.concatenate([np.full(k, float(np.mean(prob.cost)) if e_all else 1.0), np.ones(k), prob.keep_scale])
    master = _Master(np.concatenate([np.ones(k, bool), prob.capped, np.ones(len(keep), bool)]), radius=max(fmax, 1.0))
    polyak = _Polyak()
    best: Optional[tuple[float, np.ndarray]] = None  # the lowest priced bound and its point
    lowest: Optional[tuple[float, np.ndarray]] = None  # the lowest value seen, priced or on the working set only
    repair_every = 1 if e_all <= 1_000_000 else 5  # a repair costs about a flow at scale
    target = float(best_value)
    done = 0
    for it in range(settings.iterations):
        if deadline is not None and time.perf_counter() > deadline:
            break
        done = it + 1
        priced = prob.ws is None or it % settings.price_every == 0
        ev = prob.evaluate(*_split(point, k), priced)
        bound = ev.bound
        if priced and (best is None or bound < best[0] - 1e-12 * abs(best[0])):
            best = (bound, point.copy())
        if lowest is None or bound < lowest[0]:
            lowest = (bound, point.copy())
        if prob.ws is not None and priced:
            prob.grow(ev.rc)
        if improve is not None and (it % repair_every == 0 or it == settings.iterations - 1):
            target = max(target, float(improve(ev.chosen, ev.d_best[ev.local])))
        if best is not None and best[0] - target < step:
            break
        grad = prob.subgradient(ev)
        if prob.ws is not None:
            # On a working set most values are not bounds (cuts of the working set
            # only), which misleads the cutting planes: Polyak subgradient steps
            # toward the incumbent instead (measured at 20,000 x 5,000 x 5: gap 1.4%
            # against 32% with the cutting planes).
            nxt = polyak.step(point, bound, grad, unit, target, step)
        else:
            nxt = master.step(point * unit, bound, grad / unit, step)
            nxt = None if nxt is None else nxt / unit
        if nxt is None:  # no step left (for the cuts: they promise no lower bound, converged)
            break
        point = nxt
    if prob.ws is not None and lowest is not None and (best is None or lowest[0] < best[0]):
        point = lowest[1]  # a working-set value is no bound: the final priced flow decides
    elif best is not None:
        point = best[1]
    if prob.ws is None and improve is not None and (best is None or best[0] - target >= step):
        target = _repair_sweep(prob, point, improve, target, deadline)
    return _final(prob, point, best, done, t0)


def _split(point: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lam, mu, beta) of a point."""
    return point[:k], point[k:2 * k], point[2 * k:]


def _repair_sweep(prob: _Problem, point: np.ndarray, improve: Improve, target: float,
                  deadline: Optional[float]) -> float:
    """The cutting planes converge in few iterations, so few relaxed assignments
    were repaired: repair those of prices around the best ones too."""
    lam, mu, beta = _split(point, prob.k)
    for factor in REPAIR_SWEEP:
        if deadline is not None and time.perf_counter() > deadline:
            break
        ev = prob.evaluate(lam * factor, mu * factor, beta, False)
        target = max(target, float(improve(ev.chosen, ev.d_best[ev.local])))
    return target


def _final(prob: _Problem, point: np.ndarray, best: Optional[tuple[float, np.ndarray]], done: int,
           t0: float) -> Relaxation:
    """Potentials at the best multipliers: one more (priced) flow, or two when an
    earlier priced point was lower."""
    ev = prob.evaluate(*_split(point, prob.k), True)
    if best is not None and best[0] < ev.bound:
        point = best[1]
        ev = prob.evaluate(*_split(point, prob.k), True)
    lam, mu, beta = _split(point, prob.k)
    assert ev.rc is not None
    return Relaxation(ev.bound, ev.scale, ev.bound_scaled, ev.rc.astype(np.float64), ev.a, lam, mu, beta, done,
                      time.perf_counter() - t0)


#: Price factors around the best multipliers whose relaxed assignments are repaired at the end.
REPAIR_SWEEP = (1.0, 1.01, 1.03, 1.06, 1.1, 1.15, 1.25, 0.99, 0.97, 0.94)


class _Master:
    """Kelley's cutting planes in a box trust region, for min over multipliers
    z >= 0 of the convex L(z): every evaluation gives a cut L(z) >= L_t + g_t.(z
    - z_t); the next point minimises the cuts' maximum within the box around the
    best point so far, which doubles after a step that lowered L and shrinks
    after one that did not. A small LP (OR-Tools' GLOP) per iteration."""

    def __init__(self, free: np.ndarray, radius: float) -> None:
        self.free = free
        self.radius = radius
        self.cuts: list[tuple[float, np.ndarray, np.ndarray]] = []
        self.center: Optional[tuple[float, np.ndarray]] = None

    def step(self, z: np.ndarray, value: float, grad: np.ndarray, tol: float) -> Optional[np.ndarray]:
        from ortools.math_opt.python import mathopt

        self.cuts.append((value, z.copy(), grad.copy()))
        if self.center is None or value < self.center[0]:
            if self.center is not None:
                self.radius *= 2
            self.center = (value, z.copy())
        else:
            self.radius *= 0.7
        ref, c = self.center
        model = mathopt.Model()
        lo = np.where(self.free, np.maximum(0.0, c - self.radius), 0.0)
        hi = np.where(self.free, c + self.radius, 0.0)
        xs = [model.add_variable(lb=float(a), ub=float(b)) for a, b in zip(lo, hi, strict=True)]
        theta = model.add_variable(lb=-np.inf)
        for val, zt, gt in self.cuts:
            nz = np.flatnonzero(gt)
            model.add_linear_constraint(
                theta - mathopt.fast_sum(float(gt[i]) * xs[i] for i in nz) >= (val - ref) - float(gt @ zt))
        model.minimize(theta)
        result = mathopt.solve(model, mathopt.SolverType.GLOP)
        if result.termination.reason != mathopt.TerminationReason.OPTIMAL:
            return None
        if -result.objective_value() < tol * 1e-3:  # the cuts promise no lower bound anywhere in the box
            return None
        return np.array([result.variable_values(x) for x in xs])


#: Rows per block when the best donor of every pair is computed (bounded memory).
VALUE_BLOCK = 1 << 21
#: Most pairs a pricing pass adds to the working set.
ADD_PER_PRICING = 200_000


def _best_donor(g: CandidateGraph, a: np.ndarray, idx: Optional[np.ndarray], cost: np.ndarray,
                lam: np.ndarray, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each candidate (all, or ``idx``): the donor d in D_e maximising
    a_e - lam_d c_e - mu_d, and that value (-inf where no donor can fund it)."""
    if not g.n_donors:
        return np.zeros(len(a), np.int64), a
    n = len(a)
    d_best = np.empty(n, np.int64)
    v_best = np.empty(n)
    for s in range(0, n, VALUE_BLOCK):
        rows = slice(s, min(n, s + VALUE_BLOCK))
        cand = np.arange(rows.start, rows.stop) if idx is None else idx[rows]
        v = np.where(g.fundable[cand], a[rows, None] - lam[None, :] * cost[cand, None] - mu[None, :], -np.inf)
        d_best[rows] = np.argmax(v, axis=1)
        v_best[rows] = v[np.arange(len(cand)), d_best[rows]]
    return d_best, v_best


def _whole_graph_dual(g: CandidateGraph, net, pi: np.ndarray, val: np.ndarray, rc: np.ndarray) -> float:
    """An upper bound on the best arc value of the whole graph's flow problem.

    For any node potentials pi, min-cost flow >= -sum_v pi_v b_v + sum_a u_a
    min(0, rc_a) (LP duality). The working-set potentials leave some pairs with
    rc < 0; raising each mentee's potential by its largest violation makes all
    its pairs' rc >= 0 (only its source arc, of capacity 1, pays for it). The
    formula is then evaluated exactly over every arc of the whole graph."""
    n, m = g.n_mentees, g.n_mentors
    raise_by = np.zeros(n)
    np.maximum.at(raise_by, g.pair_mentee, -rc)
    p = pi.astype(np.float64).copy()
    p[1:1 + n] += np.maximum(raise_by, 0)
    source, sink = 0, n + m + 1
    free = np.flatnonzero(g.free_mentee)
    rc_pair = -val + p[1 + g.pair_mentee] - p[1 + n + g.pair_mentor]
    rc_source = p[source] - p[1 + free]  # S -> i, cost 0
    rc_mentor = p[1 + n + np.arange(m)] - p[sink]  # j -> T, cost 0, capacity u_j
    rc_bypass = p[source] - p[sink]  # S -> T, capacity = free mentees
    min_cost = (-(p[source] * len(free) - p[sink] * len(free)) + np.minimum(rc_pair, 0).sum()
                + np.minimum(rc_source, 0).sum() + (np.minimum(rc_mentor, 0) * g.capacity).sum()
                + min(rc_bypass, 0.0) * len(free))
    return float(-min_cost)


def _grow(ws: np.ndarray, rc: np.ndarray) -> np.ndarray:
    """The working set plus the pairs outside it with the most negative reduced cost."""
    outside = np.ones(len(rc), bool)
    outside[ws] = False
    violating = np.flatnonzero(outside & (rc < 0))
    if len(violating) > ADD_PER_PRICING:
        violating = violating[np.argpartition(rc[violating], ADD_PER_PRICING)[:ADD_PER_PRICING]]
    return np.union1d(ws, violating) if len(violating) else ws


def cheapest_working_set(g: CandidateGraph, per_mentee: int = 16, per_mentor: int = 8) -> np.ndarray:
    """Each mentee's ``per_mentee`` cheapest pairs and each mentor's
    ``per_mentor`` x capacity cheapest: under budgets the cheap pairs carry the
    largest Lagrangian values; pricing adds whatever else is needed."""
    picks = []
    cost_bits = max(1, int(g.cost.max(initial=0)).bit_length())
    for owner, quota in ((g.pair_mentee, np.full(g.n_mentees, per_mentee)), (g.pair_mentor, per_mentor * g.capacity)):
        if cost_bits + max(1, int(owner.max(initial=0)).bit_length()) < 63:  # one int64 key sorts faster than lexsort
            order = np.argsort((owner.astype(np.int64) << cost_bits) | g.cost, kind="stable")
        else:
            order = np.lexsort((g.cost, owner))
        sorted_owner = owner[order]
        starts = np.searchsorted(sorted_owner, sorted_owner, side="left")
        rank = np.arange(len(order)) - starts
        picks.append(order[rank < quota[sorted_owner]])
    return np.unique(np.concatenate(picks))


def _scale(values: np.ndarray, max_matched: int, n_nodes: int) -> float:
    """A power of two S for the arc values: S * max|v| stays below what the flow
    (costs times nodes under 2^62) and a float sum of matched values (2^52) hold."""
    top = float(np.max(np.abs(values[np.isfinite(values)]), initial=0.0))
    if top == 0:
        return 1.0
    limit = min(2.0**52 / (max_matched + 1), 2.0**62 / (n_nodes + 1) / 8)
    return float(2.0 ** np.floor(np.log2(limit / top)))


def coverage_lagrangian(
    g: CandidateGraph,
    start_pairs: np.ndarray,
    start_donors: np.ndarray,
    iterations: int = 150,
    deadline: Optional[float] = None,
    working: Optional[np.ndarray] = None,
) -> LagrangeResult:
    """Stage 1: the relaxation, with every fifth relaxed assignment repaired into
    a feasible one (funded by a donor with room, or dropped, then filled
    greedily); the best repaired assignment is kept."""
    units = g.mentee_weight_units[g.pair_mentee].astype(np.int64)
    best = [np.asarray(start_pairs, np.int64), np.asarray(start_donors, np.int64), 0]
    best[2] = int(units[best[0]].sum())

    def repaired(p, d) -> int:
        val = int(units[p].sum())
        if val > best[2]:
            best[:] = [p, d, val]
        return best[2]

    relaxation = relax_stage(g, units, [], best[2], RelaxSettings(iterations=iterations), deadline,
                             improve=lambda chosen, pref: repaired(*_repair(g, chosen, pref, working)),
                             working=working)
    return LagrangeResult(relaxation, best[0], best[1], best[2])


def _repair(g: CandidateGraph, chosen: np.ndarray, preferred: np.ndarray,
            pool: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray]:
    """A feasible assignment near the relaxed one: keep its pairs while a donor
    that can fund them has room (the preferred donor first, cheapest pairs
    first), then fill free mentees greedily with the cheapest affordable pairs
    of ``pool`` (candidate indices; default all)."""
    k = g.n_donors
    budget, count, room = g.budget.tolist(), g.max_count.tolist(), g.capacity.tolist()
    taken = bytearray(g.n_mentees)
    pairs: list[int] = []
    donors: list[int] = []
    cheapest = int(g.cost.min(initial=0))

    def fund(c: int, mask: int, first: int) -> int:
        if first >= 0 and mask >> first & 1 and budget[first] >= c and count[first] > 0:
            return first
        best = -1  # else the donor with most budget left
        for x in range(k):
            if mask >> x & 1 and budget[x] >= c and count[x] > 0 and (best < 0 or budget[x] > budget[best]):
                best = x
        return best

    def scan(idx: np.ndarray, first: list[int]) -> None:
        masks = (g.fundable[idx].astype(np.int64) << np.arange(k)).sum(axis=1) if k else np.zeros(len(idx), np.int64)
        for e, i, j, c, mask, d0 in zip(idx.tolist(), g.pair_mentee[idx].tolist(), g.pair_mentor[idx].tolist(),
                                        g.cost[idx].tolist(), masks.tolist(), first, strict=True):
            if taken[i] or room[j] <= 0:
                continue
            d = fund(c, mask, d0)
            if d < 0:
                continue
            budget[d] -= c
            count[d] -= 1
            room[j] -= 1
            taken[i] = 1
            pairs.append(e)
            donors.append(d)

    order = np.argsort(g.cost[chosen], kind="stable")
    scan(chosen[order], np.asarray(preferred)[order].tolist())
    # Fill: candidates of still-free mentees, by weight (desc) then cost (asc).
    pool = np.arange(g.n_candidates) if pool is None else pool
    free = np.frombuffer(bytes(taken), np.uint8) == 0
    open_ = pool[free[g.pair_mentee[pool]] & (np.asarray(room)[g.pair_mentor[pool]] > 0)]
    open_ = open_[np.lexsort((g.cost[open_], -g.mentee_weight_units[g.pair_mentee[open_]]))]
    for s in range(0, len(open_), 1 << 18):
        if not any(b >= cheapest and n > 0 for b, n in zip(budget, count, strict=True)):
            break  # no donor can fund even the cheapest pair
        block = open_[s:s + (1 << 18)]
        scan(block, [-1] * len(block))
    return np.array(pairs, np.int64), np.array(donors, np.int64)
