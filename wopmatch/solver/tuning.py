"""The solver's tuned values, in one place, passed down as frozen objects.

Every value here was measured (the comments say where); none changes an answer
that the docs promise, only how the answer is reached: how large a working set
starts, when a method switches to one that fits in memory, how much a MIP may
try. A solve takes ``Tuning()`` unless told otherwise; tests pass smaller values
to force the paths that only large rounds take (``Tuning.starved()`` and friends).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class PricingParams:
    """How a priced working set starts and grows (network/pricing.py)."""

    #: First working set: each mentee's best pairs, and each mentor's best mentees per unit of capacity.
    k_mentee: int = 16
    k_mentor: int = 8
    #: Pairs added per mentee in a round (the most negative reduced cost first).
    add_per_mentee: int = 64
    #: Between rounds the working set keeps, besides the pairs in the flow and those of
    #: reduced cost <= 0, each mentee's this many of least reduced cost (None: keep every pair).
    keep_per_mentee: int | None = 32
    #: A stage that has not converged after this many rounds fails (a safety stop, never reached in the studies).
    max_rounds: int = 100
    #: Eligible pairs kept in memory between passes (16 bytes a pair, 24 with costs); blocks
    #: past it are encoded again at every pass (20,000 x 5,000: all 32 million pairs fit in 0.5 GB).
    cache_bytes: int = 2_000_000_000
    #: Mentee x mentor pairs encoded per block in a pass (None: the encoder's block size).
    block_pairs: int | None = None
    #: Candidates for the per-mentor pool of the first working set are merged (one sort)
    #: once this many have gathered, or four times the pool's size: the same pool as
    #: merging every block (sorting once per block cost 5 minutes at 100,000 x 20,000).
    compact_min: int = 4_000_000


@dataclass(frozen=True)
class StreamParams:
    """Each mentee's eligible pairs a chunk at a time (graph/streams.py, the heuristics at scale)."""

    #: Pairs kept per mentee; a mentee that tries them all is refilled from its row.
    chunk: int = 32
    #: Each refill of a mentee loads this many times its last load, up to ``max_refill``
    #: pairs: a refill reads the mentee's whole row (20,000 mentors at 100,000 x 20,000)
    #: and collects every pair left, so few large refills beat many small ones, while the
    #: unread pairs (16 bytes each when compiled) stay in memory.
    refill_growth: int = 4
    max_refill: int = 4096


