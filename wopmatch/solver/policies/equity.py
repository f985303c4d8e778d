"""``regional-equity``: the highest lowest coverage rate across groups of mentees
(their region by default), then the default objective."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from ...models.solution import StageStats
from ..donors import equity, largest_reached, need_for_rate
from ..graph.encoding import CandidateGraph
from ..graph.units import QUALITY_SCALE
from ..network.flow import FlowError, Structure, coverage_cost, min_cost_flow, plain_structure, solve_staged
from ..network.pricing import (
    Pairs,
    PairSource,
    Stage,
    first_working_set,
    flow_on,
    fold,
    resolution_note,
    solve_lexicographic,
)
from ..tuning import PricingParams, Tuning
from .base import (
    ORTOOLS_VERSION,
    Assignment,
    Policy,
    PolicyOptions,
    donor_assignment,
    donor_run,
    priced_assignment,
)

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
    summary = "the highest lowest share of mentees matched across regions (or --group-by), then the default"

    priced = True

    def solve(self, graph: CandidateGraph, options: PolicyOptions, tuning: Tuning) -> Assignment:
        if options.method == "flow-pricing":
            return _solve_priced(graph, options.group_by, tuning.pricing, tuning.fold)
        t0 = time.perf_counter()
        names, group = mentee_groups(graph, options.group_by)
        g_count = len(names)
        size = np.bincount(group, minlength=g_count)
        pinned = np.bincount(group[graph.pinned.mentee], minlength=g_count) if len(graph.pinned.mentee) \
            else np.zeros(g_count, np.int64)
        if graph.has_donors:
            found = equity(graph, donor_run(options, tuning), group, pinned, options.time_limit)
            found = replace(found, method=found.method.replace("rate search", f"rate search by {options.group_by}"))
            return donor_assignment(found)
        net = _GroupNetwork(graph, group, g_count)
        rates = sorted({k / int(n) for n in size if n for k in range(int(n) + 1)})  # rate 0 is always reachable
        found = largest_reached(len(rates), lambda k: net.feasible(need_for_rate(rates[k], size, pinned)))
        probes = found.probes
        t_star = rates[found.index] if rates else 0.0
        chosen, stage_stats = net.staged(need_for_rate(t_star, size, pinned))
        stages = [StageStats(name="lowest-rate", status="optimal", seconds=round(time.perf_counter() - t0, 4),
                             value=t_star)] + stage_stats
        return Assignment(
            pairs=chosen, donors=np.full(len(chosen), -1, np.int64), status="optimal",
            method=f"max-min-rate search by {options.group_by} ({probes} circulations)+staged-min-cost-flow",
            solver=f"ortools-min-cost-flow {ORTOOLS_VERSION}", stages=stages)


class _GroupNetwork:
    """_group_structure (coverage costs, lower bounds set per probe) with an arc per candidate."""

    def __init__(self, graph: CandidateGraph, group: np.ndarray, g_count: int) -> None:
        self.graph = graph
        self.g_count = g_count
        structure, self.coverage = _group_structure(graph, group, g_count, np.zeros(g_count, np.int64), probe=False)
        self.net = structure.with_pairs(graph.pair_mentee, graph.pair_mentor)

    def _lower_bounds(self, lower_group: np.ndarray) -> np.ndarray:
        lower = self.net.lower.copy()
        lower[: self.g_count] = lower_group
        return lower

    def feasible(self, lower_group: np.ndarray) -> bool:
        if np.any(lower_group > self.net.upper[: self.g_count]):
            return False
        try:
            min_cost_flow(self.net, np.zeros(len(self.net.upper), np.int64), self._lower_bounds(lower_group))
        except FlowError:
            return False
        return True

    def staged(self, lower_group: np.ndarray) -> tuple[np.ndarray, list[StageStats]]:
        net, pair = self.net, self.net.pair
        quality, money = np.zeros(len(net.upper), np.int64), np.zeros(len(net.upper), np.int64)
        quality[pair] = -self.graph.pair_quality_units()
        money[pair] = self.graph.cost
        coverage = np.concatenate([self.coverage, np.zeros(pair.stop - pair.start, np.int64)])
        flow, results = solve_staged(net, [("coverage", coverage), ("quality", quality), ("cost", money)],
                                     self._lower_bounds(lower_group))
        stats = [StageStats(name=r.name, status="optimal", seconds=round(r.seconds, 4), value=float(r.value))
                 for r in results]
        return np.flatnonzero(flow[pair] > 0), stats


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


def _solve_priced(graph: CandidateGraph, group_by: str, params: PricingParams, folding: bool) -> Assignment:
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

    source = PairSource(graph, money=False, params=params)
    work = first_working_set(source)
    # start from the working set of maximum coverage (then quality): there most probes are met
    # without pricing, and one out of reach is proven in one pass (20,000 x 5,000: every priced
    # probe 1 round; from the first working set, up to 2 there and 4 to 5 at 100,000 x 20,000)
    plain = plain_structure(graph)
    both0 = fold(Stage("coverage", coverage_cost(graph, plain)),
                 Stage("quality", np.zeros(len(plain.tail), np.int64), quality=1), source, plain) \
        if folding else None
    if both0 is not None:
        work = solve_lexicographic(source, plain, [both0.stage], work=work, scale=both0.scale).work
    lo, hi = 0, len(rates) - 1  # rates[lo] (0 at first) is met on work; rates above hi on no graph
    probes = checks = 0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lower_group = need_for_rate(rates[mid], size, pinned)
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
            work = Pairs.union([work, probe.work.select(probe.chosen)], graph.n_mentors)
            lo = mid
        else:  # proven out of reach in the whole graph
            hi = mid - 1
    t_star = rates[lo] if rates else 0.0
    search = time.perf_counter() - t0
    structure, cost = _group_structure(graph, group, g_count, need_for_rate(t_star, size, pinned), probe=False)
    zero = np.zeros(len(structure.tail), np.int64)
    coverage, quality = Stage("coverage", cost), Stage("quality", zero, quality=1)
    both = fold(coverage, quality, source, structure) if folding else None
    stages = [coverage, quality] if both is None else [both.stage]
    scale = QUALITY_SCALE if both is None else both.scale
    source = PairSource(graph, money=True, params=params)
    result = solve_lexicographic(source, structure, [*stages, Stage("cost", zero, money=1)], work=work,
                                 scale=scale)
    first = [StageStats(name="lowest-rate", status="optimal", seconds=round(search, 4), value=t_star)]
    return priced_assignment(graph, result, source,
                             f"max-min-rate search by {group_by} ({probes} flows, {checks} priced checks)"
                             f"+staged-min-cost-flow+pricing{resolution_note(scale)}", first=first)
