"""Min-cost flows on matching networks, and the staged (lexicographic) flow.

A network is a ``Structure`` (the arcs other than the pairs: source, mentees,
mentors, sink, and for some policies group nodes) plus one arc mentee -> mentor
of capacity 1 per pair, appended after the structural arcs. The plain
structure, for optimal and min-cost:

    S -> free mentee i [0, 1],  mentor j -> T [0, capacity left],  bypass S -> T [0, free mentees]

(the bypass lets every unit of supply leave unmatched).

The objectives are solved one after another on the *optimal face* of the
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

Coverage and quality are usually folded into one integer cost (combined_scale).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

import numpy as np
from ortools.graph.python import min_cost_flow as ortools_flow

from ..errors import SolveError
from ..graph.encoding import CandidateGraph

#: OR-Tools' cost-scaling algorithm multiplies costs by (nodes + 1); stay below this.
COST_LIMIT = 2**62


class FlowError(SolveError):
    pass


def fits(max_abs_cost: int, n_nodes: int) -> bool:
    """Whether integer arc costs up to ``max_abs_cost`` fit OR-Tools' cost range on ``n_nodes`` nodes."""
    return max_abs_cost * (n_nodes + 1) < COST_LIMIT


@dataclass(frozen=True)
class StageResult:
    name: str
    seconds: float
    value: int  # minimised integer objective of the stage


@dataclass(frozen=True)
class FlowResult:
    chosen: np.ndarray  # candidate indices in the matching
    stages: list[StageResult]


@dataclass(frozen=True)
class Network:
    """Arcs (structural ones first, then one per pair: ``pair``) with bounds, and node supplies."""

    tail: np.ndarray
    head: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    supply: np.ndarray
    n_nodes: int
    pair: slice  # the pair arcs


@dataclass(frozen=True)
class Structure:
    """The arcs other than the pairs, and where mentees and mentors sit."""

    tail: np.ndarray
    head: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    supply: np.ndarray
    n_nodes: int
    mentee_node: np.ndarray  # (n,) node of each mentee
    mentor_node: np.ndarray  # (m,) node of each mentor

    def with_pairs(self, mentee: np.ndarray, mentor: np.ndarray) -> Network:
        """The network of this structure and one arc [0, 1] per pair (mentee[k], mentor[k])."""
        ns, e = len(self.tail), len(mentee)
        return Network(np.concatenate([self.tail, self.mentee_node[mentee]]),
                       np.concatenate([self.head, self.mentor_node[mentor]]),
                       np.concatenate([self.lower, np.zeros(e, np.int64)]),
                       np.concatenate([self.upper, np.ones(e, np.int64)]),
                       self.supply, self.n_nodes, slice(ns, ns + e))


def plain_structure(g: CandidateGraph) -> Structure:
    """S -> free mentee [0, 1], mentor -> T [0, capacity], bypass S -> T; nodes S = 0,
    mentees 1..n, mentors n+1..n+m, T = n+m+1. The S -> mentee arcs come first, in
    the order of the free mentees."""
    n, m = g.n_mentees, g.n_mentors
    source, sink = 0, n + m + 1
    free = np.flatnonzero(g.free_mentee)
    tail = np.concatenate([np.zeros(len(free), np.int64), 1 + n + np.arange(m), [source]])
    head = np.concatenate([1 + free, np.full(m, sink), [sink]])
    upper = np.concatenate([np.ones(len(free), np.int64), g.capacity, [len(free)]]).astype(np.int64)
    supply = np.zeros(n + m + 2, np.int64)
    supply[source], supply[sink] = len(free), -len(free)
    return Structure(tail, head, np.zeros_like(upper), upper, supply, n + m + 2, 1 + np.arange(n),
                     1 + n + np.arange(m))


def coverage_cost(g: CandidateGraph, structure: Structure) -> np.ndarray:
    """Stage 1 on plain_structure: each free mentee matched earns its weight units."""
    free = np.flatnonzero(g.free_mentee)
    c = np.zeros(len(structure.tail), np.int64)
    c[: len(free)] = -g.mentee_weight_units[free]
    return c


def network(g: CandidateGraph, subset: Optional[np.ndarray] = None) -> Network:
    """plain_structure with an arc per candidate (``subset``: those candidate indices, in order)."""
    mentee = g.pair_mentee if subset is None else g.pair_mentee[subset]
    mentor = g.pair_mentor if subset is None else g.pair_mentor[subset]
    return plain_structure(g).with_pairs(mentee, mentor)