@dataclass(frozen=True)
class BudgetParams:
    """The exact method with donors (budgets/): when to relax, fix and restrict the MIP."""

    #: From this many candidate pairs on, the Lagrangian relaxation runs on a working set of
    #: cheap pairs and prices the rest, and the full budget-free flow is not solved
    #: (at 20,000 x 5,000: 28.7 million pairs, 35 s per flow).
    working_set_min_candidates: int = 2_000_000
    #: Below this many (pair, donor) variables the full MIP is as quick as any core.
    core_min_variables: int = 100_000
    #: The largest core handed to HiGHS (measured at 2,000 x 500 x 5: a 60,000-variable
    #: core solved in 10 s; 150,000 did not finish in 40 s).
    core_max_variables: int = 60_000
    #: Above this many variables the full staged MIP is not built (its model alone would take
    #: minutes and gigabytes); the answer carries the Lagrangian bound as its certified gap.
    full_mip_max_variables: int = 2_000_000
    #: A stage is first reduced by LP reduced-cost fixing from this many variables on
    #: (below, HiGHS alone is as quick).
    lp_fixing_min_variables: int = 2_000
    #: Time-limited models from this many variables on run in a child process that is stopped
    #: at the deadline; smaller ones keep to HiGHS's own limit well enough and run here
    #: (starting a child costs about 0.6 s, and a stage makes up to three solves).
    child_min_variables: int = 100_000
    #: Seconds a time-limited HiGHS solve may run past its limit before it is stopped.
    deadline_grace: float = 1.0
    #: With donors, auto takes colgen up to this many free mentee x mentor pairs (measured up to
    #: 20,000 x 5,000: 10^8) and lagrangian-mip above (its working set and size guard).
    colgen_max_pairs: int = 100_000_000
    #: Method colgen (budgets/certify.py), each stage: master LPs solved at most, the columns
    #: each mentee may bring into the master per round, and simplex iterations per master.
    colgen_rounds: int = 40
    colgen_per_mentee: int = 4
    lp_iterations: int = 200_000
    #: Simplex iterations over all the masters of a quality or cost stage (the coverage stage has
    #: no such cap); stopped there, the simplex's duals still bound the stage. Their kept rows are
    #: dense: at 20,000 x 5,000 x 5 the quality LP took 20 rounds, 400,000 iterations and 87 s to
    #: converge; 2,000 x 500 x 5 needs about 5,000.
    later_lp_work: int = 60_000
    #: The restricted MIPs: one over this many columns of smallest penalty per free mentee,
    #: then the next, while each is solved within its nodes and selects at most restricted_max_columns
    #: columns (later_restricted_max_columns for quality and cost; the LP's support joins them). At
    #: 20,000 x 5,000 x 5 the first rung has 31,000 columns: 10 s for coverage, 356 s for quality.
    restricted_ladder: tuple[int, ...] = (1, 2, 4)
    restricted_nodes: int = 100
    restricted_max_columns: int = 30_000
    later_restricted_max_columns: int = 10_000
    #: The MIP over a stage's core (of coverage up to core_max_variables columns, of quality and
    #: cost up to later_core_max_columns) may explore core_work / columns nodes, at least 20:
    #: small cores get the nodes a proof needs (the demo's scenarios: quality and cost proven on 2
    #: more of its 8 donor scenarios, the same optimum), large ones little more than their root
    #: (on the ten rounds of benchmarks/donors.py 20 nodes gave the values and bounds of 200 on
    #: cores of 7,000-9,000 columns). Measured on the slowest of those (300 x 70 x 3 s5): 38 s
    #: with 20 nodes everywhere, 59 s with 400,000, 80 s with 1,000,000. 250,000 takes its quality
    #: core MIP (2,089 columns) from 12 s to 10 s and leaves the demo's scenarios as with 400,000;
    #: 150,000 took two of their proofs away (a cost, a quality).
    core_work: int = 250_000
    core_nodes: int = 20
    later_core_max_columns: int = 3_000
    #: A coverage stage still open with a core of at most this many columns goes to CP-SAT (instead
    #: of the core MIP), with this deterministic time (measured at 200 x 60 x 5: 6 units prove seed 1,
    #: 12 prove seed 2 where 6 do not; on 300 x 70 x 3 s5, 30 units, and HiGHS's full MIP in 900 s,
    #: leave the same half-step open).
    cp_sat_max_columns: int = 20_000
    cp_sat_deterministic_time: float = 12.0
    #: A coverage stage one weight step short goes to CP-SAT without HiGHS's core MIP first when its
    #: core has at least this many columns: the core MIP's root there is dear and cannot tighten one
    #: step (300 x 70 x 3 s5: 12.5 s on 7,776 columns, nothing moved), while on small cores it is
    #: cheap and often proves the stage itself (the demo: 248 columns, CP-SAT not needed).
    cp_sat_first_min_columns: int = 3_000
    #: A stage still open by more than tight_gap (relative) with a core of at most this many
    #: columns goes to CP-SAT on one worker before HiGHS's core MIP, and skips the restricted MIPs
    #: when its core is that small already after the LP-fill (looked at only on graphs of at most
    #: early_core_max_cells (pair, donor) cells, where finding the core is cheap). Measured on
    #: the demo's sensitivity (47 re-solves, one process): 51 s before, 6.3 s after.
    small_core_columns: int = 3_000
    early_core_max_cells: int = 2_000_000
    small_core_deterministic_time: float = 3.0
    #: A quality or cost gap of at most this (relative) goes to HiGHS's core MIP first: it closes
    #: such gaps at its root, where CP-SAT can take seconds (300 x 70 x 3 s3, quality, a gap under
    #: 0.01%: 0.2 s against 8.3 s without a proof).
    tight_gap: float = 0.01
    #: A quality or cost rung HiGHS's node limit cuts without improving goes to CP-SAT only with more
    #: than this (relative) open: regional-equity 200 x 60 x 5 s1 and s2 (26% and 30% open) gain 18
    #: and 24 points; at 126 x 40 x 4 with budgets at 80% it cost 7 s for nothing.
    rung_cp_sat_gap: float = 0.1


