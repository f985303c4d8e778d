"""``wopmatch scenarios``: read the set (or an instance and a grid), check every
scenario, run the sweep with a progress bar, write the table and plots."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Optional

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..models import LoadedInstance, Solution, load_instance
from ..models.io import decode_json, read_bytes, write_atomic
from ..models.problems import InputError, Problem
from ..reports.numbers import amount, percent
from ..models.scenarios import (
    SCENARIOS_FORMAT,
    ScenarioSet,
    budget_grid,
    grid_scenarios,
    parse_scenario_set,
    read_scenario_set,
)
from .report import plots, rows_csv, rows_markdown, scenario_rows
from .runner import Outcome, Task, build_tasks, run_sweep
from .sensitivity import Sensitivity, analyse


def json_of(path: Path) -> Any:
    """The decoded JSON of a ``.json`` file (InputError when it cannot be read), else None:
    read once, whether it turns out to be a scenario set or an instance."""
    if path.suffix.lower() == ".json" and path.is_file():
        return decode_json(read_bytes(path), str(path))
    return None


def is_scenario_set(path: Path, raw: Any = None) -> bool:
    """A .yaml/.yml file, or JSON (``raw``, the file's decoded JSON) whose object names the
    scenario set format or has ``scenarios``."""
    if path.suffix.lower() in (".yaml", ".yml"):
        return True
    return isinstance(raw, dict) and (raw.get("format") == SCENARIOS_FORMAT or "scenarios" in raw)


def load_set(path: Path, raw: Any = None) -> tuple[ScenarioSet, Path]:
    """The set and its base instance's path (``raw``: the file's decoded JSON, when read
    already). A path that is not a scenario set (an instance: .json, .xlsx, a CSV folder)
    is the base of an empty set."""
    if path.suffix.lower() in (".yaml", ".yml"):
        sset = read_scenario_set(path)
        return sset, (path.parent / sset.base)
    raw = json_of(path) if raw is None else raw
    if is_scenario_set(path, raw):
        sset = parse_scenario_set(raw, str(path))
        return sset, (path.parent / sset.base)
    return ScenarioSet(base=str(path)), path


def prepare_sweep(set_path: Path, budget_scale: Optional[str] = None, donors: Optional[list[str]] = None,
                  policy: Optional[str] = None, method: Optional[str] = None, node_limit: Optional[int] = None,
                  raw: Any = None) -> tuple[ScenarioSet, Path, LoadedInstance, list[Task]]:
    """The set (with its grid), its base instance and every scenario's task, all checked:
    InputError with every problem before anything runs. ``raw``: the set's decoded JSON,
    when read already."""
    sset, base_path = load_set(set_path, raw)
    if budget_scale is not None:
        grid = grid_scenarios(budget_grid(budget_scale), donors or None)
        taken = {s.name for s in sset.scenarios}
        clash = [g.name for g in grid if g.name in taken]
        if clash:
            raise InputError([Problem("--budget-scale", f"grid scenario {clash[0]!r} has the name of one in the set")],
                             str(set_path))
        sset = sset.model_copy(update={"scenarios": [*sset.scenarios, *grid]})
    try:
        base = load_instance(base_path)
    except InputError as exc:
        raise InputError(exc.problems, f"base instance {exc.source or base_path}") from None
    if budget_scale is not None and not base.instance.donors:
        raise InputError([Problem("--budget-scale", "scales the donors' budgets, and this round has no donors: every "
                                                    "row would be the same answer. Add donors to the round "
                                                    "(docs/format.md, \"Donor\") or sweep other changes")],
                         str(base_path))
    try:
        tasks = build_tasks(sset, base.instance, method=method, node_limit=node_limit, policy=policy)
    except InputError as exc:
        raise InputError(exc.problems, exc.source or str(set_path)) from None
    return sset, base_path, base, tasks


def run_scenarios_command(set_path: Path, output: Path, budget_scale: Optional[str], donors: list[str],
                          policy: Optional[str], method: Optional[str], node_limit: Optional[int], workers: int,
                          dask: Optional[str], quiet: bool, out: Console, err: Console) -> int:
    sset, base_path, base, tasks = prepare_sweep(set_path, budget_scale, donors, policy, method, node_limit)

    progress = Progress(TextColumn("scenarios"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TextColumn("{task.description}"), console=err, disable=quiet, transient=False)
    with progress:
        bar = progress.add_task("", total=len(tasks))

        def on_done(o: Outcome) -> None:
            progress.update(bar, advance=1, description=f"{o.name}" + (" [red]failed[/]" if o.error else ""))

        result = run_sweep(tasks, output, workers, dask, on_done)

    rows = scenario_rows(tasks, result.outcomes, sset.scenarios)
    failed = [r for r in rows if r["status"] == "error"]
    title = sset.name or f"Scenarios of {base.instance.name or base_path.name}"
    notes = [f"Base instance: {base_path.name} (sha256 {base.sha256[:12]}); {len(tasks)} scenarios; "
             f"{result.executor}; {result.seconds:.1f} s" + (f"; {result.retried} re-run after a worker died"
                                                               if result.retried else "") + ".",
             "Each scenario's instance and solution are in instances/ and solutions/: "
             "`wopmatch verify instances/NAME.json solutions/NAME.json` re-checks one."]
    write_atomic(output / "scenarios.csv", rows_csv(rows))
    write_atomic(output / "scenarios.md", rows_markdown(rows, title, notes))
    write_atomic(output / "set.json", (sset.model_dump_json(indent=2, exclude_unset=True) + "\n").encode())
    try:
        pngs = plots(rows, output)
    except ImportError:
        pngs = []
        err.print("note: matplotlib is not installed (pip install 'wopmatch[plots]'): no plots")
    if not quiet:
        _print_table(out, rows)
    out.print(f"{len(tasks) - len(failed)} of {len(tasks)} scenarios solved in {result.seconds:.1f} s "
              f"({result.executor})")
    out.print(f"wrote {output}/: scenarios.csv, scenarios.md" + "".join(f", {p.name}" for p in pngs))
    for r in failed:
        err.print(f"[bold red]failed[/]: {r['scenario']}: {r.get('error', '')}", markup=True)
    return 1 if failed else 0


def _print_table(out: Console, rows: list[dict[str, Any]]) -> None:
    """The sweep's table, fitted to the terminal: the most common policy goes in the title
    (another one follows its scenario's name), and below 100 columns the total budget (in
    scenarios.csv) is left out and the frame is lighter."""
    main = Counter(r["policy"] for r in rows).most_common(1)[0][0] if rows else ""
    cells = {
        "scenario": lambda r: r["scenario"] + ("" if r["policy"] == main else f" ({r['policy']})"),
        "status": lambda r: r["status"], "matched": lambda r: amount(r.get("matched")),
        "coverage": lambda r: amount(r.get("coverage")),
        "quality": lambda r: "-" if r.get("quality") is None else f"{r['quality']:.3f}",
        "cost": lambda r: amount(r.get("cost")), "total budget": lambda r: amount(r.get("total_budget")),
        "used": lambda r: percent(r.get("budget_used")), "gap": lambda r: percent(r.get("gap_coverage")),
    }
    narrow = out.width < 100
    # every answer proven: the status and gap columns would say so on each row; the title says it once
    proven = all(r.get("status") == "optimal" and not r.get("gap_coverage") for r in rows)
    shown = [c for c in cells if not (c == "total budget" and narrow) and not (proven and c in ("status", "gap"))]
    t = Table(title=f"scenarios (policy {main}" + ("; every answer proven optimal)" if proven else ")"),
              box=box.SIMPLE_HEAD if narrow else box.HEAVY_HEAD, pad_edge=not narrow, collapse_padding=narrow,
              show_edge=not narrow)
    for c in shown:
        t.add_column(c, justify="left" if c in ("scenario", "status") else "right", overflow="fold",
                     no_wrap=c != "scenario", min_width=14 if c == "scenario" else None)
    for r in rows:
        t.add_row(*(cells[c](r) for c in shown))
    out.print(t)


def run_sensitivity_command(loaded: LoadedInstance, solution: Solution, node_limit: Optional[int],
                            max_resolves: int, workers: int, dask: Optional[str], keep: Optional[Path], quiet: bool,
                            out: Console, err: Console) -> Sensitivity:
    from ..models.io import scratch_folder

    progress = Progress(TextColumn("re-solves"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=err, disable=quiet, transient=False)
    with progress, scratch_folder("wopmatch-sensitivity-") as tmp:
        bar = progress.add_task("", total=None)

        def on_done(o: Outcome) -> None:
            progress.update(bar, advance=1)

        result = analyse(loaded.instance, loaded.sha256, solution, workers, dask, keep or Path(tmp),
                         node_limit=node_limit, max_resolves=max_resolves, on_done=on_done,
                         on_start=lambda n: progress.update(bar, total=n))
    if not quiet:
        _print_sensitivity(out, result, loaded.instance.currency)
    base = "the solution's proven optimum" if result.base_from == "solution" else "a re-solve of the unchanged round"
    out.print(f"{result.resolves} re-solves in {result.seconds:.1f} s ({result.method}); gains are against {base}")
    return result


def per_money(step: int) -> int:
    """The amount a donor's gain is told per: the largest power of ten not above the
    step (29,998 -> 10,000), so the figure reads as a small number of mentees."""
    unit = 1
    while unit * 10 <= step:
        unit *= 10
    return unit


def _print_sensitivity(out: Console, s: Sensitivity, currency: str = "USD") -> None:
    def gains(x) -> tuple[str, str, str]:
        if x is None:
            return "-", "-", "-"
        return f"{x.coverage:+g}", f"{x.quality:+.3f}", f"{x.cost:+,}"

    t = Table(title="one more place at a full mentor: the gain, re-solved")
    for c in ("mentor", "load / capacity", "coverage", "quality", "cost"):
        t.add_column(c, justify="left" if c == "mentor" else "right")
    for m in s.mentors:
        if m.delta is not None:
            t.add_row(m.mentor, f"{m.load} / {m.capacity}", *gains(m.delta))
    if t.row_count:
        out.print(t)
    if s.donors:
        step = s.donors[0].step
        unit = per_money(step)
        t = Table(title=f"{step:,} {currency} more per donor (a median partnership): the gain, re-solved")
        for c in ("donor", "spent / budget", "coverage", "quality", "cost", f"coverage per {unit:,} {currency}"):
            t.add_column(c, justify="left" if c == "donor" else "right", no_wrap=c in ("donor", "spent / budget"))
        for v in s.donors:
            t.add_row(v.donor, f"{v.committed:,} / {v.budget:,}", *gains(v.delta),
                      "-" if v.coverage_per_unit is None else f"{v.coverage_per_unit * unit:.2g}")
        out.print(t)
    t = Table(title="what would it take to match each unmatched mentee (re-solved)")
    for c in ("mentee", "reason", "cheapest change that gets it matched", "matched with", "tried"):
        # the change's sentence takes the width a narrow terminal has; ids and counts stay whole
        t.add_column(c, no_wrap=c in ("mentee", "matched with", "tried"), overflow="fold")
    for n in s.mentees:
        best = n.proposals[n.cheapest] if n.cheapest is not None else \
            n.pairs[n.cheapest_pair] if n.cheapest_pair is not None else None
        tried = sum(p.matched is not None for p in n.proposals) + len(n.pairs)
        t.add_row(n.mentee, n.reason, best.text if best else n.verdict, best.partner if best else "-", str(tried))
    out.print(t)
