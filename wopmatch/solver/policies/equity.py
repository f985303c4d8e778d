"""``regional-equity``: the highest lowest coverage rate across groups of mentees
(their region by default), then the default objective."""

from __future__ import annotations

import math
import time

import numpy as np

from ...models.solution import StageStats
from ..graph.encoding import CandidateGraph
from ..network.flow import QUALITY_SCALE, FlowError, _min_cost_flow, _restrict_to_optimal_face, quality_units
from ..network.optimal_pricing import _Pairs
from ..network.pricing import (
    PairSource,
    Stage,
    Structure,
    coverage_cost,
    first_working_set,
    flow_on,
    fold,
    plain_structure,
    resolution_note,
    solve_lexicographic,
)
from .base import ORTOOLS_VERSION, Assignment, Policy, SolveOptions, priced_assignment

GROUP_KEYS = ("region", "country")


def mentee_groups(graph: CandidateGraph, key: str) -> tuple[list[str], np.ndarray]:
    """Group names and each mentee's group index."""
    ops = graph.instance.operators
    values = [getattr(ops[int(o)], key) for o in graph.mentees.op]
    names = sorted(set(values))
    at = {v: k for k, v in enumerate(names)}
    return names, np.array([at[v] for v in values], np.int64)


class RegionalEquityPolicy(Policy):
    """A group's coverage rate is the share of its mentees matched (pinned ones
    included). Let t* be the largest t such that every group can reach a rate of
    at least t at once: a binary search over the rates k / N_g, each probe a
    feasible-circulation check with a lower bound ceil(t N_g) - pinned_g on the
    flow through group g's node. Then coverage, quality and cost in turn (min-cost
    flows restricted to each stage's optimal face) with those lower bounds."""

    name = "regional-equity"
    exact = True
    supports_donors = False
    summary = "the highest lowest share of mentees matched across regions (or --group-by), then the default"

    priced = True

    def solve(self, graph: CandidateGraph, options: SolveOptions) -> Assignment:
        if options.method == "flow-pricing":
            return _solve_priced(graph, options.group_by)
        t0 = time.perf_counter()
        names, group = mentee_groups(graph, options.group_by)
        g_count = len(names)
        size = np.bincount(group, minlength=g_count)
        pinned = np.bincount(group[graph.pinned.mentee], minlength=g_count) if len(graph.pinned.mentee) \
            else np.zeros(g_count, np.int64)
        net = _GroupNetwork(graph, group, g_count)
        rates = sorted({k / int(n) for n in size if n for k in range(int(n) + 1)})
        lo, hi, probes = 0, len(rates) - 1, 0  # rate 0 is always reachable
        while lo < hi:
            mid = (lo + hi + 1) // 2
            probes += 1
            if net.feasible(_lower(rates[mid], size, pinned)):
                lo = mid
            else:
                hi = mid - 1
        t_star = rates[lo] if rates else 0.0
        chosen, stage_stats = net.staged(_lower(t_star, size, pinned))
        stages = [StageStats(name="lowest-rate", status="optimal", seconds=round(time.perf_counter() - t0, 4),
                             value=t_star)] + stage_stats
        return Assignment(
            pairs=chosen, donors=np.full(len(chosen), -1, np.int64), status="optimal", default_objective=False,
            method=f"max-min-rate search by {options.group_by} ({probes} circulations)+staged-min-cost-flow",
            solver=f"ortools-min-cost-flow {ORTOOLS_VERSION}", stages=stages)


def _lower(t: float, size: np.ndarray, pinned: np.ndarray) -> np.ndarray:
    """Mentees each group must have matched by the policy for a rate of at least t."""
    need = np.array([math.ceil(t * int(n) - 1e-9) for n in size], np.int64)
    return np.maximum(need - pinned, 0)


