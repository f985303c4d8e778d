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
class DonorParams:
    """The engine with donors (donors/): how much work each of its moves may do.
    Each value is measured on benchmarks/donors.py's rounds (RESULTS.md, "Donor rounds")."""

    #: Count cuts (donors/cuts.py) for donors that can fund at most this many pairs: a few
    #: min-cost flows each; at 2,000 x 500 x 5 they cost 2.7 s and moved no bound.
    count_cut_max_pairs: int = 40_000
    #: Column generation, each stage: master LPs solved at most, columns each mentee may bring
    #: into the master per round, simplex iterations per master.
    colgen_rounds: int = 40
    colgen_per_mentee: int = 4
    lp_iterations: int = 200_000
    #: Simplex iterations over all the masters of a quality or cost stage (the coverage stage has
    #: no such cap); stopped there, the simplex's duals still bound the stage. Their kept rows are
    #: dense: at 20,000 x 5,000 x 5 the quality LP took 20 rounds, 400,000 iterations and 87 s to
    #: converge; 2,000 x 500 x 5 needs about 5,000.
    later_lp_work: int = 60_000
    #: The pools LNS works over, in turn: this many columns of smallest penalty per free mentee,
    #: with the LP's support and the incumbent's; the next once the whole pool is solved.
    pool_ladder: tuple[int, ...] = (2, 4, 8)
    #: LNS: rounds at most for the first, second and third stage of a policy's order (the third
    #: weighs least: at 2,000 x 500 x 5 the cost stage's rounds cost 0.7-1.2 s each, for a gap of a
    #: few percent), and rounds in a row without a gain that end a stage's LNS; nodes per sub-MIP,
    #: and its relative gap (a sub-MIP need not prove its optimum); mentees freed at most (a random
    #: part of a larger neighbourhood); a pool of at most lns_max_columns columns is first solved
    #: whole (the small rounds' pools have 400-1,000 columns and are often solved at once; at 2,000 x
    #: 500 x 5 a whole pool of 2,400-2,800 columns took 13-25 s, its parts under 1 s each). Measured
    #: on the quality stage at 2,000 x 500 x 5 (seeds 1, 2, legacy; seed 1
    #: priorities): 1,200 mentees and a gap of 1e-3 gave 0.69%, 0.81% and 0.88% in 18-21 s, where
    #: 700 and 1e-4 gave 0.77%, 1.06% and 0.40% in 20, 20 and 56 s, and 2,000 and 1e-3 once 136 s.
    lns_rounds: tuple[int, int, int] = (30, 24, 8)
    lns_stall: int = 6
    lns_nodes: int = 30
    lns_gap: float = 1e-3
    lns_max_free: int = 1_200
    lns_max_columns: int = 1_500
    #: The core's size is counted after each gain on rounds of at most this many (pair, donor)
    #: cells (one pass over them; larger rounds never prove by a core).
    core_count_max_cells: int = 2_000_000
    #: The proof over a stage's core (engine.decide): coverage cores of at most cp_sat_max_columns
    #: go to CP-SAT (cp_sat_work units of deterministic time), quality and cost cores of at most
    #: later_core_max_columns to HiGHS's core MIP (core_work / columns nodes, at least core_nodes:
    #: a few hundred columns get the nodes a proof needs, a large core little more than its root)
    #: or, when they keep the quality row, to CP-SAT (cp_sat_later_work units). CP-SAT runs with its
    #: LP relaxation in full (linearization level cp_sat_linearization) on the solve's workers
    #: (default 1): on three coverage cores of 7,000-13,000 columns one weight step short, one
    #: worker at level 2 proved two in 2.7 and 4.8 s; two workers at the default level, one in 10 s.
    #: A round of at most direct_max_mentees free mentees has each stage (not a probe) tried by
    #: CP-SAT over its core right after LP-fill, with direct_work units of deterministic time; a
    #: stage it leaves open goes on to LNS and the proofs below. Measured against the engine without
    #: it, same answers or better (benchmarks/small_rounds.py, RESULTS.md "Small rounds"): 48 rounds
    #: of 40-60 mentees (3 seeds, both need profiles, full and half budgets) 45.5 -> 20.8 s; 24 of
    #: 80-100 mentees 87.2 -> 53.4 s; 12 of 126-300 mentees would take 153.9 s instead of 92.2, so
    #: larger rounds keep the old path.
    direct_max_mentees: int = 100
    direct_work: float = 3.0
    cp_sat_max_columns: int = 20_000
    cp_sat_work: float = 12.0
    cp_sat_later_work: float = 3.0
    #: The same for a threshold or rate probe, which only asks whether a target is within reach (an
    #: open probe counts as out of reach, so too little work lowers the threshold found). max-min,
    #: 200 x 60 x 5 s5 (legacy; priorities): 3 units found 0.388 (0.094) in 11.7 s (27 s), 6 units
    #: the proven 0.437 (0.100) in 16.0 s (27.4 s), as 12 did; 300 x 70 x 3 s5 (probes one weight
    #: step short, the same threshold each time) took 30 s at 3, 58 s at 6 and 87 s at 12.
    cp_sat_probe_work: float = 6.0
    cp_sat_linearization: int = 2
    later_core_max_columns: int = 3_000
    core_work: int = 250_000
    core_nodes: int = 20


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
    donors: DonorParams = field(default_factory=DonorParams)

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