def min_cost_flow(net: Network, cost: np.ndarray, lower: Optional[np.ndarray] = None,
                  upper: Optional[np.ndarray] = None) -> np.ndarray:
    """Minimise cost.x subject to lower <= x <= upper (default: the network's) and the supplies."""
    lower = net.lower if lower is None else lower
    upper = net.upper if upper is None else upper
    b = net.supply.copy()
    np.subtract.at(b, net.tail, lower)
    np.add.at(b, net.head, lower)
    free = upper > lower
    smcf = ortools_flow.SimpleMinCostFlow()
    if free.any():
        smcf.add_arcs_with_capacity_and_unit_cost(net.tail[free], net.head[free], (upper - lower)[free], cost[free])
    smcf.set_nodes_supplies(np.arange(net.n_nodes), b)
    status = smcf.solve()
    if status != smcf.OPTIMAL:
        raise FlowError(f"min-cost flow returned status {status}")
    x = lower.copy()
    if free.any():
        x[free] += smcf.flows(np.arange(int(free.sum())))
    return x


def optimal_face(net: Network, lower: np.ndarray, upper: np.ndarray, cost: np.ndarray,
                 flow: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bounds that keep every arc on the optimal face of ``flow`` (module
    docstring), and the potentials that prove it."""
    pi = residual_potentials(net, lower, upper, cost, flow)
    rc = cost + pi[net.tail] - pi[net.head]
    return np.where(rc < 0, upper, lower), np.where(rc > 0, lower, upper), pi


def solve_staged(net: Network, stages: list[tuple[str, np.ndarray]],
                 lower: Optional[np.ndarray] = None) -> tuple[np.ndarray, list[StageResult]]:
    """Each (name, cost) optimal on the optimal face of the ones before: the last
    stage's flow and each stage's value."""
    lower = net.lower if lower is None else lower
    upper = net.upper
    flow = lower
    results = []
    for k, (name, cost) in enumerate(stages):
        t0 = time.perf_counter()
        flow = min_cost_flow(net, cost, lower, upper)
        results.append(StageResult(name, time.perf_counter() - t0, int(cost @ flow)))
        if k < len(stages) - 1:
            lower, upper, _ = optimal_face(net, lower, upper, cost, flow)
    return flow, results


def solve_staged_flow(g: CandidateGraph, order: tuple[str, ...] = ("coverage", "quality", "cost"),
                      fold: bool = True) -> FlowResult:
    """The lexicographic optimum over every candidate of ``g`` in ``order`` (the
    min-cost policy puts cost second); coverage and quality as one stage where
    they come first and ``fold`` allows it (combined_costs)."""
    net = network(g)
    ns = net.pair.start
    by_name = {"coverage": np.concatenate([coverage_cost(g, plain_structure(g)), np.zeros(g.n_candidates, np.int64)])}
    by_name["quality"] = np.zeros(len(net.upper), np.int64)
    by_name["quality"][ns:] = -g.pair_quality_units()
    by_name["cost"] = np.zeros(len(net.upper), np.int64)
    by_name["cost"][ns:] = g.cost
    plan = [(name, by_name[name]) for name in order]
    combined = combined_costs(g, net) if fold and tuple(order[:2]) == ("coverage", "quality") else None
    if combined is not None:
        plan = [("coverage+quality", combined), *plan[2:]]
    flow, stages = solve_staged(net, plan)
    return FlowResult(np.flatnonzero(flow[net.pair] > 0), stages)


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
    if not fits(int(w.max()) * k + int(best_quality.max(initial=0)), g.n_mentees + g.n_mentors + 2):
        return None
    return w, k


def combined_costs(g: CandidateGraph, net: Network) -> Optional[np.ndarray]:
    """Coverage then quality as one cost on ``net`` (a network of plain_structure), or None."""
    q = g.pair_quality_units()
    best_quality = np.zeros(g.n_mentees, np.int64)
    np.maximum.at(best_quality, g.pair_mentee, q)
    scale = combined_scale(g, best_quality)
    if scale is None:
        return None
    w, k = scale
    cost = np.zeros(len(net.upper), np.int64)
    cost[: int(g.free_mentee.sum())] = -w * k
    cost[net.pair] = -q
    return cost


def max_coverage_units(g: CandidateGraph) -> int:
    """Maximum coverage (in weight units) with budgets ignored: an upper bound
    on coverage for the budgeted problem, from one min-cost flow."""
    net = network(g)
    cost = np.zeros(len(net.upper), np.int64)
    cost[: net.pair.start] = coverage_cost(g, plain_structure(g))
    return int(-(cost @ min_cost_flow(net, cost)))


def residual_potentials(net: Network, lower: np.ndarray, upper: np.ndarray, cost: np.ndarray,
                        flow: np.ndarray) -> np.ndarray:
    """Shortest-path distances from a virtual root (0-cost arcs to all nodes)
    over the residual graph of an optimal flow: valid optimal node potentials.

    Vectorised Bellman-Ford; an optimal flow has no negative residual cycle, so
    it settles in at most ``n_nodes`` sweeps (in practice a handful)."""
    tail, head, n_nodes = net.tail, net.head, net.n_nodes
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
