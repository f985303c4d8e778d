"""``wopmatch bench report RESULTS``: a markdown table and PNG plots of a study.

The latest record of each cell counts. Figures are averaged over seeds; quality
and coverage are also given relative to ``optimal`` on the same instance (same
size, donors, generator parameters and seed), which is what a policy gives up.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from statistics import mean
from typing import Any, Optional

from .runner import cell_key

GroupKey = tuple[int, int, int, str]  # mentees, mentors, donors, policy


def load_records(results: Path) -> list[dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for line in results.read_text().splitlines():
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            latest[cell_key(rec["cell"])] = rec
        except (json.JSONDecodeError, KeyError):
            continue
    return list(latest.values())


def _instance_key(cell: dict[str, Any]) -> str:
    return json.dumps({k: cell[k] for k in ("mentees", "mentors", "donors", "tightness", "dual_share", "seed",
                                            "time_limit")}, sort_keys=True)


def summarise(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (size, donors, policy), seeds averaged."""
    optimal = {_instance_key(r["cell"]): r for r in records
               if r["cell"]["policy"] == "optimal" and r.get("outcome") == "solved"}
    groups: dict[GroupKey, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        c = r["cell"]
        groups[(c["mentees"], c["mentors"], c["donors"], c["policy"])].append(r)
    rows = []
    for (n, m, k, policy), recs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][3])):
        solved = [r for r in recs if r.get("outcome") == "solved"]
        row: dict[str, Any] = {"mentees": n, "mentors": m, "donors": k, "policy": policy, "runs": len(recs),
                               "solved": len(solved),
                               "other": sorted({f"{r['outcome']}: {r.get('reason', '')}"
                                                for r in recs if r.get("outcome") != "solved"})}
        if solved:
            def avg(f, solved=solved) -> Optional[float]:
                return _mean([f(r) for r in solved])

            def rel(field: str, optimal=optimal):
                return lambda rec: _relative(rec, optimal.get(_instance_key(rec["cell"])), field)

            row.update({
                "match_rate": avg(lambda r: r["metrics"]["match_rate"]),
                "coverage_vs_optimal": avg(rel("coverage")), "quality_vs_optimal": avg(rel("quality")),
                "cost_vs_optimal": avg(rel("cost")),
                "min_score": avg(lambda r: r["metrics"]["min_score"]),
                "lowest_region_rate": avg(lambda r: min((g["match_rate"] for g in r["metrics"]["by_region"].values()
                                                         if g["match_rate"] is not None), default=None)),
                "blocking_pairs": avg(lambda r: r["metrics"]["blocking_pairs"]),
                "gap_coverage": avg(lambda r: r["gap"]["coverage"]),
                "solve_s": avg(lambda r: r["seconds"]["solve"]), "total_s": avg(lambda r: r["seconds"]["total"]),
                "peak_mib": max(r["peak_rss_mib"] for r in solved),
                "statuses": sorted({r["status"] for r in solved}),
                "on_track": avg(lambda r: (r.get("monitoring") or {}).get("on_track")),
                "off_track": avg(lambda r: (r.get("monitoring") or {}).get("off_track")),
            })
        rows.append(row)
    return rows


def _mean(values: list[Optional[float]]) -> Optional[float]:
    vals = [v for v in values if v is not None]
    return mean(vals) if vals else None


def _relative(r: dict[str, Any], base: Optional[dict[str, Any]], field: str) -> Optional[float]:
    if base is None or not base["objective"] or not base["objective"][field] or not r["objective"]:
        return None
    return r["objective"][field] / base["objective"][field]


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        return f"{v:,.{digits}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def markdown(rows: list[dict[str, Any]], records: list[dict[str, Any]], title: str) -> str:
    prov = records[-1] if records else {}
    monitored = any(r.get("on_track") is not None for r in rows)  # the study set progress_month
    machine = prov.get("machine", {})
    versions = prov.get("versions", {})
    head = [f"# {title}", "",
            f"{len(records)} runs; latest on {prov.get('date', '?')}, git {prov.get('git', '?')}; machine "
            f"{machine.get('platform', '?')}, {machine.get('cpus', '?')} CPUs, {machine.get('memory', '?')}; "
            + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".", "",
            "Averages over seeds. `vs optimal`: the policy's value over `optimal`'s on the same instance. "
            "Lowest region: the lowest share of a region's mentees matched. Blocking pairs: docs/policies.md."
            + (" On track, off track: the shares of the partnerships so graded on synthetic progress "
               "(docs/monitoring.md)." if monitored else ""), "",
            "| size | donors | policy | solved | status | match rate | coverage vs optimal | quality vs optimal "
            "| cost vs optimal | lowest score | lowest region | blocking pairs | coverage gap | solve s | total s "
            "| peak MiB |" + (" on track | off track |" if monitored else ""),
            "|---|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
            + ("---:|---:|" if monitored else "")]
    for r in rows:
        status = ", ".join(r.get("statuses", [])) or ", ".join(sorted({o.split(":")[0] for o in r["other"]}))
        head.append(
            f"| {r['mentees']:,}x{r['mentors']:,} | {r['donors']} | {r['policy']} | {r['solved']}/{r['runs']} | "
            f"{status} | {_fmt(r.get('match_rate'))} | {_fmt(r.get('coverage_vs_optimal'))} | "
            f"{_fmt(r.get('quality_vs_optimal'))} | {_fmt(r.get('cost_vs_optimal'))} | {_fmt(r.get('min_score'))} | "
            f"{_fmt(r.get('lowest_region_rate'))} | {_fmt(r.get('blocking_pairs'), 0)} | "
            f"{_fmt(r.get('gap_coverage'), 4)} | {_fmt(r.get('solve_s'), 2)} | {_fmt(r.get('total_s'), 2)} | "
            f"{_fmt(r.get('peak_mib'), 0)} |"
            + (f" {_fmt(r.get('on_track'))} | {_fmt(r.get('off_track'))} |" if monitored else ""))
    other = [r for r in rows if r["other"]]
    if other:
        head += ["", "Cells not solved:", ""]
        head += [f"- {r['mentees']:,}x{r['mentors']:,}, {r['donors']} donors, {r['policy']}: " + "; ".join(r["other"])
                 for r in other]
    return "\n".join(head) + "\n"


