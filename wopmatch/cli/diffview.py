"""The readable forms of ``wopmatch diff`` and ``wopmatch propose``."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ..models.diff import SolutionDiff
from ..models.proposal import Proposal


def _num(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{int(x):,}" if float(x).is_integer() else f"{x:,.6g}"


def print_diff(console: Console, d: SolutionDiff, rows: int) -> None:
    def name(ref) -> str:
        return f"{ref.name or 'instance'} ({ref.policy}, {ref.status}, sha256 {ref.sha256[:12]})"

    console.print(f"A: {name(d.a)}")
    console.print(f"B: {name(d.b)}" + ("" if d.same_instance else "  [yellow]another instance[/]"))
    console.print(f"partnerships: {len(d.added)} added, {len(d.removed)} removed, {len(d.changed)} changed, "
                  f"{d.unchanged} unchanged; mentees: {len(d.newly_matched)} newly matched, "
                  f"{len(d.newly_unmatched)} newly unmatched")

    def table(title: str, columns: list[str], body: list[list[str]]) -> None:
        if not body:
            return
        t = Table(title=f"{title} ({len(body)})")
        for c in columns:
            t.add_column(c)
        for r in body[:rows]:
            t.add_row(*r)
        console.print(t)
        if len(body) > rows:
            console.print(f"  ... {len(body) - rows} more (all of them in the JSON, -o)")

    table("added", ["mentee", "mentor", "donor", "score", "cost"],
          [[p.mentee, p.mentor, p.donor or "-", f"{p.score:.3f}", f"{p.cost:,}"] for p in d.added])
    table("removed", ["mentee", "mentor", "donor", "score", "cost"],
          [[p.mentee, p.mentor, p.donor or "-", f"{p.score:.3f}", f"{p.cost:,}"] for p in d.removed])
    table("changed", ["mentee", "mentor A -> B", "donor A -> B", "score A -> B"],
          [[c.mentee, f"{c.mentor_before} -> {c.mentor_after}", f"{c.donor_before or '-'} -> {c.donor_after or '-'}",
            f"{c.score_before:.3f} -> {c.score_after:.3f}"] for c in d.changed])
    table("newly unmatched", ["mentee", "reason", "detail"],
          [[u.mentee, u.reason, u.detail] for u in d.newly_unmatched])
    table("figures that changed", ["figure", "A", "B", "B - A"],
          [[f.name, _num(f.before), _num(f.after), _num(f.change)] for f in d.figures])


def print_proposal(console: Console, p: Proposal, rows: int) -> None:
    head = Table(title=f"proposal: {p.mentee} with {p.mentor}", show_header=False)
    head.add_column("", style="bold")
    head.add_column("")
    head.add_row("outcome", p.detail)
    head.add_row("pair", f"score {p.score:.3f}, cost {p.cost:,}, {p.months} months"
                 + (f"\nissues: {', '.join(p.issues)}" if p.issues else "")
                 + (f"\nwould work on: {', '.join(p.focus)}" if p.focus else ""))
    head.add_row("now", f"{p.mentee} is with {p.current_mentor}" if p.current_mentor else f"{p.mentee} is unmatched")
    if p.donors:
        head.add_row("donors", "\n".join(
            f"{d.donor}: " + ("cannot fund it (its rules)" if not d.eligible else
                              f"can fund it, {d.left:,} left" + ("" if d.enough else " (not enough now)"))
            for d in p.donors))
    if p.coverage_change is not None:
        head.add_row("change", f"coverage {p.coverage_change:+g}, quality {p.quality_change:+.4f}, "
                               f"cost {p.cost_change:+,}")
    console.print(head)
    if p.diff is not None:
        print_diff(console, p.diff, rows)
