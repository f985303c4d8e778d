"""The ``wopmatch`` command line (docs/format.md §6).

Exit codes: 0 done, 1 bad input, infeasible instance or failed verification,
2 usage. Files are written atomically and only once everything succeeded.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import sys
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Iterator, NoReturn, Optional

import click
from rich.console import Console
from rich.table import Table

from ..api import agreed_round
from ..api import generate as generate_round
from ..api import solve as solve_round
from ..api import write as write_round
from ..models import (
    InputError,
    Instance,
    LoadedInstance,
    Solution,
    instance_warnings,
    load_instance,
    load_solution,
    parse_instance,
    solution_bytes,
    write_atomic,
)
from ..models.diff import diff_solutions
from ..models.status import next_status, status_bytes
from ..models.io import OutputKind, instance_files, output_kind, write_folder_atomic
from ..models.tables import TableWriteError
from ..reports.results import results_csv_files, results_workbook_bytes
from ..solver import PreviousRound, SolveError, Worker, rebuild_round, verify_solution
from .diffview import print_diff, print_proposal
from .options import options_from, solve_options
from .summary import print_summary, print_warnings

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(exc: InputError) -> NoReturn:
    err.print(f"[bold red]error[/]: {exc.source or 'input'}: {len(exc.problems)} problem(s)")
    for p in exc.problems:
        err.print(f"  {p}", markup=False)
    sys.exit(1)


def _check_output(path: Path, *inputs: Path, folder_ok: bool = False) -> None:
    """Exit 1 before any work if ``path`` cannot be written: it is an input, its
    folder is missing, or it is a folder where a file is wanted."""
    for src in inputs:
        if path.exists() and src.exists() and path.resolve() == src.resolve():
            err.print(f"[bold red]error[/]: output {path} is the input; choose another name")
            sys.exit(1)
        if folder_ok and src.exists() and src.resolve().parent == path.resolve():
            err.print(f"[bold red]error[/]: output folder {path} holds the input; choose another folder")
            sys.exit(1)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        err.print(f"[bold red]error[/]: output folder {parent} does not exist", markup=True)
        sys.exit(1)
    if path.is_dir() and not folder_ok:
        err.print(f"[bold red]error[/]: output {path} is a folder")
        sys.exit(1)
    if folder_ok and path.exists() and not path.is_dir():
        err.print(f"[bold red]error[/]: output {path} is a file; a folder of CSV files was asked for")
        sys.exit(1)


def _output_kind(path: Path, what: str) -> OutputKind:
    kind = output_kind(path)
    if kind is None:
        err.print(f"[bold red]error[/]: cannot write {what} as {path.suffix!r}; use .json, .xlsx, "
                  "or a folder (a name without a suffix) for CSV files")
        sys.exit(1)
    return kind


#: Commands that keep the main thread: the service stops on Ctrl-C itself (uvicorn's graceful shutdown).
MAIN_THREAD = ("serve",)
#: Exit status of a command stopped by Ctrl-C (128 + SIGINT, as a shell reports it).
INTERRUPTED = 130


#: `wopmatch --help`: the commands by task, in the order a person meets them, each in one sentence.
COMMAND_GROUPS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("A round, from the call to monitoring", (
        ("template", "An empty round to fill in, or (--progress) a solution's progress workbook."),
        ("validate", "Every problem of a round, by sheet, row and column."),
        ("solve", "Match the round: the solution, the result sheets and a summary."),
        ("verify", "Re-check a solution against its round, independently."),
        ("report", "One self-contained HTML report of a solution."),
        ("plans", "A draft work plan per partnership."),
        ("propose", "What if two utilities were partners?"),
        ("monitor", "Each partnership on track, at risk or off track, from its progress."),
        ("diff", "What changed from one solution to another."),
        ("convert", "A round as JSON, a workbook or a folder of CSV files."),
    )),
    ("Donors' questions", (
        ("scenarios", "Solve a scenario set or a budget grid: a table, plots and every solution."),
        ("sensitivity", "What one more place or budget would buy, and what each unmatched mentee needs."),
    )),
    ("Research", (
        ("generate", "A realistic synthetic round."),
        ("bench", "Policy studies: run a config of cells, then report them."),
    )),
    ("Service and reference", (
        ("serve", "The HTTP API and web page for facilitators' tools."),
        ("docs", "The documentation installed with wopmatch."),
        ("schema", "The JSON Schema of a file format."),
    )),
)


class _Commands(click.Group):
    """The commands, with what the system refuses about a path (a name too long, no
    permission, a full disk) said in one line, exit 1, rather than a traceback. Output files
    are written to a temporary name and renamed, so a refused write leaves nothing half-done.

    A command runs in a worker thread while the main thread waits for it, so that Ctrl-C
    (which Python sees only in the main thread, and only between two of its own steps, never
    inside HiGHS, CP-SAT or a compiled kernel) stops it at once: see :func:`_interruptible`."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands by task (COMMAND_GROUPS); any it does not list, under "Other"."""
        listed = {name for _, rows in COMMAND_GROUPS for name, _ in rows}
        other = tuple((name, (self.get_command(ctx, name).get_short_help_str(200) or ""))
                      for name in self.list_commands(ctx) if name not in listed)
        for title, rows in COMMAND_GROUPS + ((("Other", other),) if other else ()):
            with formatter.section(title):
                formatter.write_dl(list(rows))

    def invoke(self, ctx: click.Context):
        name = (getattr(ctx, "_protected_args", None) or [None])[0]
        if name in MAIN_THREAD:
            return self._invoke(ctx)
        return _interruptible(lambda: self._invoke(ctx))

    def _invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except OSError as exc:
            if exc.errno == errno.EPIPE:  # the reader went away: click's own handling
                raise
            name = str(exc.filename) if exc.filename else ""
            where = (name if len(name) <= 80 else name[:60] + "..." + name[-17:]) + ": " if name else ""
            err.print(f"[bold red]error[/]: {where}{exc.strerror or exc}", markup=True, highlight=False)
            sys.exit(1)


