"""The solution schema (``wopmatch.solution/1``), see docs/format.md.

Beyond docs/format.md §5 (which it contains unchanged) a solution carries ``gap``,
``message`` (why it is infeasible or limited) and ``verification`` (the
independent verifier's report): additions, never changes of meaning.
"""

from __future__ import annotations

from typing import Literal, Optional, get_args

from pydantic import BaseModel, ConfigDict, Field

SOLUTION_FORMAT = "wopmatch.solution/1"

Status = Literal["optimal", "feasible", "infeasible", "time_limit_no_solution"]
Reason = Literal[
    "no_mentor_strength",
    "no_shared_language",
    "region_rule",
    "distance_rule",
    "forbidden",
    "below_min_score",
    "no_eligible_donor",
    "capacity",
    "budget",
    "not_selected",
]
#: The structural reasons, in the order their filters are applied (docs/format.md §5):
#: every reason before "capacity" in the list above.
STRUCTURAL_REASONS: tuple[str, ...] = get_args(Reason)[: get_args(Reason).index("capacity")]


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InstanceRef(_Schema):
    name: Optional[str] = None
    sha256: str = Field(description="SHA-256 of the instance file's bytes.")


class Objective(_Schema):
    coverage: float = Field(description="Sum of weights of matched mentees.")
    quality: float = Field(description="Sum of weight * score over partnerships.")
    cost: int = Field(description="Total cost of all partnerships.")


class Bound(_Schema):
    """Proven bounds on the solution's figures. Each holds among the solutions at least as good
    in the policy's earlier stages (docs/policies.md gives each policy's order: for optimal,
    quality among the solutions of at least this coverage, cost among those of at least this
    coverage and quality). A proven optimum's bounds are its figures; absent: not known."""

    coverage: Optional[float] = Field(default=None, description="Proven upper bound on coverage.")
    quality: Optional[float] = Field(default=None, description="Proven upper bound on quality.")
    cost: Optional[int] = Field(default=None, description="Proven lower bound on the total cost.")


class Gap(_Schema):
    coverage: Optional[float] = Field(default=None, description="(bound - value) / bound, 0 when proven.")
    quality: Optional[float] = None
    cost: Optional[float] = Field(default=None, description="(value - bound) / value, 0 when proven.")


class Partnership(_Schema):
    mentee: str
    mentor: str
    donor: Optional[str] = None
    score: float
    cost: int
    focus: list[str]
    pinned: bool = False
    duration_months: Optional[int] = Field(
        default=None, description="The partnership's months under the round's duration rule (docs/format.md §3); "
                                  "absent in solutions written before the rule existed.")
    issues: Optional[list[str]] = Field(
        default=None, description="The mentee's priority needs (need >= costs.priority_need) the mentor is strong "
                                  "in, strongest first.")


class Unmatched(_Schema):
    mentee: str
    reason: Reason
    detail: str = ""


AlternateStatus = Literal["available", "lower_score", "full", "budget"]


class Alternate(_Schema):
    """A runner-up mentor for a mentee, and why the matching did not use it."""

    mentor: str
    score: float
    cost: int
    status: AlternateStatus = Field(description=(
        "full: the mentor has no free place in this matching; budget: it has room but no donor that "
        "could fund the pair has budget or count left; lower_score: it has room and funding but scores "
        "below the mentee's partner; available: it has room and funding and scores at least as well "
        "(or the mentee is unmatched)."))


class MenteeAlternates(_Schema):
    mentee: str
    alternates: list[Alternate] = Field(default_factory=list, description="Best first: score, then mentor order.")


class RoundChange(_Schema):
    mentee: str
    change: Literal["kept", "moved", "ended", "new"]
    mentor_before: Optional[str] = None
    mentor_after: Optional[str] = None
    donor_before: Optional[str] = None
    donor_after: Optional[str] = None


class AgreedPair(_Schema):
    mentee: str
    mentor: str
    donor: Optional[str] = None


class AgreementInfo(_Schema):
    """How a round's agreement status entered this solve (solve --status, docs/rounds.md)."""

    status_sha256: str = Field(description="SHA-256 of the status file's bytes as read (of no bytes: no file yet).")
    kept: list[AgreedPair] = Field(default_factory=list, description="Accepted and active partnerships, pinned.")
    barred: list[AgreedPair] = Field(default_factory=list,
                                     description="Declined and ended pairs, never proposed again (forbidden).")
    preferred: int = Field(default=0, description="Proposed pairs kept where possible (keep-stable's bonus).")
    change_penalty: Optional[float] = None
    ignored: list[str] = Field(default_factory=list, description="Entries naming operators not in this round.")
    counts: dict[str, int] = Field(default_factory=dict, description="Partnerships per status after this solve.")
    proposed: list[AgreedPair] = Field(default_factory=list, description="Partnerships newly proposed.")
    withdrawn: list[AgreedPair] = Field(default_factory=list,
                                        description="Proposals of the status file this solve no longer makes.")


class RoundInfo(_Schema):
    """How an earlier round's partnerships entered this one (solve --previous)."""

    previous_sha256: str = Field(description="SHA-256 of the previous solution file's bytes.")
    mode: Literal["carried", "keep_stable"]
    ended: list[str] = Field(default_factory=list, description="Mentees whose partnership ended (--ended).")
    forbid_repeat: bool = False
    change_penalty: Optional[float] = Field(default=None, description="keep_stable: bonus per kept partnership.")
    carried: int = Field(default=0, description="Previous partnerships pinned in this round.")
    forbidden_repeats: int = 0
    dropped: list[str] = Field(default_factory=list, description="Previous partnerships not carried, and why.")
    changes: list[RoundChange] = Field(default_factory=list)


