"""RESULTS.md (and peers.png) from results.jsonl and peers.jsonl: the latest run of each case."""

from __future__ import annotations

import datetime as dt
import json
import statistics
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def machine() -> dict:
    from wopmatch.bench.runner import machine as _machine

    return _machine()


def git_sha() -> str:
    from wopmatch.bench.runner import git_sha as _git_sha

    return _git_sha(ROOT)


def provenance() -> dict:
    import highspy
    import numpy as np
    import ortools

    return {"git": git_sha(), "machine": machine(), "ortools": ortools.__version__, "numpy": np.__version__,
            "highspy": highspy.Highs().version(),
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def _read(name: str) -> list[dict]:
    path = HERE / name
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _pct(x: Optional[float]) -> str:
    return "-" if x is None else f"{100 * x:.3g}%"


def _machine_line(rec: dict) -> str:
    m = rec["machine"]
    return (f"Machine: {m['platform']}, {m['cpus']} CPUs, {m['memory']}; Python {m['python']}, "
            f"OR-Tools {rec['ortools']}, numpy {rec['numpy']}"
            + (f", highspy {rec['highspy']}" if rec.get("highspy") else "") + f"; git {rec['git']}; {rec['date']}.")


def own_section() -> list[str]:
    latest: dict[str, dict] = {}
    for rec in _read("results.jsonl"):
        latest[rec["case"]] = rec
    out = ["## wopmatch end to end", "",
           "`python benchmarks/run.py` (config.json). `solve / flow` is the solve step's time over one bare",
           "OR-Tools min-cost-flow call (coverage costs) on the same candidate graph, timed in the same process.", ""]
    any_rec = next(iter(latest.values()), None)
    if any_rec:
        out += [_machine_line(any_rec), ""]
    out += ["| case | method | status | candidates | working set | total s | build s | solve s | verify s "
            "| solve / flow | peak MiB | coverage | bound | gap cov | quality | gap qual |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in latest.items():
        o, b, g, s = r["objective"] or {}, r["bound"], r["gap"], r["seconds"]
        ws = r.get("working_set")
        out.append(f"| {name} | {r.get('method', '')} | {r['status']} | {r['candidates']:,} | "
                   f"{'-' if ws is None else f'{ws:,}'} | {s['total']} | {s['build']} | {s['solve']} | "
                   f"{s['verify']} | {r['solve_over_baseline']} | {r['peak_rss_mib']} | {o.get('coverage')} | "
                   f"{b.get('coverage')} | {_pct(g.get('coverage'))} | {o.get('quality')} | {_pct(g.get('quality'))} |")
    return out


def peers_section() -> list[str]:
    latest: dict[tuple[str, str], dict] = {}
    for rec in _read("peers.jsonl"):
        latest[(rec["case"], rec["solver"])] = rec
    if not latest:
        return []
    cases = list(dict.fromkeys(c for c, _ in latest))
    out = ["## Against the peers", "",
           "`python benchmarks/peers.py` (peers.json): every solver on the same generated instance file, each in",
           "its own process. Budgeted cases size the donors' budgets as a share of the cost of the budget-free",
           "optimum. `× wopmatch` is the solver's seconds over wopmatch's end-to-end seconds (for min-cost-flow:",
           "wopmatch's solve step over the bare flow call, the 1.5x target). What each solver models and how it",
           "is timed: the docstring of peers.py.", "",
           _machine_line(next(iter(latest.values()))), "", "![time against size](peers.png)", ""]
    for case in cases:
        recs = [latest[(case, s)] for s in ("wopmatch", "min-cost-flow", "scipy-lsa", "cp-sat", "highs")
                if (case, s) in latest]
        mine = latest.get((case, "wopmatch"), {})
        extra = ""
        if recs and recs[0].get("budget_free_cost"):
            extra = (f" (budgets {recs[0]['budget_total']:,} = {recs[0]['params']['budget_share']:.0%} of the "
                     f"budget-free optimum's cost {recs[0]['budget_free_cost']:,})")
        out += [f"### {case}{extra}", "",
                "| solver | result | seconds | × wopmatch | peak MiB | coverage | quality | coverage bound | gap "
                "| note |",
                "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in recs:
            ratio = "-"
            if r.get("seconds") and mine.get("seconds") and r["solver"] != "wopmatch":
                if r["solver"] == "min-cost-flow":
                    ratio = f"solve {mine['solve_seconds'] / r['seconds']:.2f}x flow"
                else:
                    ratio = f"{r['seconds'] / mine['seconds']:.2f}"
            note = r.get("reason") or r.get("note") or r.get("method") or ""
            if r.get("stages_proven") is not None:
                note = f"{r['stages_proven']}/3 stages proven" + (f"; {note}" if note else "")
            out.append(f"| {r['solver']} | {r['status']} | {r.get('seconds', '-')} | {ratio} | "
                       f"{r.get('peak_mib', '-')} | {r.get('coverage', '-')} | {r.get('quality', '-')} | "
                       f"{r.get('coverage_bound') if r.get('coverage_bound') is not None else '-'} | "
                       f"{_pct(r.get('gap'))} | {note} |")
        out.append("")
    return out


def plot(path: Path) -> bool:
    latest: dict[tuple[str, str], dict] = {}
    for rec in _read("peers.jsonl"):
        latest[(rec["case"], rec["solver"])] = rec
    if not latest:
        return False
    try:
        import matplotlib
    except ImportError:  # the bench extra is not installed: keep the committed plot
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, donors in zip(axes, (False, True), strict=True):
        # One colour per solver in both panels (the legend is drawn on the first only).
        for colour, solver in enumerate(("wopmatch", "min-cost-flow", "scipy-lsa", "cp-sat", "highs")):
            pts = sorted((r["size"], r["seconds"], r["status"]) for (c, s), r in latest.items()
                         if s == solver and bool(r["params"]["donors"]) == donors and r.get("seconds"))
            if not pts:
                continue
            line, = ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=solver, color=f"C{colour}")
            for x, y, status in pts:
                if status not in ("optimal",):
                    ax.plot([x], [y], marker="x", color=line.get_color(), markersize=11)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("mentees x mentors")
        ax.set_title("with donors (x: not proven optimal)" if donors else "budget-free")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("seconds")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def policies_section() -> list[str]:
    """Each policy's time and quality relative to optimal at each size, from the
    policy study (benchmarks/policies/, `wopmatch bench`)."""
    results = HERE / "policies" / "results.jsonl"
    if not results.exists():
        return []
    from wopmatch.bench.report import load_records, summarise

    rows = summarise(load_records(results))
    out = ["## Policies compared", "",
           "From the policy study in [policies/](policies/report.md) (`wopmatch bench`, config and plots there): "
           "averages over its seeds, relative to `optimal` on the same instance.", "",
           "| size | donors | policy | solved | coverage vs optimal | quality vs optimal | solve s | peak MiB |",
           "|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        def f(v, d=3):
            return "-" if v is None else f"{v:,.{d}f}"
        out.append(f"| {r['mentees']:,}x{r['mentors']:,} | {r['donors']} | {r['policy']} | {r['solved']}/{r['runs']} | "
                   f"{f(r.get('coverage_vs_optimal'))} | {f(r.get('quality_vs_optimal'))} | "
                   f"{f(r.get('solve_s'), 2)} | {f(r.get('peak_mib'), 0)} |")
    return out + [""]


def scale_section() -> list[str]:
    """Every policy at 100,000 x 20,000 budget-free (policies/scale.jsonl, recorded by
    scale.py), relative to the optimal policy's run in results.jsonl."""
    records = _read("policies/scale.jsonl")
    base = [r for r in _read("results.jsonl") if r.get("case") == "100000x20000 budget-free"]
    if not records or not base:
        return []
    opt = base[-1]
    latest = {r["policy"]: r for r in records}
    rows = [("optimal", opt["objective"], opt["seconds"]["total"], None, opt["seconds"]["solve"],
             opt["peak_rss_mib"], opt["method"], opt["date"][:10])]
    rows += [(p, r["objective"], r["seconds"], r.get("cpu_seconds"), r["solve_seconds"], r["peak_rss_mib"],
              r["method"], r["date"][:10]) for p, r in sorted(latest.items())]
    o = opt["objective"]
    out = ["## Every policy at 100,000 x 20,000", "",
           "Budget-free, `generate --mentees 100000 --mentors 20000 --seed 1` (645 million eligible pairs), end to "
           "end (load, solve, verify, metrics, write) on the 2-CPU machine; recorded with `benchmarks/scale.py` from "
           "`/usr/bin/time -v` logs (policies/scale.jsonl). Ratios are to `optimal` on the same instance. Where "
           "other jobs shared the machine, wall seconds stretch; CPU seconds (user + system) are what the run "
           "itself cost.", "",
           "| policy | coverage vs optimal | quality vs optimal | end to end s | vs optimal | CPU s | solve s | "
           "peak MiB | method | date |", "|---|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for p, obj, total, cpu, solve, peak, method, date in rows:
        out.append(f"| {p} | {obj['coverage'] / o['coverage']:.3f} | {obj['quality'] / o['quality']:.3f} | "
                   f"{total:,.0f} | {total / opt['seconds']['total']:.2f} | {'-' if cpu is None else f'{cpu:,.0f}'} | "
                   f"{solve:,.0f} | {peak:,.0f} | {method} | {date} |")
    return out + [""]


def scenarios_section() -> list[str]:
    """The 40-scenario budget sweep (scenarios.jsonl, benchmarks/scenarios.py)."""
    records = _read("scenarios.jsonl")
    if not records:
        return []
    out = ["## Scenario sweeps", "",
           "`benchmarks/scenarios.py`: a budget grid of 40 factors (0.05 to 2.0) over one 2,000 x 500 round with 5 "
           "donors, on the local process pool and on a Dask LocalCluster, both with 2 workers; the two must give the "
           "same answer for every scenario.", "",
           "| date | scenarios | method | local pool s | Dask LocalCluster s | solve s (sum) | same answers | "
           "machine |", "|---|---:|---|---:|---:|---:|---|---|"]
    for r in records:
        pool, dask = r["local pool, 2 workers"], r["Dask LocalCluster, 2 workers"]
        out.append(f"| {r['date'][:10]} | {r['scenarios']} | {r['method']} (node limit {r['node_limit']:,}) | "
                   f"{pool['seconds']:,.1f} | {dask['seconds']:,.1f} | {pool['solve_seconds']:,.1f} | "
                   f"{'yes' if r['same_answers'] else 'NO'} | {r['machine']['cpus']} CPUs, {r['machine']['memory']}, "
                   f"Python {r['machine']['python']}, OR-Tools {r['versions']['ortools']}, git {r['git']} |")
    notes = [f"- {r['date'][:10]}: {r['note']}." for r in records if r.get("note")]
    return out + ([""] + notes if notes else []) + [""]


def kernels_section() -> list[str]:
    """The compiled kernels against the numpy streams (kernels.jsonl, benchmarks/kernels.py)."""
    records = _read("kernels.jsonl")
    if not records:
        return []
    out = ["## Compiled kernels against numpy", "",
           "`benchmarks/kernels.py`: greedy, random and stable on mentee streams, by the numpy code and by the "
           "compiled kernels (solver/kernels.py), one after the other in the same process on one generated "
           "budget-free round (seed 1); both take the same pairs (checked). The ratio is numpy / compiled.", "",
           "| date | case | policy | numpy s | compiled s | ratio | refills | numba | machine | git |",
           "|---|---|---|---:|---:|---:|---:|---|---|---|"]
    for r in records:
        out.append(f"| {r['date'][:10]} | {r['case']} | {r['policy']} | {r['numpy_seconds']:,.1f} | "
                   f"{r['compiled_seconds']:,.1f} | {r['ratio']:,.1f} | {r['refills']:,} | {r['numba']} | "
                   f"{r['machine']['cpus']} CPUs, Python {r['machine']['python']} | {r['git']} |")
    return out + [""]


def interests_section() -> list[str]:
    """Stated interests' cost (interests.jsonl, benchmarks/interests.py): the latest run of each case."""
    latest: dict[str, dict] = {}
    for rec in _read("interests.jsonl"):
        latest[rec["case"]] = rec
    if not latest:
        return []
    out = ["## Stated interests", "",
           "`python benchmarks/interests.py`: `wopmatch.solve` of a budget-free 2,000 x 500 round's file with and "
           "without 5 interests stated per operator (the same round otherwise), back to back in one process, seven "
           "times each; the ratio is of the fastest of each (the ratio of the medians beside it shows the machine's "
           "noise). Loading (the file is 1.8 times the bytes), solving, explaining and verifying are all included; "
           "the cycle collector runs before each solve (runs from 2271d6b on), so neither pays for the other's "
           "garbage.",
           "", "| case | without, s | with, s | ratio | of medians | target | met | mentees' first choices met | git "
           "| date |", "|---|---:|---:|---:|---:|---|---|---:|---|---|"]
    for r in latest.values():
        medians = statistics.median(r["interests_seconds"]) / statistics.median(r["plain_seconds"])
        out.append(f"| {r['case']} | {min(r['plain_seconds']):.3f} | {min(r['interests_seconds']):.3f} | "
                   f"{r['ratio']:g} | {medians:.2f} | {r['target']} | {'yes' if r['met'] else '**no**'} | "
                   f"{r['first_choices_met']} of {r['wishes_stated']} | {r['git']} | {r['date'][:10]} |")
    return out + ["", _run_line(next(iter(latest.values()))) + ".", ""]


def monitor_section() -> list[str]:
    """Monitoring's cost (monitor.jsonl, benchmarks/monitor.py): the latest run of each case."""
    latest: dict[str, dict] = {}
    for rec in _read("monitor.jsonl"):
        latest[rec["case"]] = rec
    if not latest:
        return []
    out = ["## Monitoring", "",
           "`python benchmarks/monitor.py`: `wopmatch monitor ROUND SOLUTION PROGRESS -o report.html -o figures.csv` "
           "on about 1,000 partnerships (greedy on 1,900 x 560 rounds), their progress workbook filled with "
           "synthetic progress up to the month shown; wall time as a user waits for it (start-up, reading, "
           "re-verifying, grading, writing), the fastest of three runs.",
           "", "| case | partnerships | workbook KiB | seconds | target | met | on / at risk / off | git | date |",
           "|---|---:|---:|---:|---|---|---|---|---|"]
    for r in latest.values():
        c = r["counts"]
        out.append(f"| {r['case']} | {r['partnerships']:,} | {r['workbook_bytes'] / 1024:,.0f} | {r['best']:.2f} | "
                   f"{r['target']} | {'yes' if r['met'] else '**no**'} | {c['on track']} / {c['at risk']} / "
                   f"{c['off track']} | {r['git']} | {r['date'][:10]} |")
    return out + ["", _run_line(next(iter(latest.values()))) + ".", ""]


def service_section() -> list[str]:
    """Load on the HTTP service (service/load.jsonl, benchmarks/load.py)."""
    records = _read("service/load.jsonl")
    if not records:
        return []
    out = ["## The HTTP service under load", "",
           "`benchmarks/load.py`: `wopmatch serve` with 2 solve processes on loopback; at concurrency 50, validations "
           "of the demo round (59 utilities, JSON) and solve jobs of 40 x 12 rounds (optimal), each followed to its "
           "end and its solution re-verified. Latencies in milliseconds (p50 / p90 / p99 / max).", "",
           "| date | validations | per s | latency ms | 5xx | jobs | submit latency ms | all ended s | jobs per s | "
           "done / failed / lost | verified | git |", "|---|---:|---:|---|---:|---:|---|---:|---:|---|---:|---|"]

    def lat(d: dict) -> str:
        return " / ".join(f"{d[k]:,.0f}" for k in ("p50", "p90", "p99", "max"))

    for r in records:
        v, j = r["validations"], r["jobs"]
        fives = v["5xx"] + j["submit_5xx"] + r["server_5xx_logged"]
        out.append(f"| {r['date'][:10]} | {v['requests']:,} | {v['per_second']:,.0f} | {lat(v['latency_ms'])} | "
                   f"{fives} | {j['submitted']} | {lat(j['submit_latency_ms'])} | {j['seconds_to_all_ended']:,.0f} | "
                   f"{j['jobs_per_second']:.2f} | {j['done']} / {j['failed']} / {j['lost']} | {j['verified']} | "
                   f"{r['git']} |")
    notes = [f"- {r['date'][:10]}: {r['note']}." for r in records if r.get("note")]
    return out + ([""] + notes if notes else []) + [""]


def compare_section() -> list[str]:
    """Two versions on the same cases (compare.jsonl, benchmarks/compare.py): the latest run of each case."""
    latest: dict[tuple[str, str], dict] = {}
    for rec in _read("compare.jsonl"):
        latest[(rec["before_git"], rec["case"])] = rec
    if not latest:
        return []
    out = ["## Before and after a change", "",
           "`python benchmarks/compare.py --before REV CASE...`: each case solved by both versions, alternately, in "
           "fresh child processes; the least solve time of each. A case is `mentees,mentors,donors,seed,policy,"
           "method[,options]`.", ""]
    for before in sorted({b for b, _ in latest}):
        rows = [r for (b, _), r in latest.items() if b == before]
        first = rows[0]
        out += [f"Before: {before}. {_machine_line(first)}", "",
                "| case | after | reps | objectives | solve before s | solve after s | after / before "
                "| peak before MiB | peak after MiB | method after |",
                "|---|---|---:|---|---:|---:|---:|---:|---:|---|"]
        for r in rows:
            b, a = r["before"], r["after"]
            ratio = f"{a['solve'] / b['solve']:.3f}" if a["solve"] and b["solve"] else "-"
            same = "same" if r["same_objective"] else "differ"
            out.append(f"| {r['case']} | {r['after_git']} | {r['reps']} | {same} | {b['solve']} | {a['solve']} | "
                       f"{ratio} | {b['peak_mib']} | {a['peak_mib']} | {a['method']} |")
        out.append("")
    return out


def _threshold(rec: dict) -> str:
    """max-min's threshold (regional-equity's lowest rate): proven, or reached but not proven the highest."""
    stage = next((st for st in rec["stages"] if st["name"] in ("threshold", "lowest-rate")), None)
    return "-" if stage is None else ("proven" if stage["status"] == "optimal" else "open")


def donors_section() -> list[str]:
    """Default solves of donor rounds, stage by stage (donors.jsonl, benchmarks/donors.py): the latest of each."""
    latest: dict[tuple[str, str, str, object], dict] = {}
    for rec in _read("donors.jsonl"):
        latest[(rec["case"], rec.get("policy", "optimal"), rec["method_asked"], rec["time_limit"])] = rec
    if not latest:
        return []
    first = next(iter(latest.values()))
    out = ["## Donor rounds, stage by stage", "",
           "`python benchmarks/donors.py [--policy P] [--together] CASE...`: one solve per case "
           "(`mentees,mentors,donors,seed`, "
           "generator budgets) in a fresh process; each stage's gap to its certified bound (quality and cost: among "
           "the assignments of the coverage, and quality, reached). `--together` runs two at once on the 2 cores "
           "and compares their partnerships; `--flow-baseline` also solves the round without its donors (one "
           f"budget-free flow) and gives the ratio of the wall times. {_machine_line(first)}", "",
           "| case | policy | method asked | time limit | status | solve s | coverage gap | threshold | quality gap "
           "| cost gap | peak MiB | two at once | x flow | method |",
           "|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---|"]

    def gap(rec: dict, name: str) -> str:
        stage = next((st for st in rec["stages"] if st["name"] == name), None)
        if stage is None:
            return "-"
        return "proven" if stage["status"] == "optimal" else _pct(stage["gap"])

    for (case, policy, method, limit), r in latest.items():
        together = r.get("together")
        both = "-" if together is None else (("identical" if together["identical"] else "DIFFER") +
                                             f" ({', '.join(str(x) for x in together['solve'])} s)")
        out.append(f"| {case} | {policy} | {method} | {limit or '-'} | {r['status']} | {r['solve']} | "
                   f"{gap(r, 'coverage')} | {_threshold(r)} | {gap(r, 'quality')} | {gap(r, 'cost')} | "
                   f"{r['peak_mib']} | {both} | "
                   f"{r['flow_baseline']['ratio'] if r.get('flow_baseline') else '-'} | {r['method']} |")
    return out + [""] + donors_before_after()


#: The last commit of the engine issue 29 replaced (solver/budgets/): its records in donors.jsonl are the
#: "before" of the before/after table, run on the same machine and day as the first "after".
ENGINE_BEFORE = "91ef7fb"
#: Its stage values were in integer units (coverage in millionths of a weight, quality in 1e-9 of weight x
#: score); every later record's are natural units, as the solution reports them.
BEFORE_UNITS = {"coverage": 1e-6, "quality": 1e-9}
#: The day the redesigned engine was first measured: "after" records are later records of other commits.
ENGINE_AFTER_SINCE = "2026-12-07"


def donors_before_after() -> list[str]:
    """Each donor round run both by the engine before issue 29 and since (donors.jsonl, default options):
    the before's and the latest record side by side, and which answers better, stage by stage in the
    policy's order (coverage, quality, thresholds maximised; cost minimised)."""
    before: dict[tuple[str, str], dict] = {}
    after: dict[tuple[str, str], dict] = {}
    for rec in _read("donors.jsonl"):
        if rec["method_asked"] != "auto" or rec["time_limit"] is not None:
            continue
        key = (rec["case"], rec.get("policy", "optimal"))
        if rec.get("git") == ENGINE_BEFORE:
            before[key] = rec
        elif rec["date"] >= ENGINE_AFTER_SINCE:
            after[key] = rec
    keys = [k for k in before if k in after]
    if not keys:
        return []
    out = ["### Before and after the donor engine's redesign (issue 29)", "",
           f"Before: the engine at git {ENGINE_BEFORE} (`solver/budgets/`); after: the latest record. *answer*: the "
           "after's answer against the before's, compared stage by stage in the policy's order. Each cell: status, "
           "solve seconds, and each stage's gap (`ok` when proven).", "",
           "| case | policy | before | after | answer |", "|---|---|---|---|---|"]
    tally = {"better": 0, "same": 0, "worse": 0}
    for key in keys:
        b, a = before[key], after[key]
        verdict = compare_answers([{**st, "value": None if st["value"] is None else
                                    st["value"] * BEFORE_UNITS.get(st["name"], 1.0)} for st in b["stages"]],
                                  a["stages"])
        tally[verdict] += 1
        out.append(f"| {key[0]} | {key[1]} | {_brief(b)} | {_brief(a)} | "
                   f"{'**worse**' if verdict == 'worse' else verdict} |")
    out += ["", f"{len(keys)} rounds: {tally['better']} answer better, {tally['same']} the same, "
                f"{tally['worse']} worse.", "",
            "The 20 rounds of 200 x 60 x 5 and 300 x 70 x 3 (both profiles), per policy:", "",
            "| policy | engine | all stages proven | every gap within 0.5% | median s | max s |",
            "|---|---|---:|---:|---:|---:|"]
    for policy in dict.fromkeys(k[1] for k in keys):
        for label, recs in (("before", before), ("after", after)):
            rows = [recs[k] for k in keys if k[1] == policy and k[0].split(",")[0] in ("200", "300")]
            if not rows:
                continue
            seconds = sorted(r["solve"] for r in rows)
            gaps = [[st for st in r["stages"] if st["name"] in ("coverage", "quality", "cost")] for r in rows]
            proven = sum(all(st["status"] == "optimal" for st in g) for g in gaps)
            close = sum(all((st["gap"] or 0) <= 0.005 for st in g) for g in gaps)
            out.append(f"| {policy} | {label} | {proven} of {len(rows)} | {close} | "
                       f"{statistics.median(seconds):.1f} | {seconds[-1]:.1f} |")
    return out + [""]


def _brief(rec: dict) -> str:
    gaps = ", ".join(f"{st['name'][:3]} " + ("ok" if st["status"] == "optimal" else _pct(st["gap"]))
                     for st in rec["stages"] if st["name"] in ("coverage", "quality", "cost"))
    return f"{rec['status']}, {rec['solve']} s; {gaps}"


def compare_answers(before: list[dict], after: list[dict]) -> str:
    """better / same / worse: the first stage (in the policy's order) whose values differ by more than
    1e-9 relative decides; cost is minimised, every other stage maximised."""
    values = {st["name"]: st["value"] for st in before}
    for st in after:
        old, new = values.get(st["name"]), st["value"]
        if old is None or new is None or abs(new - old) <= 1e-9 * max(abs(old), 1.0):
            continue
        return "better" if (new < old) == (st["name"] == "cost") else "worse"
    return "same"


def whatif_section() -> list[str]:
    """The donors' what-if tools against one solve (whatif.jsonl, benchmarks/whatif.py): the latest of each case."""
    latest: dict[str, dict] = {}
    for rec in _read("whatif.jsonl"):
        latest[rec["case"]] = rec
    if not latest:
        return []
    out = ["## What-if tools against one solve", "",
           "`python benchmarks/whatif.py`: each tool and one `wopmatch solve` of its round run back to back from "
           "the command line (start-up included), three times each; the ratio is of the medians.", "",
           "| case | one solve, s | the tool, s | ratio | target | met | re-solves | git | date |",
           "|---|---|---|---:|---|---|---:|---|---|"]
    for rec in latest.values():
        out.append(f"| {rec['case']} | {', '.join(f'{x:g}' for x in rec['solve_seconds'])} | "
                   f"{', '.join(f'{x:g}' for x in rec['tool_seconds'])} | {rec['ratio']:g} | {rec['target']} | "
                   f"{'yes' if rec['met'] else '**no**'} | {rec.get('resolves', '-')} | {rec['git']} | "
                   f"{rec['date'][:10]} |")
    out += ["", _run_line(next(iter(latest.values()))) + ".", ""]
    return out


def _run_line(rec: dict) -> str:
    """Machine and versions of a record written with wopmatch.bench.runner.provenance."""
    m, v = rec["machine"], rec["versions"]
    return (f"Machine: {m['platform']}, {m['cpus']} CPUs, {m['memory']}; Python {m['python']}, "
            f"OR-Tools {v['ortools']}, numpy {v['numpy']}")


def timelimit_section() -> list[str]:
    """Time limits honoured, or said to be ignored (timelimit.jsonl, benchmarks/timelimit.py): the latest run."""
    recs = _read("timelimit.jsonl")
    if not recs:
        return []
    latest: dict[tuple, dict] = {}
    for rec in recs:
        latest[(rec["case"], rec["policy"], rec["method"].split(" ")[0], rec["limit"])] = rec
    out = ["## Time limits", "",
           "`python benchmarks/timelimit.py`: `wopmatch solve --time-limit L` per policy. *step* is what the limit "
           "covers (build + solve, docs/format.md \"Time limits\"); *honoured*: step <= L + grace (2 s, or L/10 if "
           "more); otherwise the solution's message must say the limit was passed (*said*).", "",
           "| round | policy | method | limit s | step s | wall s | status | coverage gap | honoured | said |",
           "|---|---|---|---:|---:|---:|---|---:|---|---|"]
    for r in latest.values():
        out.append(f"| {r['case']} | {r['policy']} | {r['method'][:48]} | {r['limit']:g} | {r['step_seconds']:g} | "
                   f"{r['wall_seconds']:g} | {r['status']} | {_pct((r.get('gap') or {}).get('coverage'))} | "
                   f"{'yes' if r['honoured'] else 'no'} | {'yes' if r['said'] else '-'} |")
    bad = [r for r in latest.values() if not (r["honoured"] or r["said"])]
    first = next(iter(latest.values()))
    out += ["", f"{len(latest) - len(bad)} of {len(latest)} runs honour their limit or say they passed it. "
                f"git {first['git']}, {first['date'][:10]}. {_run_line(first)}.", ""]
    return out


def fuzz_section() -> list[str]:
    """Broken inputs through every reader (fuzz.jsonl, benchmarks/fuzz.py): the latest run."""
    recs = _read("fuzz.jsonl")
    if not recs:
        return []
    r = recs[-1]
    readers = ", ".join(f"{k} {v}" for k, v in r["by_reader"].items())
    return ["## Broken inputs", "",
            "`python benchmarks/fuzz.py`: the suite's seeded mutator (tests/fuzzkit.py) with its own seed, each "
            "input through `wopmatch validate` and `solve`/`scenarios` over an existing output, and through the "
            "service's validate routes.", "",
            "| inputs | by reader | refused (exit 1) | infeasible (written, exit 1) | valid | tracebacks | "
            "other exit codes | changed outputs | service requests | 5xx | seconds |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| {r['inputs']} | {readers} | {r['refused']} | {r.get('infeasible', '-')} | {r['valid']} | "
            f"{r['tracebacks']} | {r['bad_exit']} | "
            f"{r['changed_outputs']} | {r['service_requests']} | {r['service_5xx']} | {r['seconds']} |", "",
            f"git {r['git']}, {r['date'][:10]}.", ""]


def python_api_section() -> list[str]:
    """The Python API against the command line (python_api.jsonl, benchmarks/python_api.py): the latest run."""
    recs = _read("python_api.jsonl")
    if not recs:
        return []
    r = recs[-1]
    return ["## The Python API against the command line", "",
            "`python benchmarks/python_api.py`: `wm.compare` of every policy in one process against the seven "
            "`wopmatch solve` commands, back to back, three times each; the ratio is of the medians.", "",
            "| case | Python, s | command line, s | ratio | target | met | git | date |",
            "|---|---|---|---:|---|---|---|---|",
            f"| {r['case']} | {', '.join(f'{x:g}' for x in r['python_seconds'])} | "
            f"{', '.join(f'{x:g}' for x in r['cli_seconds'])} | {r['ratio']:g} | {r['target']} | "
            f"{'yes' if r['met'] else '**no**'} | {r['git']} | {r['date'][:10]} |", ""]


def write() -> None:
    out = ["# Benchmark results", "", "Regenerated by `benchmarks/run.py` and `benchmarks/peers.py` from",
           "`results.jsonl` and `peers.jsonl` (the latest run of each case).", "",
           "Every generated round here up to git 71e08ef was drawn by the wopmatch 0.1 generator (one to three needs",
           "per mentee, one fixed duration); `wopmatch generate --needs legacy` re-creates those rounds byte for byte,",
           "and `benchmarks/donors.py` uses them unless given `--needs priorities` (docs/generator.md). A record",
           "whose case ends in `(priorities)` was drawn with the current profile.", ""]
    out += own_section() + [""] + peers_section()
    out += ["Which solver each of the donor engine's moves runs, and why: docs/model.md, \"With donors\".", ""]
    out += policies_section()
    out += scale_section()
    out += kernels_section()
    out += scenarios_section()
    out += service_section()
    out += donors_section()
    out += whatif_section()
    out += interests_section()
    out += monitor_section()
    out += timelimit_section()
    out += fuzz_section()
    out += python_api_section()
    out += compare_section()
    (HERE / "RESULTS.md").write_text("\n".join(out) + "\n")
    plot(HERE / "peers.png")
