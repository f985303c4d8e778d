"""The scenario table (CSV and markdown) and its plots: the funding frontier and
each donor's use."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from ..models import Solution
from ..models.scenarios import ScaleBudget, Scenario, SetBudget
from .runner import Outcome, Task

#: Headline columns, in order; then matched_<region>, then <donor>_committed and <donor>_used.
HEAD = ("scenario", "description", "policy", "status", "matched", "coverage", "coverage_rate", "quality", "cost",
        "gap_coverage", "gap_quality", "gap_cost", "total_budget", "committed", "budget_used", "seconds", "method", "error")


def scenario_rows(tasks: list[Task], outcomes: dict[str, Outcome], scenarios: list[Scenario]) -> list[dict[str, Any]]:
    """One row per scenario, in the set's order (failed ones included, with the error)."""
    by_name = {s.name: s for s in scenarios}
    rows = []
    for t in tasks:
        o = outcomes.get(t.name)
        sc = by_name[t.name]
        row: dict[str, Any] = {"scenario": t.name, "description": sc.description or "", "policy": t.policy,
                               "budget_only": all(isinstance(c, (ScaleBudget, SetBudget)) for c in sc.changes)}
        if o is None or o.solution_json is None:
            row.update(status="error", error=(o.error if o else "not run") or "")
            rows.append(row)
            continue
        s = Solution.model_validate_json(o.solution_json)
        budget = sum(d.budget for d in s.donors)
        committed = sum(d.committed for d in s.donors)
        row.update(status=s.status, method=s.stats.method, seconds=round(o.seconds, 2),
                   gap_coverage=s.gap.coverage, gap_quality=s.gap.quality, gap_cost=s.gap.cost,
                   error=s.message or "")
        if s.objective is not None:
            row.update(coverage=s.objective.coverage, quality=round(s.objective.quality, 6), cost=s.objective.cost,
                       matched=len(s.partnerships))
        if s.donors:
            row.update(total_budget=budget, committed=committed,
                       budget_used=round(committed / budget, 6) if budget else None)
        if s.metrics is not None:
            row["coverage_rate"] = s.metrics.coverage_rate
            for region, g in sorted(s.metrics.by_region.items()):
                row[f"matched_{region}"] = g.matched
        for d in s.donors:
            row[f"{d.id}_committed"] = d.committed
            row[f"{d.id}_used"] = round(d.committed / d.budget, 6) if d.budget else None
        rows.append(row)
    return rows


def columns(rows: list[dict[str, Any]]) -> list[str]:
    """The table's columns (``budget_only`` is for the plots only)."""
    extra_regions = sorted({k for r in rows for k in r if k.startswith("matched_")})
    donor_cols = sorted({k for r in rows for k in r if k.endswith(("_committed", "_used")) and k not in HEAD})
    return [*HEAD[:-3], *extra_regions, *donor_cols, *HEAD[-3:]]


def rows_csv(rows: list[dict[str, Any]]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns(rows), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: "" if r.get(k) is None else r.get(k) for k in columns(rows)})
    return buf.getvalue().encode("utf-8")


def rows_markdown(rows: list[dict[str, Any]], title: str, notes: list[str]) -> bytes:
    cols = [c for c in columns(rows) if c not in ("description", "method", "error")]

    def cell(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, float):
            return f"{v:.4g}" if abs(v) < 1000 else f"{v:,.0f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v).replace("|", "\\|")

    lines = [f"# {title}", "", *notes, "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in cols) + " |" for r in rows]
    errors = [r for r in rows if r.get("status") == "error"]
    if errors:
        lines += ["", "Failed scenarios:", ""] + [f"- {r['scenario']}: {r.get('error', '')}" for r in errors]
    return ("\n".join(lines) + "\n").encode("utf-8")


def plots(rows: list[dict[str, Any]], outdir: Path) -> list[Path]:
    """frontier.png (coverage and quality against total budget) and donors.png
    (each donor's committed budget per scenario). Needs matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    ok = [r for r in rows if r.get("status") != "error" and r.get("coverage") is not None]
    written = []
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    label = len(ok) <= 20
    for k, policy in enumerate(sorted({r["policy"] for r in ok})):
        pts = sorted((r for r in ok if r["policy"] == policy and r.get("total_budget") is not None),
                     key=lambda r: (r["total_budget"], r["scenario"]))
        series = [r for r in pts if r.get("budget_only")]  # budget changes only: a frontier, drawn as a line
        color = f"C{k}"
        for ax, key in zip(axes, ("coverage", "quality"), strict=True):
            ax.scatter([r["total_budget"] for r in pts], [r[key] for r in pts], color=color, label=policy, zorder=3)
            if len(series) > 1:
                ax.plot([r["total_budget"] for r in series], [r[key] for r in series], color=color, alpha=0.6)
            if label:
                for r in pts:
                    ax.annotate(r["scenario"], (r["total_budget"], r[key]), fontsize=7, alpha=0.8,
                                xytext=(4, 3), textcoords="offset points")
    for ax, key in zip(axes, ("coverage (sum of weights matched)", "quality (sum of weight x score)"), strict=True):
        ax.set_xlabel("total donor budget")
        ax.set_ylabel(key)
        ax.xaxis.set_major_formatter(FuncFormatter(_money))
        ax.grid(alpha=0.3)
    axes[0].legend(title="policy")
    fig.suptitle("Funding frontier: what each budget buys")
    fig.tight_layout()
    path = outdir / "frontier.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)

    donors = sorted({k[: -len("_committed")] for r in ok for k in r if k.endswith("_committed")})
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(ok) + 3), 4.5))
    bottom = [0.0] * len(ok)
    for d in donors:
        vals = [float(r.get(f"{d}_committed") or 0) for r in ok]
        ax.bar(range(len(ok)), vals, bottom=bottom, label=d)
        bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
    budgets = [r.get("total_budget") for r in ok]
    ax.scatter([k for k, b in enumerate(budgets) if b is not None], [b for b in budgets if b is not None],
               marker="_", s=300, color="black", label="total budget", zorder=3)
    ax.set_xticks(range(len(ok)), [r["scenario"] for r in ok], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("committed")
    ax.yaxis.set_major_formatter(FuncFormatter(_money))
    ax.set_title("Each donor's committed budget per scenario")
    if donors:
        ax.legend(fontsize=8, ncols=2)
    fig.tight_layout()
    path = outdir / "donors.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    return written


def _money(v: float, _pos: object = None) -> str:
    """Axis labels that do not collide: 1.25M, 750k."""
    if abs(v) >= 1e6:
        return f"{v / 1e6:g}M"
    if abs(v) >= 1e3:
        return f"{v / 1e3:g}k"
    return f"{v:g}"