# A sweep's pool leaves semaphores that multiprocessing's resource tracker (a child process) removes
# when this process ends; after Ctrl-C it would also warn of them on the terminal. It inherits these
# warning options when it starts.
sys.warnoptions.append("ignore::UserWarning:multiprocessing.resource_tracker")


def _interruptible(call):
    """Run ``call`` in a worker thread and wait for it. Ctrl-C stops the process within a moment:
    the temporary file of a write under way is removed (outputs are renamed into place only
    once whole, so none is half-written), one line says what was written, and the process ends
    with status 130 at once, its worker thread and native solvers with it. Child processes
    (sweep workers, study cells, service jobs) end with their parent (solver/children.py)."""
    from ..models import io as files

    started = time.monotonic()
    worker = Worker(call)
    try:
        return worker.wait()
    except KeyboardInterrupt:
        for tmp in list(files.WRITING):
            if Path(tmp).is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                Path(tmp).unlink(missing_ok=True)
        wrote = ", ".join(files.WRITTEN[:3]) + (f" and {len(files.WRITTEN) - 3} more" if len(files.WRITTEN) > 3 else "")
        err.print(f"\ninterrupted after {time.monotonic() - started:.1f} s: "
                  + (f"stopped after writing {wrote}" if wrote else "stopped, nothing written"), highlight=False)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(INTERRUPTED)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="wopmatch")
def cli() -> None:
    """Match water and sanitation utilities into Water Operators' Partnerships.

    The documents these helps name (docs/format.md, ...) come with wopmatch: read them
    with `wopmatch docs TOPIC`."""


@cli.command()
@click.argument("instance", type=click.Path(path_type=Path))
def validate(instance: Path) -> None:
    """List every problem of INSTANCE (or of a scenario set: itself, its base and every
    scenario's changes); exit 1 if there is any."""
    from ..scenarios.cli import is_scenario_set, json_of, prepare_sweep

    try:
        raw = json_of(instance)  # a JSON file is read once, set or instance
        if is_scenario_set(instance, raw):
            sset, base_path, base, tasks = prepare_sweep(instance, raw=raw)
            out.print(f"{instance}: valid scenario set: {len(tasks)} scenario(s) on {base_path.name} "
                      f"({len(base.instance.operators)} operators, {len(base.instance.donors)} donors)")
            return
        inst = load_instance(instance).instance if raw is None else parse_instance(raw, str(instance))
    except InputError as exc:
        _fail(exc)
    n_mentees = sum(op.mentee is not None for op in inst.operators)
    n_mentors = sum(op.mentor is not None for op in inst.operators)
    both = sum(op.mentee is not None and op.mentor is not None for op in inst.operators)
    roles = f"{n_mentees} mentees, {n_mentors} mentors" + (
        f"; {both} {'is' if both == 1 else 'are'} both" if both else "")
    stated = [it["level"] for op in inst.operators for it in op.interests]
    interests = f", {len(stated)} interests stated ({stated.count(-1)} vetoes)" if stated else ""
    out.print(f"{instance}: valid: {len(inst.operators)} operators ({roles}), "
              f"{len(inst.donors)} donors, {len(inst.pinned)} pinned, {len(inst.forbidden)} forbidden{interests}")
    print_warnings(out, [w.message for w in instance_warnings(inst)])


@cli.command()
@click.argument("instance", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Solution to write: FILE.json; FILE.xlsx (result sheets, and FILE.json beside it); "
                   "or a folder (result CSV files and solution.json). Without it the summary is printed "
                   "and nothing is written.")
@solve_options()
@click.option("--previous", type=click.Path(path_type=Path), default=None,
              help="Solution of an earlier round whose partnerships are still running (docs/rounds.md); "
                   "--ended, --forbid-repeat and --keep-stable need it.")
@click.option("--status", "status_path", type=click.Path(path_type=Path), default=None,
              help="The round's agreement status (.json, .csv or .xlsx; docs/rounds.md): accepted and active "
                   "partnerships are kept, declined ones never proposed again, the rest re-matched with as few "
                   "changes as possible; then written back with the new proposals. A file that does not exist "
                   "yet is created with every partnership proposed. Needs -o.")
@click.option("--quiet", is_flag=True, help="No progress lines and no summary table.")
@click.option("--verbose", is_flag=True, help="Log every progress line (each pricing round, each donor "
                                               "stage's step) to stderr with its time.")