@dataclass(frozen=True)
class Tuning:
    """Everything tuned, for one solve (``solve(..., tuning=...)``)."""

    #: Without donors, the exact policies price a working set, and the heuristics read
    #: mentee streams, instead of encoding every pair from this many free mentee x mentor
    #: pairs on (20,000 x 5,000: 6.1 GB -> 0.8 GB).
    pricing_min_pairs: int = 50_000_000
    #: Above this many pairs the whole candidate graph is never built (at 100,000 x 20,000,
    #: 2 x 10^9 pairs, it would take about 26 GB): a request that needs it is refused.
    max_graph_pairs: int = 500_000_000
    #: Pricing for min-cost, max-min and regional-equity.
    pricing: PricingParams = field(default_factory=PricingParams)
    #: Pricing for optimal (coverage and quality folded, then cost on the closed face).
    #: Measured at 20,000 x 5,000: 128 pairs added a round -> 6 rounds, 36.9 s; 64 -> 7 rounds,
    #: 40.4 s (each round re-solves the flow from scratch).
    optimal_pricing: PricingParams = field(default_factory=lambda: PricingParams(add_per_mentee=128))
    #: From this many free mentee x mentor pairs on (100,000 x 20,000), optimal's pricing keeps
    #: no pairs between passes (memory rules: 128 added a round with a 2 GB cache peaked at
    #: 12.0 GB before pairs were dropped between rounds; without a cache, 925 s and 5.4 GB).
    large_pairs: int = 1_000_000_000
    #: Fold coverage with the next stage (quality, or cost for min-cost) into one integer
    #: cost where it fits OR-Tools' range, on the whole graph and on a priced working set:
    #: one flow less, and a coverage stage alone ties widely in reduced cost, so pricing
    #: would add many equivalent pairs a round. False runs every stage apart.
    fold: bool = True
    streams: StreamParams = field(default_factory=StreamParams)
    budgets: BudgetParams = field(default_factory=BudgetParams)

    def optimal_pricing_for(self, pairs: int) -> PricingParams:
        """optimal's pricing for a round of ``pairs`` free mentee x mentor pairs."""
        return replace(self.optimal_pricing, cache_bytes=0) if pairs >= self.large_pairs else self.optimal_pricing

    # --- settings that force what only large rounds do, on small ones (for tests) ---
    def starved(self) -> "Tuning":
        """A first working set of one pair per mentee and nothing per mentor, one pair
        added per mentee a round, every pair of positive reduced cost dropped between
        rounds: pricing has to find everything else."""
        tiny = PricingParams(k_mentee=1, k_mentor=0, add_per_mentee=1, keep_per_mentee=0)
        return replace(self, pricing=replace(tiny, cache_bytes=self.pricing.cache_bytes),
                       optimal_pricing=replace(tiny, cache_bytes=self.optimal_pricing.cache_bytes))

    def uncached(self) -> "Tuning":
        """Every pricing pass encodes its blocks again (what blocks past the cache budget do)."""
        return replace(self, pricing=replace(self.pricing, cache_bytes=0),
                       optimal_pricing=replace(self.optimal_pricing, cache_bytes=0))

    def unfolded(self) -> "Tuning":
        """Every stage apart, none folded with the next."""
        return replace(self, fold=False)

    def priced_from(self, pairs: int) -> "Tuning":
        """Price (and stream) from ``pairs`` free mentee x mentor pairs on."""
        return replace(self, pricing_min_pairs=pairs)