class _GroupNetwork:
    """Nodes: source, group nodes, mentees, mentors, sink. Arcs: source -> group
    [lower_g, free mentees of g]; group -> its free mentees; mentee -> mentor per
    candidate; mentor -> sink [0, capacity]; sink -> source (a circulation)."""

    def __init__(self, graph: CandidateGraph, group: np.ndarray, g_count: int) -> None:
        n, m = graph.n_mentees, graph.n_mentors
        free = np.flatnonzero(graph.free_mentee)
        self.graph = graph
        self.g_count = g_count
        source, sink = 0, 1 + g_count + n + m
        self.n_nodes = sink + 1
        g_node = 1 + np.arange(g_count)
        mentee_node = 1 + g_count + np.arange(n)
        mentor_node = 1 + g_count + n + np.arange(m)
        e = graph.n_candidates
        self.tail = np.concatenate([np.full(g_count, source), g_node[group[free]], mentee_node[graph.pair_mentee],
                                    mentor_node, [sink]]).astype(np.int64)
        self.head = np.concatenate([g_node, mentee_node[free], mentor_node[graph.pair_mentor],
                                    np.full(m, sink), [source]]).astype(np.int64)
        self.group_arcs = slice(0, g_count)
        self.mentee_arcs = slice(g_count, g_count + len(free))
        self.pair_arcs = slice(g_count + len(free), g_count + len(free) + e)
        free_per_group = np.bincount(group[free], minlength=g_count)
        self.upper = np.concatenate([free_per_group, np.ones(len(free) + e, np.int64), graph.capacity,
                                     [len(free)]]).astype(np.int64)
        self.free = free
        self.supply = np.zeros(self.n_nodes, np.int64)

    def _lower_bounds(self, lower_group: np.ndarray) -> np.ndarray:
        lower = np.zeros(len(self.upper), np.int64)
        lower[self.group_arcs] = lower_group
        return lower

    def feasible(self, lower_group: np.ndarray) -> bool:
        if np.any(lower_group > self.upper[self.group_arcs]):
            return False
        try:
            _min_cost_flow(self.tail, self.head, self._lower_bounds(lower_group), self.upper,
                           np.zeros(len(self.upper), np.int64), self.supply, self.n_nodes)
        except FlowError:
            return False
        return True

    def staged(self, lower_group: np.ndarray) -> tuple[np.ndarray, list[StageStats]]:
        g = self.graph
        lower, upper = self._lower_bounds(lower_group), self.upper
        costs = []
        for name in ("coverage", "quality", "cost"):
            c = np.zeros(len(self.upper), np.int64)
            if name == "coverage":
                c[self.mentee_arcs] = -g.mentee_weight_units[self.free]
            elif name == "quality":
                c[self.pair_arcs] = -quality_units(g)
            else:
                c[self.pair_arcs] = g.cost
            costs.append((name, c))
        stats = []
        flow = lower
        for k, (name, c) in enumerate(costs):
            t = time.perf_counter()
            flow = _min_cost_flow(self.tail, self.head, lower, upper, c, self.supply, self.n_nodes)
            stats.append(StageStats(name=name, status="optimal", seconds=round(time.perf_counter() - t, 4),
                                    value=float(c @ flow)))
            if k < len(costs) - 1:
                lower, upper = _restrict_to_optimal_face(self.tail, self.head, lower, upper, c, flow, self.n_nodes)
        return np.flatnonzero(flow[self.pair_arcs] > 0), stats


def _group_structure(graph: CandidateGraph, group: np.ndarray, g_count: int, lower_group: np.ndarray,
                     probe: bool) -> tuple[Structure, np.ndarray]:
    """_GroupNetwork's arcs without the pairs, and the cost that marks what is
    wanted of them. ``probe``: each source -> group arc is split in [0, L_g] at
    cost -1 and [0, free_g - L_g] at 0, so the lower bounds can all be met iff
    the least cost is -sum L (and any working set gives a feasible flow);
    otherwise the arc is [L_g, free_g] and the cost is coverage (-W_i per mentee)."""
    n, m = graph.n_mentees, graph.n_mentors
    free = np.flatnonzero(graph.free_mentee)
    source, sink = 0, 1 + g_count + n + m
    g_node = 1 + np.arange(g_count)
    mentee_node = 1 + g_count + np.arange(n)
    mentor_node = 1 + g_count + n + np.arange(m)
    free_per_group = np.bincount(group[free], minlength=g_count).astype(np.int64)
    copies = 2 if probe else 1
    tail = np.concatenate([np.zeros(copies * g_count, np.int64), g_node[group[free]], mentor_node, [sink]])
    head = np.concatenate([np.tile(g_node, copies), mentee_node[free], np.full(m, sink), [source]])
    rest = np.concatenate([np.ones(len(free), np.int64), graph.capacity, [len(free)]]).astype(np.int64)
    cost = np.zeros(len(tail), np.int64)
    if probe:
        upper = np.concatenate([lower_group, free_per_group - lower_group, rest])
        lower = np.zeros(len(upper), np.int64)
        cost[:g_count] = -1
    else:
        upper = np.concatenate([free_per_group, rest])
        lower = np.concatenate([lower_group, np.zeros(len(rest), np.int64)])
        cost[g_count:g_count + len(free)] = -graph.mentee_weight_units[free]
    structure = Structure(tail.astype(np.int64), head.astype(np.int64), lower, upper.astype(np.int64),
                          np.zeros(sink + 1, np.int64), sink + 1, mentee_node, mentor_node)
    return structure, cost


