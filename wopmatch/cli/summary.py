"""The readable summary printed after a solve."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..models import Instance, Solution
from ..reports.numbers import percent


def _pinned_note(n: int) -> str:
    """Why pinned partnerships change the blocking-pair count (docs/policies.md#metrics)."""
    if n == 1:
        return "the pinned partnership is fixed: its mentee is not counted and its place is not free"
    return f"the {n} pinned partnerships are fixed: their mentees are not counted and their places are not free"


def print_summary(console: Console, instance: Instance, s: Solution) -> None:
    n_mentees = sum(op.mentee is not None for op in instance.operators)
    console.print(Text(instance.name or "instance", style="bold"))  # a line of its own wraps, as a title does not
    head = Table(show_header=False)
    head.add_column("", style="bold")
    head.add_column("")
    head.add_row("policy", s.policy)
    head.add_row("status", s.status + (f" ({s.message})" if s.message else ""))
    if s.objective is not None:
        o, b = s.objective, s.bound
        head.add_row("matched", f"{len(s.partnerships)} of {n_mentees} mentees")
        head.add_row("coverage", f"{o.coverage:g}  (bound {'-' if b.coverage is None else f'{b.coverage:g}'}, "
                                 f"gap {percent(s.gap.coverage)})\n[dim]priority weight of the matched mentees[/]")
        head.add_row("quality", f"{o.quality:.4f}  (bound {'-' if b.quality is None else f'{b.quality:.4f}'}, "
                                f"gap {percent(s.gap.quality)})\n[dim]sum of weight x match score ("
                                + ("fit 0..1 plus stated interest" if any(op.interests for op in instance.operators)
                                   else "0..1") + ")[/]")
        head.add_row("cost", f"{o.cost:,} {instance.currency}  (bound {'-' if b.cost is None else f'{b.cost:,}'}, "
                             f"gap {percent(s.gap.cost)})")
    if s.metrics is not None:
        m = s.metrics
        rates = {r: g.match_rate for r, g in m.by_region.items() if g.match_rate is not None}
        low = min(rates, key=lambda r: rates[r]) if rates else None
        head.add_row("scores", "-" if m.mean_score is None else f"mean {m.mean_score:.3f}, lowest {m.min_score:.3f}")
        if low is not None:
            head.add_row("lowest region", f"{low}: {percent(rates[low])} of its mentees matched")
        pinned = sum(p.pinned for p in s.partnerships)
        head.add_row("blocking pairs", f"{m.blocking_pairs:,}" + (
            "\n[dim]pairs who would both rather be together than with their match[/]" if m.blocking_pairs else "")
            + (f"\n[dim]{_pinned_note(pinned)}[/]" if pinned else ""))
        for side, w in (m.wishes or {}).items():
            head.add_row(f"wishes of {side}", f"{w.met:,} of {w.stated:,} met, {w.first_choice:,} with a first choice"
                         + f"\n[dim]{side} that rated a partner and got one they rated[/]")
        if m.cost_per_matched is not None:
            head.add_row("cost per match", f"{m.cost_per_matched:,.0f} {instance.currency}")
    months = Counter(p.duration_months for p in s.partnerships if p.duration_months is not None)
    if months:
        rule = ("from the issues each addresses" if instance.costs.duration_rule == "issues"
                else "the round's fixed duration")
        head.add_row("months", ", ".join(f"{k} ({n})" for k, n in sorted(months.items()))
                     + f"\n[dim]partnerships by duration: {rule}[/]")
    st = s.stats
    head.add_row("candidates", f"{st.candidates:,}")
    head.add_row("time", f"build {st.build_seconds:.2f} s, solve {st.solve_seconds:.2f} s, "
                         f"verify {st.verify_seconds:.2f} s")
    head.add_row("solver", f"{st.solver} ({st.method}), seed {st.seed}")
    if s.verification is not None:
        head.add_row("verified", "yes" if s.verification.ok else f"NO: {len(s.verification.violations)} violation(s)")
    console.print(head)

    if s.unmatched:
        reasons = Table(title="unmatched mentees by reason")
        reasons.add_column("reason")
        reasons.add_column("mentees", justify="right")
        for reason, count in sorted(Counter(u.reason for u in s.unmatched).items(), key=lambda kv: -kv[1]):
            reasons.add_row(reason, str(count))
        console.print(reasons)
    if s.donors:
        donors = Table(title="donor use")
        for col in ("donor", "partnerships", "committed", "budget", "used"):
            donors.add_column(col, justify="left" if col == "donor" else "right")
        for d in s.donors:
            used = d.committed / d.budget if d.budget else 0.0
            donors.add_row(d.id, str(d.partnerships), f"{d.committed:,}", f"{d.budget:,}", percent(used))
        console.print(donors)
        idle = [d for d in s.donors if d.idle_reason]
        if idle:
            why = Table(title="why money is left", show_lines=False)
            why.add_column("donor", no_wrap=True)
            why.add_column("reason", overflow="fold")
            for d in idle:
                why.add_row(d.id, Text(d.idle_detail))
            console.print(why, soft_wrap=False)

    if s.agreement is not None:
        a = s.agreement
        agreed = Table(title="agreement status after this solve")
        for col in a.counts:
            agreed.add_column(col, justify="right")
        agreed.add_row(*(str(n) for n in a.counts.values()))
        console.print(agreed)
        console.print(f"  pinned {len(a.kept)} accepted or active; barred {len(a.barred)} declined or ended\n"
                      f"  proposals waiting for an answer: {a.preferred - len(a.withdrawn)} of {a.preferred} kept",
                      markup=False)
        for p in a.proposed:
            console.print(f"  newly proposed: {p.mentee} <- {p.mentor}" + (f" ({p.donor})" if p.donor else ""),
                          markup=False)
        for p in a.withdrawn:
            console.print(f"  withdrawn: {p.mentee} <- {p.mentor}", markup=False)
        for note in a.ignored:
            console.print(f"  ignored: {note}", markup=False)

    if s.round is not None:
        r = s.round
        kinds = Counter(c.change for c in r.changes)
        title = ("previous round: " + (f"{r.carried} partnership(s) carried as pinned" if r.mode == "carried"
                 else f"re-matched keeping partnerships where possible (change penalty {r.change_penalty:g})"))
        changes = Table(title=title)
        for col in ("kept", "moved", "ended", "new"):
            changes.add_column(col, justify="right")
        changes.add_row(*(str(kinds.get(k, 0)) for k in ("kept", "moved", "ended", "new")))
        console.print(changes)
        for c in r.changes:
            if c.change in ("moved", "ended"):
                after = f"now with {c.mentor_after}" if c.mentor_after else "no partner now"
                console.print(f"  {c.change}: {c.mentee} (was with {c.mentor_before}; {after})", markup=False)
        for note in r.dropped:
            console.print(f"  not carried: {note}", markup=False)


def print_warnings(console: Console, warnings: list[str] | None) -> None:
    """What the instance holds that is valid but probably not meant, one line each."""
    for w in warnings or []:
        console.print(Text("warning: ", style="yellow bold") + Text(w))
