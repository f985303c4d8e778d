"""What a user chooses for one solve, defined once.

``wopmatch solve``'s options (cli/options.py) and the service's JSON and form
requests (service/requests.py) are derived from ``SolveOptions``'s fields: their
types, limits, defaults and descriptions. A field added here appears in all
three; docs/format.md ("Command line") and docs/service.md list them.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Any, Literal, Optional, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field

from .policies import GROUP_KEYS, METHODS, POLICIES

PolicyName = Literal[tuple(POLICIES)]  # type: ignore[valid-type]
MethodName = Literal[tuple(METHODS)]  # type: ignore[valid-type]
GroupKey = Literal[GROUP_KEYS]  # type: ignore[valid-type]

#: A kept partnership's bonus under keep_stable, in units of its mentee's weight.
DEFAULT_CHANGE_PENALTY = 1.0
#: The largest seed and node limit (what HiGHS takes).
INT32_MAX = 2**31 - 1

_POLICY_HELP = "How to match (docs/policies.md): " + "; ".join(f"{n}: {c.summary}" for n, c in POLICIES.items())


class SolveOptions(BaseModel):
    """One solve's options (docs/format.md, "Command line"). The round options
    (``ended``, ``forbid_repeat``, ``keep_stable``, ``change_penalty``) need a
    previous round's solution, given beside them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: PolicyName = Field("optimal", description=_POLICY_HELP)
    group_by: GroupKey = Field("region", description="regional-equity: the mentee field whose groups' lowest "
                                                     "coverage rate is raised.")
    method: MethodName = Field(
        "auto", description="How the exact policies solve: auto = flow without donors (flow-pricing from 50M "
                            "pairs), colgen with donors (the donor engine: LP bounds, search and proofs limited "
                            "by work, not time). mip, lagrangian-mip and lagrangian are deprecated and run as "
                            "auto.")
    time_limit: Optional[float] = Field(None, gt=0, le=10**7,
                                        description="Seconds; the best solution found is returned, with its gap.")
    node_limit: Optional[int] = Field(None, ge=1, le=INT32_MAX,
                                      description="Branch-and-bound nodes per MIP solve: stops the search at the "
                                                  "same point on any machine.")
    seed: int = Field(0, ge=0, le=INT32_MAX, description="Seed of the random policy, HiGHS and CP-SAT.")
    workers: int = Field(1, ge=1, le=64, description="Workers of CP-SAT in the donor engine's proofs "
                                                     "(stats.workers); more than one search interleaved, so the "
                                                     "same input, seed and threads give the same answer. "
                                                     "Everything else runs on one thread.")
    alternates: int = Field(0, ge=0, le=50, description="List each mentee's K best runner-up mentors and why each "
                                                        "was not chosen.")
    ended: tuple[str, ...] = Field((), description="With a previous round: this mentee's partnership has ended "
                                                   "(repeatable).", json_schema_extra={"x-metavar": "MENTEE"})
    forbid_repeat: bool = Field(False, description="With a previous round: never form a previous pair again.")
    keep_stable: bool = Field(False, description="With a previous round: re-match freely but change as few running "
                                                 "partnerships as possible.")
    change_penalty: float = Field(DEFAULT_CHANGE_PENALTY, gt=0, le=10**6,
                                  description="With keep_stable: score a kept partnership is worth (x mentee weight).")

    def round_options(self) -> list[str]:
        """The round options set, which need a previous round."""
        return [name for name in ("ended", "forbid_repeat", "keep_stable") if getattr(self, name)]


@dataclass(frozen=True)
class OptionField:
    """One field of an options model, as a command line or a form needs it."""

    name: str
    kind: Literal["choice", "int", "float", "bool", "list"]
    default: Any
    description: Optional[str]
    choices: tuple[str, ...] = ()
    #: limits (None: none); ``*_open``: the limit itself is excluded
    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False
    high_open: bool = False
    metavar: Optional[str] = None  # what a list's items are (MENTEE)


def option_fields(model: type[BaseModel] = SolveOptions) -> list[OptionField]:
    """The fields of ``model`` in order, with their kind, limits and description."""
    out = []
    for name, field in model.model_fields.items():
        kind, choices = _kind(field.annotation)
        low = high = None
        low_open = high_open = False
        for m in field.metadata:  # pydantic's constraints (annotated_types Gt, Ge, Lt, Le), by their one attribute
            if getattr(m, "gt", None) is not None:
                low, low_open = m.gt, True
            elif getattr(m, "ge", None) is not None:
                low = m.ge
            elif getattr(m, "lt", None) is not None:
                high, high_open = m.lt, True
            elif getattr(m, "le", None) is not None:
                high = m.le
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        out.append(OptionField(name, kind, field.default, field.description, choices, low, high, low_open,
                               high_open, extra.get("x-metavar")))  # type: ignore[arg-type]
    return out


def _kind(annotation: Any) -> tuple[Any, tuple[str, ...]]:
    if get_origin(annotation) in (Union, types.UnionType):  # Optional[X]: X
        args = [a for a in get_args(annotation) if a is not type(None)]
        annotation = args[0] if len(args) == 1 else annotation
    if get_origin(annotation) is Literal:
        return "choice", tuple(str(v) for v in get_args(annotation))
    if get_origin(annotation) is tuple:
        return "list", ()
    if annotation in (bool, int, float):
        return annotation.__name__, ()
    raise TypeError(f"an option field of type {annotation!r} has no command-line or form form")