class GroupMetrics(_Schema):
    mentees: int
    matched: int
    coverage: float = Field(description="Sum of weights of matched mentees.")
    coverage_rate: Optional[float] = Field(description="coverage / the group's total weight.")
    match_rate: Optional[float] = Field(description="matched / mentees.")


class Wishes(_Schema):
    """How one side's stated interests were met (docs/policies.md#metrics)."""

    stated: int = Field(description="Operators of this side that rated a possible partner 1 or 2.")
    met: int = Field(description="Of those, how many got a partner they rated 1 or 2.")
    first_choice: int = Field(description="Of those, how many got a partner they rated 2.")


class Metrics(_Schema):
    """Figures for comparing policies (docs/policies.md#metrics)."""

    mentees: int
    matched: int
    coverage: float
    coverage_rate: Optional[float]
    match_rate: Optional[float]
    by_region: dict[str, GroupMetrics]
    by_language: dict[str, GroupMetrics] = Field(description="A mentee counts in each of its languages.")
    by_work_area: dict[str, GroupMetrics] = Field(description="Mentees with a need of 1 or more in the area.")
    quality: float
    mean_score: Optional[float]
    min_score: Optional[float]
    cost: int
    cost_per_matched: Optional[float]
    mentors: int
    mentors_used: int
    mentors_full: int
    mentor_load: dict[str, int] = Field(description="Number of mentors with each load (partnerships).")
    capacity_used: Optional[float] = Field(description="Partnerships / total mentor capacity.")
    donor_utilisation: dict[str, Optional[float]] = Field(description="committed / budget per donor.")
    blocking_pairs: int = Field(description="Eligible pairs both sides would rather have (funding aside).")
    wishes: Optional[dict[Literal["mentees", "mentors"], Wishes]] = Field(
        default=None, description="Stated interests met, per side; absent when no operator states one.")
    gap_coverage: Optional[float] = Field(description="Gap to the proven (flow or LP) bound.")
    gap_quality: Optional[float]
    gap_cost: Optional[float] = None


IdleReason = Literal[
    "all_mentees_matched",
    "partnership_cap",
    "no_mentee_in_scope",
    "work_areas",
    "max_grant",
    "mentors_full",
    "too_little_left",
    "not_selected",
]


class DonorUse(_Schema):
    id: str
    budget: int
    committed: int
    partnerships: int
    idle_reason: Optional[IdleReason] = Field(
        None, description="Why a donor with budget left funds no more partnerships (docs/format.md §5, "
                          "idle money); null when its budget is spent.")
    idle_detail: str = Field("", description="The same in words, with the figures behind it.")


class StageStats(_Schema):
    name: str
    status: str
    seconds: float
    value: Optional[float] = None
    bound: Optional[float] = None
    gap: Optional[float] = Field(default=None, description="(bound - value) / bound, for cost (value - bound) / value; "
                                                           "0 when proven.")


class Stats(_Schema):
    candidates: int = Field(description="Eligible (mentee, mentor) pairs, pinned ones excluded.")
    working_set: Optional[int] = Field(
        default=None, description="Candidates the solver kept, when it priced the rest instead (flow-pricing).")
    build_seconds: float
    solve_seconds: float
    verify_seconds: float = 0.0
    solver: str = Field(description="Solver and version, e.g. 'ortools-min-cost-flow 9.15.6755'.")
    method: str = Field(description="How the policy solved it, e.g. 'staged-min-cost-flow'.")
    seed: int
    workers: int = Field(default=1, description="Threads the solve used: CP-SAT's workers when it ran "
                                                "(method colgen), else 1.")
    time_limit: Optional[float] = None
    node_limit: Optional[int] = Field(default=None, description="Branch-and-bound nodes per MIP solve, when limited.")
    stages: list[StageStats] = Field(default_factory=list)


class Verification(_Schema):
    ok: bool
    violations: list[str] = Field(default_factory=list)


class Solution(_Schema):
    format: Literal["wopmatch.solution/1"] = SOLUTION_FORMAT
    instance: InstanceRef
    policy: str
    status: Status
    message: Optional[str] = None
    warnings: Optional[list[str]] = Field(
        default=None, description="What the instance holds that is valid but probably not meant (docs/format.md, "
                                  "\"Warnings\"); absent when there is none.")
    objective: Optional[Objective] = Field(
        default=None, description="Null when there is no solution (never zeros for failure)."
    )
    bound: Bound = Field(default_factory=Bound)
    gap: Gap = Field(default_factory=Gap)
    partnerships: list[Partnership] = Field(default_factory=list)
    unmatched: list[Unmatched] = Field(default_factory=list)
    donors: list[DonorUse] = Field(default_factory=list)
    metrics: Optional[Metrics] = Field(default=None, description="Figures for comparing policies.")
    round: Optional[RoundInfo] = Field(default=None, description="Set when solved with --previous.")
    agreement: Optional[AgreementInfo] = Field(default=None, description="Set when solved with --status.")
    alternates: Optional[list[MenteeAlternates]] = Field(
        default=None, description="Runner-up mentors of every mentee (solve --alternates K); absent if not asked.")
    stats: Stats
    verification: Optional[Verification] = None
