"""What changed between two solutions (``wopmatch diff A B``): partnerships added,
removed and changed, mentees newly unmatched or newly matched, and every figure.

The solutions may be of different instances (a scenario against its base, one
round against the next): mentees are matched by id, and a figure present in only
one of them is listed with the other side empty.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field

from .solution import Partnership, Solution, Unmatched, _Schema

DIFF_FORMAT = "wopmatch.diff/1"


class SolutionRef(_Schema):
    name: Optional[str] = None
    sha256: str
    policy: str
    status: str


class PartnershipChange(_Schema):
    mentee: str
    mentor_before: str
    mentor_after: str
    donor_before: Optional[str] = None
    donor_after: Optional[str] = None
    score_before: float
    score_after: float
    cost_before: int
    cost_after: int


class NewlyMatched(_Schema):
    mentee: str
    mentor: str
    reason_before: Optional[str] = Field(default=None, description="Why it was unmatched in A (absent: not in A).")


class FigureChange(_Schema):
    name: str = Field(description="Dotted path: objective.coverage, metrics.by_region.<r>.coverage_rate, ...")
    before: Optional[float] = None
    after: Optional[float] = None
    change: Optional[float] = Field(default=None, description="after - before, when both are known.")


class SolutionDiff(_Schema):
    format: Literal["wopmatch.diff/1"] = DIFF_FORMAT
    a: SolutionRef
    b: SolutionRef
    same_instance: bool
    added: list[Partnership] = Field(default_factory=list, description="In B, for a mentee unmatched (or absent) in A.")
    removed: list[Partnership] = Field(default_factory=list,
                                       description="In A, for a mentee unmatched (or absent) in B.")
    changed: list[PartnershipChange] = Field(default_factory=list, description="Same mentee, another mentor or donor.")
    unchanged: int = 0
    newly_unmatched: list[Unmatched] = Field(default_factory=list,
                                             description="Unmatched in B (B's reason), matched in A.")
    newly_matched: list[NewlyMatched] = Field(default_factory=list, description="Matched in B, unmatched in A.")
    figures: list[FigureChange] = Field(default_factory=list, description="Every figure that differs.")


def diff_solutions(a: Solution, b: Solution) -> SolutionDiff:
    pa = {p.mentee: p for p in a.partnerships}
    pb = {p.mentee: p for p in b.partnerships}
    ua = {u.mentee: u for u in a.unmatched}
    changed, unchanged = [], 0
    for mentee in sorted(pa.keys() & pb.keys()):
        x, y = pa[mentee], pb[mentee]
        if (x.mentor, x.donor) == (y.mentor, y.donor):
            unchanged += 1
            continue
        changed.append(PartnershipChange(mentee=mentee, mentor_before=x.mentor, mentor_after=y.mentor,
                                         donor_before=x.donor, donor_after=y.donor, score_before=x.score,
                                         score_after=y.score, cost_before=x.cost, cost_after=y.cost))
    return SolutionDiff(
        a=_ref(a), b=_ref(b), same_instance=a.instance.sha256 == b.instance.sha256,
        added=[pb[m] for m in sorted(pb.keys() - pa.keys())],
        removed=[pa[m] for m in sorted(pa.keys() - pb.keys())],
        changed=changed, unchanged=unchanged,
        newly_unmatched=sorted((u for u in b.unmatched if u.mentee in pa), key=lambda u: u.mentee),
        newly_matched=[NewlyMatched(mentee=m, mentor=pb[m].mentor,
                                    reason_before=ua[m].reason if m in ua else None)
                       for m in sorted(pb.keys() - pa.keys())],
        figures=_figure_changes(solution_figures(a), solution_figures(b)))


def _ref(s: Solution) -> SolutionRef:
    return SolutionRef(name=s.instance.name, sha256=s.instance.sha256, policy=s.policy, status=s.status)


def solution_figures(s: Solution) -> dict[str, float]:
    """Every number a solution reports about the matching, by dotted path (the
    run's own timings and solver details aside)."""
    out: dict[str, float] = {}
    if s.objective is not None:
        _flatten("objective", s.objective.model_dump(), out)
    _flatten("gap", s.gap.model_dump(), out)
    for d in s.donors:
        out[f"donors.{d.id}.budget"] = d.budget
        out[f"donors.{d.id}.committed"] = d.committed
        out[f"donors.{d.id}.partnerships"] = d.partnerships
    if s.metrics is not None:
        _flatten("metrics", s.metrics.model_dump(), out)
    return out


def _flatten(prefix: str, value: Any, out: dict[str, float]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}", v, out)
    elif isinstance(value, bool):
        out[prefix] = float(value)
    elif isinstance(value, (int, float)):
        out[prefix] = value


#: Headline figures first: the objective, the run's own figures, regions, donors, then the finer breakdowns.
_ORDER = ("objective.", "gap.", "metrics.by_region.", "donors.", "metrics.donor_utilisation.", "metrics.by_work_area.",
          "metrics.by_language.", "metrics.mentor_load.")


def _rank(name: str) -> tuple[int, str]:
    for k, prefix in enumerate(_ORDER):
        if name.startswith(prefix):
            return (k if k < 2 else k + 1, name)
    return (2, name)  # metrics' own scalars, after the objective and gap


def _figure_changes(before: dict[str, float], after: dict[str, float]) -> list[FigureChange]:
    changes = []
    for name in sorted(before.keys() | after.keys(), key=_rank):
        x, y = before.get(name), after.get(name)
        if x == y:
            continue
        change = None if x is None or y is None else round(y - x, 9)
        changes.append(FigureChange(name=name, before=x, after=y, change=change))
    return changes
