"""The readable form of ``wopmatch diff``."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ..models.diff import SolutionDiff


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
