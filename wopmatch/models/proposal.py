"""A facilitator's "what if we make this partnership" (``wopmatch propose``, docs/rounds.md):
whether the pair may be formed and why not, its figures, the donors that could fund it,
and the round re-solved with it pinned, as a diff against the solution given."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from .diff import SolutionDiff
from .solution import Solution, _Schema

PROPOSAL_FORMAT = "wopmatch.proposal/1"

Outcome = Literal["already_matched", "not_eligible", "no_donor", "re_solved", "infeasible"]


class DonorFit(_Schema):
    donor: str
    eligible: bool = Field(description="Its rules (regions, countries, work areas, max_grant) allow the pair.")
    left: int = Field(description="Its budget left in the solution given.")
    enough: bool = Field(description="Eligible, and the pair's cost fits what is left and its partnership cap.")


class Proposal(_Schema):
    format: Literal["wopmatch.proposal/1"] = PROPOSAL_FORMAT
    mentee: str
    mentor: str
    donor: Optional[str] = Field(default=None, description="The donor the re-solved round funds it with.")
    outcome: Outcome = Field(description="already_matched: the solution has this partnership; not_eligible: the "
                                         "pair may not be formed (reason); no_donor: no donor's rules allow it; "
                                         "re_solved: the round re-solved with it pinned (diff); infeasible: no "
                                         "matching keeps it and every other pin.")
    reason: Optional[str] = Field(default=None, description="The eligibility filter it fails (docs/format.md §5).")
    detail: str = Field(description="The outcome in words.")
    score: float
    cost: int
    months: int
    focus: list[str]
    issues: list[str]
    current_mentor: Optional[str] = Field(default=None, description="The mentee's mentor in the solution given.")
    donors: list[DonorFit] = Field(default_factory=list)
    coverage_change: Optional[float] = None
    quality_change: Optional[float] = None
    cost_change: Optional[int] = None
    diff: Optional[SolutionDiff] = Field(default=None, description="The solution given -> the re-solved one.")
    solution: Optional[Solution] = Field(default=None, exclude=True,
                                         description="The re-solved round (not in the proposal's JSON).")
