"""Successive rounds: carrying an earlier round's partnerships into this one (docs/rounds.md).

A solve given a previous round's solution (``solve INSTANCE --previous OLD.json``,
or ``previous`` in the service's request) treats its partnerships as still
running. Two modes:

* carried (the default): each becomes a pinned partnership of this round, with
  its donor, so it keeps its mentor's place and its donor's commitment;
* ``keep_stable``: none is pinned; the solver may change them, but each one
  kept (same mentee and mentor) earns a bonus in the quality stage, so the
  matching changes as few as it can (see ``stability_scores``).

A previous partnership is not carried when its mentee is listed as ended
(``ended``), when either operator is no longer in the round with the needed
profile, when the instance already pins that mentee, or when the instance
forbids the pair; each such case is reported. ``forbid_repeat`` forbids every
previous partnership that is not carried (an ended one is not formed again).

A solve given the round's agreement status (``solve INSTANCE --status FILE``,
models/status.py) re-matches it: accepted and active partnerships are pinned with
their donor, declined and ended pairs are forbidden (never proposed again), and the
proposals still waiting for an answer are kept where possible, with keep_stable's
bonus (``agree``); the solution records what it pinned and forbade (``agreement``).

``rebuild_round`` re-runs the carry-over a solution records, and adds the pins and bans
its agreement records, so that verify and report check it against the instance it was
solved with.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Iterable, Literal, Optional, Sequence

import numpy as np

from ..models.instance import Forbidden, Instance, Pinned, parse_instance
from ..models.problems import InputError, Problem
from ..models.solution import AgreedPair, AgreementInfo, RoundChange, RoundInfo, Solution
from ..models.status import KEPT, RoundStatus, next_status, status_counts
from .graph.encoding import CandidateGraph
from .options import DEFAULT_CHANGE_PENALTY, SolveOptions


@dataclass(frozen=True)
class PreviousRound:
    """An earlier round's solution and the SHA-256 of its file's bytes (what the new solution records)."""

    solution: Solution
    sha256: str

    @staticmethod
    def of_bytes(data: bytes, solution: Solution) -> "PreviousRound":
        return PreviousRound(solution, hashlib.sha256(data).hexdigest())


@dataclass(frozen=True)
class AgreedRound:
    """The round's agreement status, the SHA-256 of its file's bytes (of no bytes: no file yet), and
    how its problems name it (the file's path)."""

    status: RoundStatus
    sha256: str
    source: str = "status"


@dataclass
class Carry:
    """How an earlier round, or this round's agreement status, enters the solve."""

    instance: Instance  # with the carried (or agreed) pins and the bans added
    info: Optional[RoundInfo]  # an earlier round's record; None for an agreement
    prefer: list[tuple[str, str]] = field(default_factory=list)  # keep-stable: pairs to keep if possible
    agreement: Optional[AgreementInfo] = None


def agree(instance: Instance, agreed: AgreedRound, change_penalty: float = DEFAULT_CHANGE_PENALTY) -> Carry:
    """``instance`` re-matched after its agreement status (module docstring). Entries naming an
    operator that is not in this round with the needed profile are ignored, and listed, unless
    accepted or active (those must be formed): InputError then, and for a kept pair the round
    forbids, vetoes or pins to another mentor."""
    ops = {op.id: op for op in instance.operators}
    donors = {d.id for d in instance.donors}
    pinned = {p.mentee: p for p in instance.pinned}
    forbidden = {(f.mentee, f.mentor) for f in instance.forbidden}
    vetoes = {(op.id, it["operator"]) for op in ops.values() for it in op.interests if it["level"] == -1}
    kept, barred, prefer, ignored, problems = [], [], [], [], []
    for e in agreed.status.partnerships:
        where = f"{e.mentee} - {e.mentor}"  # the file's format aside (a row, a JSON entry): the pair names it
        if not (e.mentee in ops and ops[e.mentee].mentee is not None and e.mentor in ops
                and ops[e.mentor].mentor is not None):
            if e.status in KEPT:
                problems.append(Problem(where, f"{e.status}, but both must be in this round, the mentee with a "
                                               "mentee profile and the mentor with a mentor one"))
            else:
                ignored.append(f"{e.mentee} - {e.mentor} ({e.status}): not both in this round")
            continue
        pair = (e.mentee, e.mentor)
        if e.status in KEPT:
            why = ("the round forbids this pair" if pair in forbidden else
                   "one of the two vetoes the other (interests)" if pair in vetoes or pair[::-1] in vetoes else
                   f"the round pins {e.mentee} to {pinned[e.mentee].mentor}"
                   if e.mentee in pinned and pinned[e.mentee].mentor != e.mentor else
                   f"donor {e.donor} is not in this round" if e.donor is not None and e.donor not in donors else None)
            if why:
                problems.append(Problem(where, f"{e.status}, but {why}"))
            elif e.mentee not in pinned:
                kept.append(Pinned(mentee=e.mentee, mentor=e.mentor, donor=e.donor))
        elif e.status in ("declined", "ended"):
            if e.mentee in pinned and pinned[e.mentee].mentor == e.mentor:
                problems.append(Problem(where, f"{e.status}, but the round pins this pair"))
            elif pair not in forbidden:
                barred.append(Forbidden(mentee=e.mentee, mentor=e.mentor))
                forbidden.add(pair)
        else:
            prefer.append(pair)
    if problems:
        raise InputError(problems, agreed.source)
    taken = {p.mentee for p in kept}
    prefer = [p for p in prefer if p[0] not in taken and p[0] not in pinned and p not in forbidden]
    new = instance.model_copy(update={"pinned": [*instance.pinned, *kept],
                                      "forbidden": [*instance.forbidden, *barred]})
    info = AgreementInfo(status_sha256=agreed.sha256, kept=[AgreedPair(**p.model_dump()) for p in kept],
                         barred=[AgreedPair(mentee=f.mentee, mentor=f.mentor) for f in barred], preferred=len(prefer),
                         change_penalty=change_penalty if prefer else None, ignored=ignored)
    return Carry(parse_instance(new.model_dump(mode="json"), "instance with its agreement status"), None, prefer,
                 info)


def with_agreement(solution: Solution, carried: Carry, agreed: AgreedRound) -> Solution:
    """The solution with its ``agreement`` section: what was pinned and forbidden, and the status after it."""
    after, new, withdrawn = next_status(agreed.status, solution)
    info = carried.agreement.model_copy(update={  # type: ignore[union-attr]
        "counts": status_counts(after),
        "proposed": [AgreedPair(mentee=e.mentee, mentor=e.mentor, donor=e.donor) for e in new],
        "withdrawn": [AgreedPair(mentee=e.mentee, mentor=e.mentor, donor=e.donor) for e in withdrawn]})
    return solution.model_copy(update={"agreement": info})


def check_round(options: SolveOptions, previous: Optional[PreviousRound]) -> None:
    """The round options need a previous round, and every ``ended`` mentee a partnership in it."""
    asked = options.round_options()
    if previous is None:
        if asked:
            raise InputError([Problem("previous", f"{', '.join(asked)} need a previous round's solution")])
        return
    unknown = sorted(set(options.ended) - {p.mentee for p in previous.solution.partnerships})
    if unknown:
        raise InputError([Problem("ended", f"{m!r} has no partnership in the previous round") for m in unknown],
                         "previous round")


def carry(instance: Instance, previous: PreviousRound, options: SolveOptions) -> Carry:
    """``instance`` with ``previous``'s partnerships carried as ``options`` say (check_round first)."""
    return carry_over(instance, previous.solution, previous.sha256, options.ended, options.forbid_repeat,
                      options.keep_stable, options.change_penalty)


def carry_over(instance: Instance, previous: Solution, previous_sha256: str, ended: Iterable[str] = (),
               forbid_repeat: bool = False, keep_stable: bool = False,
               change_penalty: float = DEFAULT_CHANGE_PENALTY) -> Carry:
    ops = {op.id: op for op in instance.operators}
    donors = {d.id for d in instance.donors}
    ended = set(ended)
    pinned_mentees = {p.mentee for p in instance.pinned}
    pinned_pairs = {(p.mentee, p.mentor) for p in instance.pinned}
    forbidden = {(f.mentee, f.mentor) for f in instance.forbidden}
    carried: list[Pinned] = []
    prefer: list[tuple[str, str]] = []
    dropped: list[str] = []
    for p in previous.partnerships:
        me, mo = ops.get(p.mentee), ops.get(p.mentor)
        why: Optional[str] = None
        if (p.mentee, p.mentor) in pinned_pairs:
            continue  # the instance pins it again: nothing to carry
        if p.mentee in ended:
            why = "ended (--ended)"
        elif me is None or me.mentee is None:
            why = f"mentee {p.mentee} is not a mentee in this round"
        elif mo is None or mo.mentor is None:
            why = f"mentor {p.mentor} is not a mentor in this round"
        elif p.mentee in pinned_mentees:
            why = "the instance pins this mentee to another mentor"
        elif (p.mentee, p.mentor) in forbidden:
            why = "the instance forbids this pair"
        if why is not None:
            dropped.append(f"{p.mentee} <- {p.mentor}: {why}")
            continue
        if keep_stable:
            prefer.append((p.mentee, p.mentor))
        else:
            donor = p.donor if p.donor in donors else None
            if p.donor is not None and donor is None:
                dropped.append(f"{p.mentee} <- {p.mentor}: carried without its donor {p.donor}, "
                               "which is not in this round")
            carried.append(Pinned(mentee=p.mentee, mentor=p.mentor, donor=donor))
    kept_pairs = {(c.mentee, c.mentor) for c in carried} | set(prefer)
    bans: list[Forbidden] = []
    if forbid_repeat:
        for p in previous.partnerships:
            pair = (p.mentee, p.mentor)
            me, mo = ops.get(p.mentee), ops.get(p.mentor)
            if pair not in kept_pairs and pair not in forbidden and pair not in pinned_pairs \
                    and me is not None and me.mentee is not None \
                    and mo is not None and mo.mentor is not None:
                bans.append(Forbidden(mentee=p.mentee, mentor=p.mentor))
                forbidden.add(pair)
    new = instance.model_copy(update={"pinned": [*instance.pinned, *carried],
                                      "forbidden": [*instance.forbidden, *bans]})
    info = RoundInfo(previous_sha256=previous_sha256, mode="keep_stable" if keep_stable else "carried",
                     ended=sorted(ended), forbid_repeat=forbid_repeat,
                     change_penalty=change_penalty if keep_stable else None,
                     carried=len(carried), forbidden_repeats=len(bans), dropped=dropped)
    return Carry(parse_instance(new.model_dump(mode="json"), "instance with the previous round"), info, prefer)


def with_round(solution: Solution, carried: Carry, previous: PreviousRound, options: SolveOptions) -> Solution:
    """The solution with its ``round`` section: how the round was carried, and what changed."""
    changes = round_changes(previous.solution, solution, options.ended)
    return solution.model_copy(update={"round": carried.info.model_copy(update={"changes": changes})})


def rebuild_round(instance: Instance, solution: Solution,
                  previous: Optional[PreviousRound]) -> tuple[Instance, list[str]]:
    """The instance ``solution`` was solved against: with the previous round's
    partnerships carried as it records. Also the problems of the round record
    itself: a previous solution that is not the one recorded, or changes that do
    not match the two solutions. InputError when a previous round is missing or
    not expected."""
    if solution.agreement is not None:
        a = solution.agreement
        agreed = instance.model_copy(update={
            "pinned": [*instance.pinned, *(Pinned(**p.model_dump()) for p in a.kept)],
            "forbidden": [*instance.forbidden, *(Forbidden(mentee=p.mentee, mentor=p.mentor) for p in a.barred)]})
        instance = parse_instance(agreed.model_dump(mode="json"), "instance with its agreement status")
    if solution.round is None:
        if previous is not None:
            raise InputError([Problem("previous", "this solution was not solved with a previous round")])
        return instance, []
    if previous is None:
        raise InputError([Problem("round", "this solution carries an earlier round's partnerships; "
                                           "give that round's solution (--previous)")], "solution")
    problems = []
    r = solution.round
    if previous.sha256 != r.previous_sha256:
        problems.append("round: the previous solution given is not the one this one was solved with (sha256 "
                        "differs)")
    carried = carry_over(instance, previous.solution, r.previous_sha256, r.ended, r.forbid_repeat,
                         r.mode == "keep_stable", r.change_penalty or DEFAULT_CHANGE_PENALTY)
    if carried.info.model_copy(update={"changes": []}) != r.model_copy(update={"changes": []}):
        problems.append("round: the carried, dropped or forbidden partnerships recorded differ from a re-run")
    if round_changes(previous.solution, solution, r.ended) != r.changes:
        problems.append("round: the changes recorded differ from the two solutions")
    return carried.instance, problems


def stability_scores(g: CandidateGraph, prefer: Sequence[tuple[str, str]], penalty: float) -> np.ndarray:
    """Scores the policies optimise under keep_stable: (score + penalty) for the
    preferred pairs, score for the others, all divided by (1 + penalty) so they
    stay in [0, 1]. Coverage is untouched; in the quality stage each preferred pair
    kept is worth ``penalty`` x its mentee's weight more than its own score, so a
    change is made only if it gains more quality than that (docs/rounds.md)."""
    idx = np.array([k for k in (g.candidate(a, b) for a, b in prefer) if k >= 0], dtype=np.int64)
    score = g.score.astype(np.float64).copy()
    score[idx] += penalty
    return score / (1.0 + penalty)


def round_changes(previous: Solution, current: Solution, ended: Iterable[str] = ()) -> list[RoundChange]:
    """Per mentee of either round: kept, moved (other mentor), ended (no partner
    now) or new (no partner before, or its partnership ended by --ended and a new
    one formed, even with the same mentor). Donors before and after are listed. A
    solution with no matching (infeasible) changes nothing: none is listed."""
    if current.objective is None:
        return []
    ended = set(ended)
    before = {p.mentee: p for p in previous.partnerships}
    after = {p.mentee: p for p in current.partnerships}
    out = []
    for mentee in sorted(set(before) | set(after)):
        b, a = before.get(mentee), after.get(mentee)
        kind: Literal["kept", "moved", "ended", "new"]
        if b is not None and a is not None:
            kind = "new" if mentee in ended else "kept" if a.mentor == b.mentor else "moved"
        else:
            kind = "ended" if b is not None else "new"
        out.append(RoundChange(mentee=mentee, change=kind, mentor_before=b.mentor if b else None,
                               mentor_after=a.mentor if a else None, donor_before=b.donor if b else None,
                               donor_after=a.donor if a else None))
    return out