def _solve_priced(graph: CandidateGraph, group_by: str) -> Assignment:
    """The same binary search over the rates, each probe answered for the whole
    graph: a rate met on the working set is met; otherwise a priced probe either
    proves it out of reach or meets it, and its working set joins ours. Then
    the staged optimum with the lower bounds of t*, priced, from a working set
    on which they are met."""
    t0 = time.perf_counter()
    names, group = mentee_groups(graph, group_by)
    g_count = len(names)
    size = np.bincount(group, minlength=g_count)
    pinned = np.bincount(group[graph.pinned.mentee], minlength=g_count) if len(graph.pinned.mentee) \
        else np.zeros(g_count, np.int64)
    free_per_group = np.bincount(group[np.flatnonzero(graph.free_mentee)], minlength=g_count)
    rates = sorted({k / int(n) for n in size if n for k in range(int(n) + 1)})

    def reachable(lower_group: np.ndarray) -> bool:
        return not np.any(lower_group > free_per_group)

    source = PairSource(graph, money=False)
    work = first_working_set(source)
    # start from the working set of maximum coverage (then quality): there most probes are met
    # without pricing, and one out of reach is proven in one pass (20,000 x 5,000: every priced
    # probe 1 round; from the first working set, up to 2 there and 4 to 5 at 100,000 x 20,000)
    plain = plain_structure(graph)
    both0 = fold(Stage("coverage", coverage_cost(graph, plain)),
                 Stage("quality", np.zeros(len(plain.tail), np.int64), quality=1), source, plain)
    if both0 is not None:
        work = solve_lexicographic(source, plain, [both0.stage], work=work, scale=both0.scale).work
    lo, hi = 0, len(rates) - 1  # rates[lo] (0 at first) is met on work; rates above hi on no graph
    probes = checks = 0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lower_group = _lower(rates[mid], size, pinned)
        if not reachable(lower_group):
            hi = mid - 1
            continue
        structure, cost = _group_structure(graph, group, g_count, lower_group, probe=True)
        probes += 1
        want = -int(lower_group.sum())
        if flow_on(work, structure, Stage("probe", cost), graph) == want:
            lo = mid
            continue
        checks += 1  # not on the working set: ask the whole graph
        probe = solve_lexicographic(source, structure, [Stage("probe", cost)], work=work, enough=want)
        if probe.values[0] == want:
            # the probe's flow is what meets the rate: its pairs join, not its whole working set
            # (at 100,000 x 20,000 the whole sets grew ours to 27 million pairs in two probes)
            work = _Pairs.union([work, probe.work.select(probe.chosen)], graph.n_mentors)
            lo = mid
        else:  # proven out of reach in the whole graph
            hi = mid - 1
    t_star = rates[lo] if rates else 0.0
    search = time.perf_counter() - t0
    structure, cost = _group_structure(graph, group, g_count, _lower(t_star, size, pinned), probe=False)
    zero = np.zeros(len(structure.tail), np.int64)
    coverage, quality = Stage("coverage", cost), Stage("quality", zero, quality=1)
    both = fold(coverage, quality, source, structure)
    stages = [coverage, quality] if both is None else [both.stage]
    scale = QUALITY_SCALE if both is None else both.scale
    source = PairSource(graph, money=True)
    result = solve_lexicographic(source, structure, [*stages, Stage("cost", zero, money=1)], work=work,
                                 scale=scale)
    first = [StageStats(name="lowest-rate", status="optimal", seconds=round(search, 4), value=t_star)]
    return priced_assignment(graph, result, source,
                             f"max-min-rate search by {group_by} ({probes} flows, {checks} priced checks)"
                             f"+staged-min-cost-flow+pricing{resolution_note(scale)}", first=first)