def solve(instance: Path, output: Optional[Path], previous: Optional[Path], status_path: Optional[Path], quiet: bool,
          verbose: bool, **chosen) -> None:
    """Solve INSTANCE (.json, .xlsx or a folder of CSV files), print a summary and write the
    verified solution to OUTPUT (with -o)."""
    options = options_from(chosen)
    kind = None if output is None else _output_kind(output, "a solution")
    if previous is None and options.round_options():
        raise click.UsageError("--ended, --forbid-repeat and --keep-stable need --previous")
    if status_path is not None and output is None:
        raise click.UsageError("--status needs -o: the status written back names the partnerships of the solution "
                               "written")
    inputs = (instance,) if previous is None else (instance, previous)
    if output is not None:
        _check_output(output, *inputs, folder_ok=kind == "csv")
    if output is not None and kind == "xlsx":
        _check_output(output.with_suffix(".json"), *inputs)
    if status_path is not None and output is not None:
        _check_output(status_path, *inputs, output, output.with_suffix(".json"))
    try:
        loaded = load_instance(instance)
        before = None if previous is None else PreviousRound(load_solution(previous), _sha256(previous))
        agreed = None if status_path is None else agreed_round(status_path)  # read once
        spinner = err.status("solving...", spinner="dots") if not quiet and err.is_terminal and not verbose \
            else None
        with spinner or nullcontext(), _logging_to_stderr(verbose), _progress_to_stderr(spinner, quiet or verbose):
            solution = solve_round(loaded.instance, solve_options=options, sha256=loaded.sha256, previous=before,
                                   agreement=agreed)
        solved, _ = rebuild_round(loaded.instance, solution, before)  # the instance as solved: pins carried
    except InputError as exc:
        _fail(exc)
    except SolveError as exc:
        err.print(f"[bold red]error[/]: {exc}", markup=True)
        sys.exit(1)
    if solution.verification is not None and not solution.verification.ok:
        err.print("[bold red]internal error[/]: the verifier rejected the solution; nothing was written")
        for v in solution.verification.violations:
            err.print(f"  {v}", markup=False)
        sys.exit(1)
    written = None if output is None or kind is None else _write_solution(output, kind, solved, solution)
    if status_path is not None and agreed is not None and solution.objective is not None:
        after, _, _ = next_status(agreed.status, solution)
        write_atomic(status_path, status_bytes(after, status_path.suffix.lower()))
        written = f"{written}; the agreement status to {status_path}"
    print_warnings(err, solution.warnings)  # even with --quiet: they may explain an idle budget
    if not quiet or written is None:
        print_summary(out, loaded.instance, solution)
        out.print(f"solution written to {written}" if written else "nothing written (add -o FILE to keep it)")
    if solution.status == "infeasible":
        err.print(f"[bold red]infeasible[/]: {solution.message}", markup=True)
        sys.exit(1)


def _checked(instance: Path, solution: Path, previous: Optional[Path],
             with_sha: bool) -> tuple[LoadedInstance, Solution, Instance, list[str]]:
    """Load both files (exit 1 on bad input), rebuild the round the solution was
    solved against, and run the verifier: (instance, solution, the instance as
    solved, violations). ``with_sha``: also require the solution to name these bytes."""
    try:
        loaded = load_instance(instance)
        sol = load_solution(solution)
        before = None if previous is None else PreviousRound(load_solution(previous), _sha256(previous))
        effective, round_problems = rebuild_round(loaded.instance, sol, before)
    except InputError as exc:
        _fail(exc)
    return loaded, sol, effective, round_problems + verify_solution(
        effective, sol, sha256=loaded.sha256 if with_sha else None)


def _refuse_invalid(violations: list[str], solution: Path, instance: Path, what: str, sol: Solution,
                    inst: Instance) -> None:
    """Exit 1 with every violation when the solution failed the verifier: nothing is written. A
    solution of another round (mentees the round does not have) is said to be one, in one line."""
    strangers = sorted({p.mentee for p in sol.partnerships} - {op.id for op in inst.operators})
    if violations and strangers:
        err.print(f"[bold red]error[/]: {solution} belongs to a different round: {len(strangers)} of its "
                  f"{len(sol.partnerships)} mentees ({', '.join(strangers[:3])}{', ...' if len(strangers) > 3 else ''})"
                  f" are not operators of {instance}; no {what} written (give the round it was solved from)")
        sys.exit(1)
    if violations:
        err.print(f"[bold red]{len(violations)} violation(s)[/]: {solution} is not a valid solution of {instance}; "
                  f"no {what} written")
        for v in violations:
            err.print(f"  {v}", markup=False)
        sys.exit(1)


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_solution(output: Path, kind: OutputKind, instance: Instance, solution: Solution) -> str:
    """Write every file of the solution (all bytes are made before the first write)."""
    data = solution_bytes(solution)
    if kind == "json":
        write_atomic(output, data)
        return str(output)
    if kind == "xlsx":
        book = results_workbook_bytes(instance, solution)
        json_path = output.with_suffix(".json")
        write_atomic(json_path, data)
        write_atomic(output, book)
        return f"{output} and {json_path}"
    files = {**results_csv_files(instance, solution), "solution.json": data}
    write_folder_atomic(output, files)
    return f"{output}/ ({', '.join(sorted(files))})"


@cli.command()
@click.argument("instance", type=click.Path(path_type=Path))
@click.argument("solution", type=click.Path(path_type=Path))
@click.option("--previous", type=click.Path(path_type=Path), default=None,
              help="The earlier round's solution, for a SOLUTION solved with --previous.")
def verify(instance: Path, solution: Path, previous: Optional[Path]) -> None:
    """Re-check SOLUTION against INSTANCE independently; exit 1 on any violation."""
    loaded, sol, _, violations = _checked(instance, solution, previous, with_sha=True)
    if violations:
        err.print(f"[bold red]{len(violations)} violation(s)[/]")
        for v in violations:
            err.print(f"  {v}", markup=False)
        sys.exit(1)
    out.print(f"{solution}: valid ({sol.status}, {len(sol.partnerships)} partnerships, "
              f"{len(sol.unmatched)} unmatched)")


