"""The sensitivity report's schema (format wopmatch.sensitivity/1, docs/scenarios.md)."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

SENSITIVITY_FORMAT = "wopmatch.sensitivity/1"
Kind = Literal["place", "allow_pair", "budget", "donor_rule", "rule"]
#: The order in which proposals count as cheaper (then by amount).
KIND_ORDER = {"place": 0, "allow_pair": 0, "budget": 1, "donor_rule": 2, "rule": 3}


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Delta(_Schema):
    coverage: float
    quality: float
    cost: int


class MentorValue(_Schema):
    mentor: str
    capacity: int
    load: int
    delta: Optional[Delta] = Field(default=None, description="One more place, re-solved (None: not re-solved).")
    label: str


class DonorValue(_Schema):
    donor: str
    budget: int
    committed: int
    step: int = Field(description="The extra budget re-solved with.")
    delta: Optional[Delta] = None
    coverage_per_unit: Optional[float] = Field(default=None, description="delta.coverage / step.")
    label: str


class Proposal(_Schema):
    kind: Kind
    text: str = Field(description="The change, in words.")
    why: str = Field(default="", description="What it was built for (the pair it was meant to fund, ...): the "
                                             "re-solve may match the mentee with another partner.")
    amount: int = Field(default=0, description="Extra money the change needs (budget proposals).")
    change: dict[str, Any]
    then: Optional[dict[str, Any]] = Field(
        default=None, description="A second change made together with `change` (a pair along the mentee's reasons).")
    matched: Optional[bool] = Field(default=None, description=(
        "Matched in the re-solved answer (None: not re-solved, as a cheaper change worked first)."))
    partner: Optional[str] = None
    delta: Optional[Delta] = None


class MenteeNeed(_Schema):
    mentee: str
    reason: str
    proposals: list[Proposal]
    cheapest: Optional[int] = Field(default=None, description="Index of the cheapest proposal that worked.")
    pairs: list[Proposal] = Field(
        default_factory=list, description="Where no single change worked: two changes together, the second built "
                                          "from the mentee's reason after the first.")
    cheapest_pair: Optional[int] = Field(default=None, description="Index of the cheapest pair that worked.")
    verdict: str = Field(default="", description="In a sentence: what it takes, or that nothing tried did.")


class Sensitivity(_Schema):
    format: Literal["wopmatch.sensitivity/1"] = SENSITIVITY_FORMAT
    instance_sha256: str
    policy: str
    method: str = Field(description="How every re-solve ran (the policy, and the node limit where one was set).")
    base_from: Literal["solution", "re-solved"] = Field(
        default="re-solved", description="Where `base` comes from: the solution, when it is a proven optimum of an "
                                         "exact policy; else a re-solve of the unchanged instance.")
    base: Delta = Field(description="The unchanged round's coverage, quality and cost.")
    mentors: list[MentorValue]
    donors: list[DonorValue]
    mentees: list[MenteeNeed]
    resolves: int
    seconds: float
