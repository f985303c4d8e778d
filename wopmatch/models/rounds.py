"""Successive rounds: carrying an earlier round's partnerships into this one (docs/rounds.md).

``solve INSTANCE --previous OLD.json`` treats the partnerships of OLD as still
running. Two modes:

* carried (the default): each becomes a pinned partnership of this round, with
  its donor, so it keeps its mentor's place and its donor's commitment;
* ``--keep-stable``: none is pinned; the solver may change them, but each one
  kept (same mentee and mentor) earns a bonus in the quality stage, so the
  matching changes as few as it can (see ``stability_scores``).

A previous partnership is not carried when its mentee is listed as ended
(``--ended``), when either operator is no longer in the round with the needed
profile, when the instance already pins that mentee, or when the instance
forbids the pair; each such case is reported. ``--forbid-repeat`` forbids every
previous pair that is not carried (an ended partnership is not formed again).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Literal, Optional

from .instance import Forbidden, Instance, Pinned, parse_instance
from .solution import RoundChange, RoundInfo, Solution

#: Default --change-penalty: a kept partnership is worth this much score (in
#: units of the mentee's weight) on top of its own.
DEFAULT_CHANGE_PENALTY = 1.0


@dataclass
class Carry:
    """How an earlier round enters this one."""

    instance: Instance  # with the carried pins and the repeat bans added
    info: RoundInfo
    prefer: list[tuple[str, str]] = field(default_factory=list)  # keep-stable: pairs to keep if possible


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


def round_changes(previous: Solution, current: Solution, ended: Iterable[str] = ()) -> list[RoundChange]:
    """Per mentee of either round: kept, moved (other mentor), ended (no partner
    now) or new (no partner before, or its partnership ended by --ended and a new
    one formed, even with the same mentor). Donors before and after are listed."""
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