@cli.command()
@click.argument("instance", type=click.Path(path_type=Path))
@click.argument("solution", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="report.html to write.")
@click.option("--previous", type=click.Path(path_type=Path), default=None,
              help="The earlier round's solution, for a SOLUTION solved with --previous.")
@click.option("--plans", "plans_dir", type=click.Path(path_type=Path), default=None,
              help="The folder `wopmatch plans` wrote: each partnership links to its work plan there.")
def report(instance: Path, solution: Path, output: Path, previous: Optional[Path], plans_dir: Optional[Path]) -> None:
    """Write one self-contained HTML report of SOLUTION for a steering committee."""
    from ..reports.html import render_report

    if output.suffix.lower() not in (".html", ".htm"):
        err.print(f"[bold red]error[/]: the report is an HTML file; name it {output.stem}.html")
        sys.exit(1)
    _check_output(output, instance, solution)
    loaded, sol, effective, violations = _checked(instance, solution, previous, with_sha=False)
    # a steering committee never sees an unchecked one
    _refuse_invalid(violations, solution, instance, "report", sol, loaded.instance)
    link = None
    if plans_dir is not None:
        if not (plans_dir / "index.html").is_file():
            err.print(f"[bold red]error[/]: {plans_dir} holds no work plans (write them with `wopmatch plans "
                      f"{instance} {solution} -o {plans_dir}`)")
            sys.exit(1)
        link = os.path.relpath(plans_dir.resolve(), output.resolve().parent).replace(os.sep, "/")
    html = render_report(effective, sol, violations, instance.name,
                         sha_matches=sol.instance.sha256 == loaded.sha256, plans=link)
    write_atomic(output, html.encode("utf-8"))
    out.print(f"{output}: report of {len(sol.partnerships)} partnerships and {len(sol.unmatched)} unmatched "
              f"mentees ({len(html) // 1024} KiB, no network needed)")


@cli.command()
@click.argument("instance", type=click.Path(path_type=Path))
@click.argument("solution", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Folder for index.html and one page per partnership.")
@click.option("--previous", type=click.Path(path_type=Path), default=None,
              help="The earlier round's solution, for a SOLUTION solved with --previous.")
def plans(instance: Path, solution: Path, output: Path, previous: Optional[Path]) -> None:
    """Write a draft work plan per partnership of SOLUTION: per issue an objective, activities and
    indicators with baselines and targets; visits and milestones; the budget by year and by
    partner; commitments and sign-off (two A4 pages each, and an index)."""
    from ..reports.plans import plan_files, stale_pages

    if output.exists() and not output.is_dir():
        err.print(f"[bold red]error[/]: output {output} is a file; give a folder")
        sys.exit(1)
    _check_output(output, instance, solution, folder_ok=True)
    loaded, sol, effective, violations = _checked(instance, solution, previous, with_sha=False)
    _refuse_invalid(violations, solution, instance, "plans", sol, loaded.instance)
    files = plan_files(effective, sol)
    stale = stale_pages(output, files)
    write_folder_atomic(output, files)
    for path in stale:  # an earlier run's page of a partnership this solution does not have
        path.unlink(missing_ok=True)
    out.print(f"{output}/: {len(files) - 1} work plan(s) and index.html"
              + (f"; removed {len(stale)} page(s) an earlier run wrote for partnerships not in this solution"
                 if stale else ""))


@cli.command()
@click.option("--mentees", type=click.IntRange(min=0), required=True,
              help="Utilities with a mentee profile (a few of them also mentor).")
@click.option("--mentors", type=click.IntRange(min=0), required=True, help="Utilities with a mentor profile.")
@click.option("--donors", type=click.IntRange(min=0), default=0, show_default=True,
              help="Donors with budgets and eligibility rules (0: a budget-free round).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Same parameters and seed, same bytes.")
@click.option("--tightness", type=click.FloatRange(min=0, min_open=True), default=0.4, show_default=True,
              help="Total donor budget as a share of what funding every mentee would cost.")
@click.option("--name", default=None, help="Name of the round.")
@click.option("--needs", type=click.Choice(["priorities", "legacy"]), default="priorities", show_default=True,
              help="priorities: 2-3 priority needs per mentee, lower levels elsewhere, durations from the issues "
                   "addressed; legacy: the rounds of wopmatch 0.1 (1-3 needs, one fixed duration), byte for byte.")
@click.option("--interests", type=click.IntRange(min=0), default=0, show_default=True,
              help="Interests each operator states in possible partners (first choice, interested, or will not "
                   "work with).")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="The instance to write: FILE.json, FILE.xlsx, or a folder (a name without a suffix) of CSV "
                   "files.")
def generate(mentees: int, mentors: int, donors: int, seed: int, tightness: float, name: Optional[str],
             needs: str, interests: int, output: Path) -> None:
    """Write a realistic synthetic instance (same parameters and seed -> same bytes)."""
    kind = _output_kind(output, "an instance")
    _check_output(output, folder_ok=kind == "csv")
    try:
        round_ = generate_round(mentees, mentors, donors=donors, seed=seed, tightness=tightness, name=name,
                                needs=needs, interests=interests)
        write_round(round_, output)
    except InputError as exc:
        _fail(exc)
    except TableWriteError as exc:
        err.print(f"[bold red]error[/]: {exc}", markup=False)
        sys.exit(1)
    out.print(f"{output}: {len(round_.operators)} operators, {len(round_.donors)} donors")


