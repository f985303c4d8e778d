"""Exact lexicographic assignment without donors: staged min-cost flow.

Network: source S -> mentee i (capacity 1), mentee i -> mentor j for every
candidate (capacity 1), mentor j -> sink T (capacity left after pinned), and a
bypass S -> T (capacity n) so that every unit of supply can leave unmatched.

The three objectives are solved one after another on the *optimal face* of the
previous stage. After a stage we compute node potentials pi from one
Bellman-Ford pass over the residual graph (OR-Tools' min-cost flow does not
expose them). For any optimal dual pi, every optimal flow satisfies
complementary slackness with it, so the optimal face is exactly

    { feasible x : x_a = lower_a where rc_a > 0,  x_a = upper_a where rc_a < 0 },

rc_a = c_a + pi(tail) - pi(head). Fixing those arcs and re-solving with the next
stage's costs is therefore exact, with small integer costs at every stage
(no big-M mixing of tiers, so no overflow whatever the instance size):

    stage 1 (coverage): arc S->i costs -W_i, W_i = round(weight_i / 1e-6)
    stage 2 (quality):  arc i->j costs -round(weight_i * score_ij * QUALITY_SCALE)
    stage 3 (cost):     arc i->j costs cost_ij
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

import numpy as np
from ortools.graph.python import min_cost_flow

from ..errors import SolveError
from ..graph.encoding import CandidateGraph

#: Quality (weight * score, a real number) is optimised in units of 1e-9.
QUALITY_SCALE = 10**9
#: OR-Tools' cost-scaling algorithm multiplies costs by (nodes + 1); stay below this.
COST_LIMIT = 2**62


class FlowError(SolveError):
    pass


@dataclass(frozen=True)
class StageResult:
    name: str
    seconds: float
    value: int  # minimised integer objective of the stage


@dataclass(frozen=True)
class FlowResult:
    chosen: np.ndarray  # candidate indices in the matching
    stages: list[StageResult]


def quality_units(g: CandidateGraph, scale: int = QUALITY_SCALE) -> np.ndarray:
    return np.rint(g.mentee_weight[g.pair_mentee] * g.score * scale).astype(np.int64)


@dataclass(frozen=True)
class Network:
    """Arcs [S->free mentees | candidates | mentors->T | bypass S->T], supplies."""

    tail: np.ndarray
    head: np.ndarray
    upper: np.ndarray
    supply: np.ndarray
    free: np.ndarray  # free mentee indices, in S->i arc order
    pair: slice  # the candidate arcs
    n_nodes: int


def network(g: CandidateGraph, subset: Optional[np.ndarray] = None) -> Network:
    """``subset``: candidate indices to make arcs of (default: all, in order)."""
    n, m = g.n_mentees, g.n_mentors
    source, sink = 0, n + m + 1
    free = np.flatnonzero(g.free_mentee)
    mentee = g.pair_mentee if subset is None else g.pair_mentee[subset]
    mentor = g.pair_mentor if subset is None else g.pair_mentor[subset]
    e = len(mentee)
    tail = np.concatenate([np.zeros(len(free), np.int64), 1 + mentee.astype(np.int64),
                           1 + n + np.arange(m), [source]])
    head = np.concatenate([1 + free, 1 + n + mentor.astype(np.int64), np.full(m, sink), [sink]])
    upper = np.concatenate([np.ones(len(free) + e, np.int64), g.capacity, [len(free)]])
    supply = np.zeros(n + m + 2, np.int64)
    supply[source], supply[sink] = len(free), -len(free)
    return Network(tail, head, upper, supply, free, slice(len(free), len(free) + e), n + m + 2)


def solve_staged_flow(g: CandidateGraph, best_quality: Optional[np.ndarray] = None,
                      order: tuple[str, ...] = ("coverage", "quality", "cost")) -> FlowResult:
    """``best_quality``: each mentee's best quality units over *all* its eligible
    pairs, when ``g`` holds only some of them (see pricing.py). ``order``: the
    lexicographic order of the stages (the min-cost policy puts cost second)."""
    net = network(g)
    zeros = np.zeros(len(net.upper), np.int64)
    cost_coverage = zeros.copy()
    cost_coverage[: len(net.free)] = -g.mentee_weight_units[net.free]
    cost_quality = zeros.copy()
    cost_quality[net.pair] = -quality_units(g)
    cost_money = zeros.copy()
    cost_money[net.pair] = g.cost

    by_name = {"coverage": cost_coverage, "quality": cost_quality, "cost": cost_money}
    plan = [(name, by_name[name]) for name in order]
    combined = combined_costs(g, net, best_quality) if tuple(order[:2]) == ("coverage", "quality") else None
    if combined is not None:
        plan = [("coverage+quality", combined), *plan[2:]]
    stages = []
    lower, upper = np.zeros_like(net.upper), net.upper
    flow = lower
    for k, (name, cost) in enumerate(plan):
        t0 = time.perf_counter()
        flow = _min_cost_flow(net.tail, net.head, lower, upper, cost, net.supply, net.n_nodes)
        stages.append(StageResult(name, time.perf_counter() - t0, int(cost @ flow)))
        if k < len(plan) - 1:
            lower, upper = _restrict_to_optimal_face(net.tail, net.head, lower, upper, cost, flow, net.n_nodes)
    chosen = np.flatnonzero(flow[net.pair] > 0)
    return FlowResult(chosen, stages)


def combined_scale(g: CandidateGraph, best_quality: np.ndarray) -> Optional[tuple[np.ndarray, int]]:
    """(w, K) for stage 1 and 2 as one integer cost, or None when it does not fit.

    With w_i = W_i / gcd(W) and K = 1 + sum_i max_e Q_e (more than any difference
    in total quality), minimising -(K w_i) on S->i plus -Q_e on i->j is exactly
    "max coverage, then max quality". Usually w_i are small (weights 1, 1.5, 2
    give 2, 3, 4), so this fits easily; otherwise the stages run apart."""
    free = np.flatnonzero(g.free_mentee)
    units = g.mentee_weight_units[free]
    if len(units) == 0:
        return None
    w = units // int(np.gcd.reduce(units))
    k = 1 + int(best_quality[free].sum())  # Python int: no overflow in the check below
    if (int(w.max()) * k + int(best_quality.max(initial=0))) * (g.n_mentees + g.n_mentors + 3) >= COST_LIMIT:
        return None
    return w, k


def combined_costs(g: CandidateGraph, net: Network, best_quality: Optional[np.ndarray] = None,
                   scale: int = QUALITY_SCALE) -> Optional[np.ndarray]:
    """``best_quality`` (each mentee's best quality units at ``scale`` over all its
    pairs) defaults to the best over the pairs in ``g``."""
    q = quality_units(g, scale)
    if best_quality is None:
        best_quality = np.zeros(g.n_mentees, np.int64)
        np.maximum.at(best_quality, g.pair_mentee, q)
    scale = combined_scale(g, best_quality)
    if scale is None:
        return None
    w, k = scale
    cost = np.zeros(len(net.upper), np.int64)
    cost[: len(net.free)] = -w * k
    cost[net.pair] = -q
    return cost


def max_coverage_units(g: CandidateGraph) -> int:
    """Maximum coverage (in weight units) with budgets ignored: an upper bound
    on coverage for the budgeted problem, from one min-cost flow."""
    net = network(g)
    cost = np.zeros(len(net.upper), np.int64)
    cost[: len(net.free)] = -g.mentee_weight_units[net.free]
    flow = _min_cost_flow(net.tail, net.head, np.zeros_like(net.upper), net.upper, cost, net.supply, net.n_nodes)
    return int(-(cost @ flow))


def _min_cost_flow(tail, head, lower, upper, cost, supply, n_nodes) -> np.ndarray:
    """Minimise cost.x subject to lower <= x <= upper and the node supplies."""
    b = supply.copy()
    np.subtract.at(b, tail, lower)
    np.add.at(b, head, lower)
    free = upper > lower
    smcf = min_cost_flow.SimpleMinCostFlow()
    if free.any():
        smcf.add_arcs_with_capacity_and_unit_cost(
            tail[free], head[free], (upper - lower)[free], cost[free]
        )
    smcf.set_nodes_supplies(np.arange(n_nodes), b)
    status = smcf.solve()
    if status != smcf.OPTIMAL:
        raise FlowError(f"min-cost flow returned status {status}")
    x = lower.copy()
    if free.any():
        x[free] += smcf.flows(np.arange(int(free.sum())))
    return x


def _restrict_to_optimal_face(tail, head, lower, upper, cost, flow, n_nodes):
    pi = residual_potentials(tail, head, lower, upper, cost, flow, n_nodes)
    rc = cost + pi[tail] - pi[head]
    lower, upper = lower.copy(), upper.copy()
    upper = np.where(rc > 0, lower, upper)  # must stay at its lower bound
    lower = np.where(rc < 0, upper, lower)  # must stay at its upper bound
    return lower, upper


def residual_potentials(tail, head, lower, upper, cost, flow, n_nodes) -> np.ndarray:
    """Shortest-path distances from a virtual root (0-cost arcs to all nodes)
    over the residual graph of an optimal flow: valid optimal node potentials.

    Vectorised Bellman-Ford; an optimal flow has no negative residual cycle, so
    it settles in at most ``n_nodes`` sweeps (in practice a handful)."""
    fwd = flow < upper
    bwd = flow > lower
    u = np.concatenate([tail[fwd], head[bwd]])
    v = np.concatenate([head[fwd], tail[bwd]])
    w = np.concatenate([cost[fwd], -cost[bwd]])
    order = np.argsort(v, kind="stable")
    u, v, w = u[order], v[order], w[order]
    dist = np.zeros(n_nodes, np.int64)
    if len(v) == 0:
        return dist
    starts = np.flatnonzero(np.r_[True, v[1:] != v[:-1]])
    targets = v[starts]
    for _ in range(n_nodes + 1):
        best = np.minimum.reduceat(dist[u] + w, starts)
        improved = best < dist[targets]
        if not improved.any():
            return dist
        dist[targets[improved]] = best[improved]
    raise FlowError("negative residual cycle: the flow was not optimal")