def plots(rows: list[dict[str, Any]], records: list[dict[str, Any]], out: Path) -> list[Path]:
    """quality-coverage.png, time.png, regions.png; needs matplotlib (the plots extra)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    donor_sets = sorted({r["donors"] for r in rows})
    policies = sorted({r["policy"] for r in rows}, key=lambda p: (p != "optimal", p))
    colour = {p: f"C{k}" for k, p in enumerate(policies)}  # the same colour for a policy in every panel

    fig, axes = plt.subplots(2, len(donor_sets), figsize=(6 * len(donor_sets), 8), squeeze=False)
    for col, k in enumerate(donor_sets):
        for policy in policies:
            pts = [r for r in rows if r["donors"] == k and r["policy"] == policy and r.get("match_rate") is not None]
            if not pts:
                continue
            x = [r["mentees"] for r in pts]
            axes[0][col].plot(x, [r["match_rate"] for r in pts], marker="o", label=policy, color=colour[policy])
            axes[1][col].plot(x, [r.get("quality_vs_optimal") for r in pts], marker="o", label=policy,
                              color=colour[policy])
        for row, label in ((0, "share of mentees matched"), (1, "quality / optimal's")):
            ax = axes[row][col]
            ax.set_xscale("log")
            ax.set_xlabel("mentees")
            ax.set_ylabel(label)
            ax.set_title(f"{k} donors" if k else "budget-free")
            ax.grid(alpha=0.3)
        axes[0][col].legend(fontsize=8)
    fig.tight_layout()
    written.append(out / "quality-coverage.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(donor_sets), figsize=(6 * len(donor_sets), 4.5), squeeze=False)
    for col, k in enumerate(donor_sets):
        ax = axes[0][col]
        for policy in policies:
            pts = [r for r in rows if r["donors"] == k and r["policy"] == policy and r.get("solve_s") is not None]
            if pts:
                ax.plot([r["mentees"] for r in pts], [max(r["solve_s"], 1e-3) for r in pts], marker="o",
                        label=policy, color=colour[policy])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("mentees")
        ax.set_ylabel("solve seconds")
        ax.set_title(f"{k} donors" if k else "budget-free")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.tight_layout()
    written.append(out / "time.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)

    # per-region share matched per policy, at the largest budget-free size (first seed)
    solved = [r for r in records if r.get("outcome") == "solved"]
    if solved:
        k0 = min(r["cell"]["donors"] for r in solved)
        top = max(r["cell"]["mentees"] for r in solved if r["cell"]["donors"] == k0)
        chosen = [r for r in solved if r["cell"]["mentees"] == top and r["cell"]["donors"] == k0]
        seed = min(r["cell"]["seed"] for r in chosen)
        chosen = sorted((r for r in chosen if r["cell"]["seed"] == seed),
                        key=lambda r: (r["cell"]["policy"] != "optimal", r["cell"]["policy"]))
        regions = sorted({g for r in chosen for g in r["metrics"]["by_region"]})
        fig, ax = plt.subplots(figsize=(10, 4.5))
        width = 0.8 / max(1, len(chosen))
        for a, r in enumerate(chosen):
            vals = [r["metrics"]["by_region"].get(g, {}).get("match_rate") or 0 for g in regions]
            ax.bar([x + a * width for x in range(len(regions))], vals, width, label=r["cell"]["policy"],
                   color=colour.get(r["cell"]["policy"]))
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(regions))])
        ax.set_xticklabels(regions)
        ax.set_ylabel("share of the region's mentees matched")
        ax.set_title(f"{top:,} mentees, {k0} donors, seed {seed}")
        ax.legend(fontsize=8, ncol=4)
        ax.grid(alpha=0.3, axis="y")
        fig.tight_layout()
        written.append(out / "regions.png")
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    return written