@cli.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="FILE.json, FILE.xlsx, or a folder (a name without a suffix) of CSV files.")
def convert(source: Path, output: Path) -> None:
    """Convert an instance between JSON, an .xlsx workbook and a folder of CSV files."""
    kind = _output_kind(output, "an instance")
    _check_output(output, source, folder_ok=kind == "csv")
    try:
        loaded = load_instance(source)
    except InputError as exc:
        _fail(exc)
    _write_instance(output, kind, loaded.instance)
    inst = loaded.instance
    out.print(f"{output}: {len(inst.operators)} operators, {len(inst.donors)} donors, {len(inst.pinned)} pinned, "
              f"{len(inst.forbidden)} forbidden")


@cli.command()
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="round.xlsx (with a notes sheet and data validation), or a folder of CSV files; with "
                   "--progress, progress.xlsx.")
@click.option("--progress", nargs=2, type=click.Path(path_type=Path), default=None, metavar="ROUND SOLUTION",
              help="Write the progress workbook of SOLUTION's partnerships instead (docs/monitoring.md).")
@click.option("--synthetic", type=click.IntRange(1, 120), default=None, metavar="MONTH",
              help="With --progress: fill it with synthetic progress up to MONTH (for trials and benchmarks).")
@click.option("--seed", type=int, default=0, show_default=True, help="With --synthetic: its seed.")
def template(output: Path, progress: Optional[tuple[Path, Path]], synthetic: Optional[int], seed: int) -> None:
    """Write an empty instance to fill in: headers, default settings, notes and data validation; or,
    with --progress, the workbook in which partners report progress on their work plans."""
    if progress is not None:
        _progress_template(output, *progress, synthetic, seed)
        return
    if synthetic is not None:
        err.print("[bold red]error[/]: --synthetic fills a progress workbook: give --progress ROUND SOLUTION too")
        sys.exit(1)
    kind = _output_kind(output, "a template")
    if kind == "json":
        err.print("[bold red]error[/]: a template is a workbook (.xlsx) or a folder of CSV files; "
                  "`wopmatch schema instance` describes the JSON format")
        sys.exit(1)
    _check_output(output, folder_ok=kind == "csv")
    from ..models.instance import Costs

    _write_instance(output, kind, Instance(costs=Costs(duration_rule="issues")))  # months from the issues
    out.print(f"{output}: empty round with the default settings, durations from the issues each pair addresses; "
              "see its notes sheet or docs/spreadsheets.md")


def _progress_template(output: Path, instance: Path, solution: Path, month: Optional[int], seed: int) -> None:
    from ..api import write_progress_template

    if output.suffix.lower() != ".xlsx":
        err.print(f"[bold red]error[/]: a progress workbook is written as .xlsx, got {output.name!r}")
        sys.exit(1)
    _check_output(output, instance, solution)
    loaded, sol, _, violations = _checked(instance, solution, None, with_sha=False)
    _refuse_invalid(violations, solution, instance, "progress workbook", sol, loaded.instance)
    try:
        write_progress_template(sol, output, instance=loaded.instance, month=month, seed=seed)
    except InputError as exc:
        _fail(exc)
    out.print(f"{output}: progress of {len(sol.partnerships)} partnership(s) by reporting period")
    out.print(f"  filled with synthetic progress up to month {month} (seed {seed})" if month else
              "  to fill in: activities done, money spent, indicator values, milestones")


@cli.command()
@click.argument("instance", type=click.Path(path_type=Path))
@click.argument("solution", type=click.Path(path_type=Path))
@click.argument("progress", type=click.Path(path_type=Path))
@click.option("-o", "--output", "outputs", type=click.Path(path_type=Path), multiple=True, required=True,
              help="report.html (for donors), figures.csv or figures.json; give -o more than once for several.")
def monitor(instance: Path, solution: Path, progress: Path, outputs: tuple[Path, ...]) -> None:
    """Grade every partnership of SOLUTION against its work plan from PROGRESS (the workbook of
    `wopmatch template --progress`, filled in): on track, at risk or off track, and why
    (docs/monitoring.md)."""
    from ..api import monitor as grade_progress
    from ..reports.monitor import STATUSES, WRITERS

    for output in outputs:
        if output.suffix.lower() not in WRITERS:
            err.print(f"[bold red]error[/]: cannot write monitoring as {output.name!r}; use "
                      f"{', '.join(WRITERS)}")
            sys.exit(1)
        _check_output(output, instance, solution, progress)
    loaded, sol, _, violations = _checked(instance, solution, None, with_sha=False)
    _refuse_invalid(violations, solution, instance, "monitoring", sol, loaded.instance)
    try:
        m = grade_progress(loaded.instance, sol, progress)
    except InputError as exc:
        _fail(exc)
    files = [(output, WRITERS[output.suffix.lower()](m)) for output in outputs]  # all made before the first write
    for output, data in files:
        write_atomic(output, data)
    counts = m.counts
    out.print(f"{len(m.partnerships)} partnership(s) at reporting period {m.period}: "
              + ", ".join(f"{counts[s]} {s}" for s in STATUSES))
    table = Table(show_edge=False, pad_edge=False)
    for title in ("donor", *STATUSES, "spent to date", "of planned"):
        table.add_column(title, justify="left" if title == "donor" else "right")
    for d in m.donors:
        table.add_row(d.name, *(str(d.counts[s]) for s in STATUSES), f"{d.spent:,}",
                      f"{d.spent / d.spend_planned:.0%}" if d.spend_planned else "-")
    out.print(table)
    out.print("wrote " + ", ".join(str(o) for o in outputs))


def _write_instance(output: Path, kind: OutputKind, instance: Instance) -> None:
    try:
        data = instance_files(instance, kind)
    except TableWriteError as exc:
        err.print("[bold red]error[/]: ", end="")
        err.print(f"cannot write {output} without loss: {exc}", markup=False)
        sys.exit(1)
    if isinstance(data, dict):
        write_folder_atomic(output, data)
    else:
        write_atomic(output, data)


@cli.group()
def bench() -> None:
    """Policy studies: run a config of cells, then report (docs/bench.md)."""


@bench.command("run")
@click.argument("config", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="JSON-lines results file: appended to; cells already in it are skipped.")
def bench_run(config: Path, output: Path) -> None:
    """Run every cell of CONFIG not yet in OUTPUT, each in its own process."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..bench.runner import cells, load_config, run_study

    try:
        cfg = load_config(config)
    except InputError as exc:
        _fail(exc)
    _check_output(output, config)
    total = len(cells(cfg))
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=False, disable=not err.is_terminal) as progress:
        task = progress.add_task(cfg.name, total=total)

        def on_cell(cell: dict, record: Optional[dict]) -> None:
            label = (f"{cell['mentees']}x{cell['mentors']} d{cell['donors']} {cell['policy']} seed {cell['seed']}")
            if record is None:
                progress.update(task, description=label)
                return
            progress.advance(task)
            outcome = record.get("status") or record.get("outcome")
            secs = record.get("seconds", {}).get("wall")
            out.print(f"{label}: {outcome} ({secs} s)", markup=False)

        result = run_study(cfg, output, on_cell)
        progress.update(task, completed=total)
    out.print(f"{output}: {result.total - result.skipped} cell(s) run, {result.skipped} already done")


@bench.command("report")
@click.argument("results", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Folder for report.md and the PNG plots.")
@click.option("--title", default="Policy study", show_default=True, help="Heading of report.md.")
def bench_report(results: Path, output: Path, title: str) -> None:
    """Turn a study's JSON lines into report.md and PNG plots (the plots need matplotlib:
    pip install 'wopmatch[plots]')."""
    from ..bench.report import load_records, markdown, plots, summarise

    if not results.exists():
        err.print(f"[bold red]error[/]: no such results file: {results}")
        sys.exit(1)
    records = load_records(results)
    if not records:
        err.print(f"[bold red]error[/]: {results} holds no study records")
        sys.exit(1)
    rows = summarise(records)
    output.mkdir(parents=True, exist_ok=True)
    write_atomic(output / "report.md", markdown(rows, records, title).encode("utf-8"))
    try:
        written = plots(rows, records, output)
    except ImportError:
        err.print("note: matplotlib is not installed (pip install 'wopmatch[plots]'): report.md only, no plots")
        written = []
    out.print(f"{output}/report.md" + "".join(f", {p.name}" for p in written))


@cli.command()
@click.argument("a", type=click.Path(path_type=Path))
@click.argument("b", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Also write the whole diff as JSON (format wopmatch.diff/1).")
@click.option("--rows", type=click.IntRange(min=0), default=20, show_default=True,
              help="Rows printed per list; the JSON has them all.")
def diff(a: Path, b: Path, output: Optional[Path], rows: int) -> None:
    """What changed from solution A to solution B: partnerships added, removed and
    changed, mentees newly matched or unmatched, and every figure that moved."""
    if output is not None:
        _check_output(output, a, b)
    try:
        sa, sb = load_solution(a), load_solution(b)
    except InputError as exc:
        _fail(exc)
    d = diff_solutions(sa, sb)
    print_diff(out, d, rows)
    if output is not None:
        write_atomic(output, (d.model_dump_json(indent=2) + "\n").encode("utf-8"))


@cli.command()
@click.argument("instance", type=click.Path(path_type=Path))
@click.argument("solution", type=click.Path(path_type=Path))
@click.argument("mentee")
@click.argument("mentor")
@click.option("--donor", default=None, help="The donor to fund it (default: each donor whose rules allow the pair is "
                                            "tried, and the best round kept).")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Also write the proposal as JSON (format wopmatch.proposal/1, with the whole diff).")
@click.option("--solved", type=click.Path(path_type=Path), default=None,
              help="Also write the re-solved round's solution (JSON) here.")
@click.option("--rows", type=click.IntRange(min=0), default=10, show_default=True,
              help="Rows printed per list of the diff; the JSON has them all.")
def propose(instance: Path, solution: Path, mentee: str, mentor: str, donor: Optional[str], output: Optional[Path],
            solved: Optional[Path], rows: int) -> None:
    """What if MENTEE and MENTOR were partners? Whether they may be, the pair's score, cost,
    months and issues, which donors could fund it, and SOLUTION's round re-solved with the
    pair pinned: what it displaces and what it costs in coverage and quality."""
    from ..api import propose as propose_pair

    for path in (output, solved):
        if path is not None:
            _check_output(path, instance, solution)
    try:
        with err.status("re-solving with the pair pinned...", spinner="dots") if err.is_terminal else nullcontext():
            p = propose_pair(instance, solution, mentee, mentor, donor=donor)
    except InputError as exc:
        _fail(exc)
    except SolveError as exc:
        err.print(f"[bold red]error[/]: {exc}", markup=True)
        sys.exit(1)
    print_proposal(out, p, rows)
    if output is not None:
        write_atomic(output, (p.model_dump_json(indent=2) + "\n").encode("utf-8"))
        out.print(f"proposal written to {output}")
    if solved is not None and p.solution is not None:
        write_atomic(solved, solution_bytes(p.solution))
        out.print(f"re-solved round written to {solved}")
    if p.outcome not in ("re_solved", "already_matched"):
        sys.exit(1)


@cli.command()
@click.argument("set_path", metavar="SET", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Folder for scenarios.csv/.md, the plots, and each scenario's instance and solution.")
@click.option("--budget-scale", metavar="START:STOP:STEP", default=None, callback=lambda ctx, param, v: _grid(v),
              help="Grid: one scenario per factor, budgets scaled by it (STOP included), e.g. 0.25:2.0:0.25.")
@click.option("--donor", "donors", multiple=True, metavar="ID",
              help="With --budget-scale: scale only this donor's budget (repeatable; default every donor).")
@solve_options(only=("policy", "method", "node_limit"), optional=True, help={
    "policy": "Every scenario's policy (default: the set's, else optimal).",
    "method": "How exact policies solve (default: the set's, else lagrangian for optimal with large donor rounds, "
              "else auto)."})
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Parallel solves, one thread each [default: the machine's CPUs].")
@click.option("--dask", metavar="ADDRESS|local", default=None,
              help="Run on a Dask cluster (a scheduler address, or 'local' for a LocalCluster); needs wopmatch[dask].")
@click.option("--quiet", is_flag=True, help="No progress bar or table.")
def scenarios(set_path: Path, output: Path, budget_scale: Optional[str], donors: tuple[str, ...],
              policy: Optional[str], method: Optional[str], node_limit: Optional[int], workers: Optional[int],
              dask: Optional[str], quiet: bool) -> None:
    """Solve every scenario of SET (a scenario set .json/.yaml, or an instance with
    --budget-scale) and write the table, the plots and each scenario's files."""
    from ..scenarios.cli import run_scenarios_command

    if donors and budget_scale is None:
        raise click.UsageError("--donor goes with --budget-scale")
    if output.exists() and not output.is_dir():
        err.print(f"[bold red]error[/]: output {output} is a file; give a folder")
        sys.exit(1)
    try:
        code = run_scenarios_command(set_path, output, budget_scale, list(donors), policy, method, node_limit,
                                     workers or os.cpu_count() or 1, dask, quiet, out, err)
    except InputError as exc:
        _fail(exc)
    sys.exit(code)


def _grid(spec: Optional[str]) -> Optional[str]:
    """--budget-scale checked before any file is read: its syntax, and at most 1000 factors."""
    from ..models.scenarios import budget_grid

    if spec is not None:
        try:
            budget_grid(spec)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    return spec


@cli.command()
@click.argument("instance", type=click.Path(path_type=Path))
@click.argument("solution", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Also write everything as JSON (format wopmatch.sensitivity/1).")
@click.option("--node-limit", type=click.IntRange(min=1), default=None, help="Branch-and-bound nodes per MIP solve.")
@click.option("--max-resolves", type=click.IntRange(min=0), default=200, show_default=True,
              help="Re-solves at most: full mentors first, then donors, then each unmatched mentee whose "
                   "questions still fit.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Parallel re-solves [default: the machine's CPUs].")
@click.option("--dask", metavar="ADDRESS|local", default=None, help="Re-solve on a Dask cluster.")
@click.option("--keep", type=click.Path(path_type=Path), default=None,
              help="Keep every re-solved instance and solution in this folder.")
@click.option("--quiet", is_flag=True, help="No progress bar or tables.")
def sensitivity(instance: Path, solution: Path, output: Optional[Path], node_limit: Optional[int],
                max_resolves: int, workers: Optional[int], dask: Optional[str], keep: Optional[Path],
                quiet: bool) -> None:
    """What one more place, one more unit of budget, or a relaxed rule would change,
    and what it would take to match each unmatched mentee: every figure from
    re-solving the changed instance with SOLUTION's policy."""
    from ..scenarios.cli import run_sensitivity_command

    if output is not None:
        _check_output(output, instance, solution)
    loaded, sol, _, violations = _checked(instance, solution, None, with_sha=True)
    if violations:
        err.print(f"[bold red]{len(violations)} violation(s)[/]: the solution does not fit this instance")
        for v in violations[:20]:
            err.print(f"  {v}", markup=False)
        sys.exit(1)
    try:
        result = run_sensitivity_command(loaded, sol, node_limit, max_resolves, workers or os.cpu_count() or 1,
                                         dask, keep, quiet, out, err)
    except InputError as exc:
        _fail(exc)
    if output is not None:
        write_atomic(output, (result.model_dump_json(indent=2) + "\n").encode("utf-8"))
        out.print(f"wrote {output}")


@cli.command()
@click.argument("topic", required=False)
def docs(topic: Optional[str]) -> None:
    """Read the documentation installed with wopmatch: the list of topics, or TOPIC
    (for example format, or docs/format.md as messages name it)."""
    from .. import guide

    if topic is None:
        table = Table(title="wopmatch docs TOPIC", show_header=False, box=None)
        for name, title in guide.topics().items():
            table.add_row(name, title)
        out.print(table)
        return
    text = guide.read(topic)
    if text is None:
        err.print(f"[bold red]error[/]: no topic {topic!r}; topics: {', '.join(guide.topics())}")
        sys.exit(1)
    if out.is_terminal:
        from rich.markdown import Markdown

        with out.pager(styles=True):
            out.print(Markdown(text))
    else:
        click.echo(text, nl=False)


@cli.command()
@click.argument("kind", type=click.Choice(["instance", "solution", "scenarios", "progress"]))
def schema(kind: str) -> None:
    """Print the JSON Schema of an instance, solution, scenario set or progress file."""
    from ..models.progress import Progress
    from ..models.scenarios import ScenarioSet

    model = {"instance": Instance, "solution": Solution, "scenarios": ScenarioSet, "progress": Progress}[kind]
    click.echo(json.dumps(model.model_json_schema(), indent=2))


@cli.command()
@click.option("--data", "data_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("wopmatch-data"),
              show_default=True, help="Folder of the job database (SQLite, created if missing).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="TCP port to listen on.")
@click.option("--tokens-file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Bearer tokens, one per line (also $WOPMATCH_TOKENS, comma-separated). Without "
                   "either, serve makes one, keeps it in DATA/tokens.txt and prints it.")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
              help="Jobs solved at once, each in a process of its own.")
@click.option("--memory-mib", type=click.IntRange(min=256), default=4096, show_default=True,
              help="Address-space cap of each solve process.")
@click.option("--time-cap", type=click.FloatRange(min=1), default=3600.0, show_default=True,
              help="Seconds a job may run, whatever time limit it asks for.")
@click.option("--max-body-mib", type=click.FloatRange(min=0.01), default=20.0, show_default=True,
              help="Request bodies over this get 413.")
@click.option("--max-queued", type=click.IntRange(min=1), default=100, show_default=True,
              help="Submissions beyond this many waiting jobs get 429 with Retry-After.")
@click.option("--max-attempts", type=click.IntRange(min=1), default=3, show_default=True,
              help="Starts of a job cut short by restarts before it is failed.")
def serve(data_dir: Path, host: str, port: int, tokens_file: Optional[Path], workers: int, memory_mib: int,
          time_cap: float, max_body_mib: float, max_queued: int, max_attempts: int) -> None:
    """Run the HTTP API and its solve processes (docs/service.md)."""
    try:
        import uvicorn

        from ..service.app import create_app
        from ..service.config import TOKENS_ENV, ConfigError, ServiceConfig, read_tokens
    except ImportError as exc:
        err.print(f"[bold red]error[/]: the service needs the extra: pip install 'wopmatch[service]' ({exc.name})")
        sys.exit(1)
    own = data_dir / TOKENS_FILE  # the token serve made on an earlier start, if it did
    created = None
    if tokens_file is None and not os.environ.get(TOKENS_ENV, "").strip():
        if not own.exists():
            created = _new_token_file(own)
        tokens_file = own
    try:
        tokens = read_tokens(tokens_file)
    except ConfigError as exc:
        err.print(f"[bold red]error[/]: {exc}")
        sys.exit(1)
    config = ServiceConfig(data_dir=data_dir.resolve(), tokens=tokens, workers=workers, memory_mib=memory_mib,
                           time_cap=time_cap, max_body_bytes=int(max_body_mib * 1024 * 1024),
                           max_queued=max_queued, max_attempts=max_attempts)
    import sqlite3

    try:
        app = create_app(config)
    except (OSError, sqlite3.Error) as exc:
        err.print(f"[bold red]error[/]: cannot use the data folder {data_dir}: {exc.strerror or exc}")
        sys.exit(1)
    err.print(f"wopmatch service on http://{host}:{port}/ (jobs in {config.data_dir}, {len(tokens)} token(s)"
              + (f" from {tokens_file}" if tokens_file is not None else "") + ")")
    if created is not None:
        err.print(f"made a bearer token, kept in {tokens_file}: {created}", highlight=False, soft_wrap=True)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=True)


#: The file in the data folder where serve keeps the token it makes when none is given.
TOKENS_FILE = "tokens.txt"


def _new_token_file(path: Path) -> str:
    """A new random bearer token, written to ``path`` (readable by its owner only)."""
    import secrets

    token = secrets.token_urlsafe(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        err.print(f"[bold red]error[/]: cannot keep a token in {path}: {exc.strerror or exc}")
        sys.exit(1)
    with os.fdopen(fd, "w") as fh:
        fh.write("# made by wopmatch serve; give it as: Authorization: Bearer TOKEN\n" + token + "\n")
    return token


@contextmanager
def _logging_to_stderr(on: bool) -> Iterator[None]:
    """The solver's progress log (each pricing round) on stderr, for the length of the solve."""
    if not on:
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
    with _attached(handler, "wopmatch"):
        yield


@contextmanager
def _attached(handler: logging.Handler, name: str) -> Iterator[None]:
    """``handler`` on logger ``name`` at INFO, for the length of the block."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


class _Progress(logging.Handler):
    """The solver's progress lines: on a terminal, the spinner's text; otherwise
    plain lines on stderr, from the first one past ``quiet_for`` seconds on
    (with the last one before it), so a quick solve prints nothing."""

    def __init__(self, spinner, quiet_for: float = 2.0) -> None:
        super().__init__(logging.INFO)
        self.spinner = spinner
        self.start = time.monotonic()
        self.quiet_for = quiet_for
        self.held: Optional[str] = None

    def emit(self, record: logging.LogRecord) -> None:
        line = record.getMessage()
        if self.spinner is not None:
            self.spinner.update(f"solving... {line}")
            return
        if time.monotonic() - self.start < self.quiet_for:
            self.held = line
            return
        for text in (self.held, line):
            if text is not None:
                print(f"wopmatch: {text}", file=sys.stderr, flush=True)
        self.held = None


@contextmanager
def _progress_to_stderr(spinner, off: bool) -> Iterator[None]:
    if off:
        yield
        return
    with _attached(_Progress(spinner), "wopmatch.solver"):
        yield


def main() -> None:
    cli()
