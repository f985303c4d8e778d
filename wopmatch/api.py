"""The Python API (docs/python.md): load, generate, solve, verify, explain, compare,
tabulate, plot and write, as a notebook cell calls them. ``import wopmatch as wm``
gives every name here. The command line, the service's jobs, scenario sweeps and the
bench solve through :func:`solve`, and ``wopmatch generate`` writes :func:`generate`'s
round with :func:`write` (tests/test_architecture.py checks the solving).

Bad input raises :class:`InputError`, a ValueError (every problem with its location,
the lines the command line prints; a path that does not exist raises one that is also a
FileNotFoundError); a request that cannot run raises :class:`SolveError`. Tables
need pandas and plots matplotlib (``pip install 'wopmatch[notebook]'``); without them
the call raises :class:`MissingExtraError` saying so.
"""

from __future__ import annotations

import hashlib
import numbers
import os
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Optional, Sequence, Union

from pydantic import ValidationError

from .models import InputError, Instance, Problem, Solution, load_instance, parse_instance, parse_solution
from .models.diff import SolutionDiff, diff_solutions
from .models.instance import Pinned, plain_message
from .models.io import (
    decode_json,
    instance_files,
    output_kind,
    read_bytes,
    solution_bytes,
    write_atomic,
    write_folder_atomic,
)
from .models.problems import json_path
from .models.proposal import DonorFit, Proposal
from .models.scenarios import Scenario, ScenarioSet, apply_changes, grid_scenarios, read_scenario_set
from .models.solution import Metrics
from .models.status import RoundStatus, next_status, read_status, status_bytes
from .models.vocab import closest
from .solver import (INT32_MAX, POLICIES, AgreedRound, PreviousRound, SolveError, SolveOptions, Watch, pair_verdict,
                     rebuild_round, run_stoppable, verify_solution)
from .solver import solve as _solve_with

if TYPE_CHECKING:  # only for the annotations: pandas and matplotlib are optional
    import pandas
    from matplotlib.figure import Figure

    from .models.progress import Progress
    from .reports.monitor import Monitoring

PathLike = Union[str, "os.PathLike[str]"]

__all__ = [
    "Comparison",
    "InputError",
    "Instance",
    "MissingExtraError",
    "POLICY_NAMES",
    "RoundStatus",
    "Solution",
    "SolveError",
    "SolveOptions",
    "compare",
    "diff",
    "donor_use",
    "explain",
    "generate",
    "load",
    "load_solution",
    "metrics",
    "monitor",
    "monitoring_table",
    "next_status",
    "options",
    "partnerships",
    "plot_coverage",
    "plot_frontier",
    "plot_times",
    "propose",
    "sha256_of",
    "solve",
    "sweep_budgets",
    "unmatched",
    "verify",
    "write",
    "write_plans",
    "write_progress_template",
]

#: Every policy, in the order the command line lists them (docs/policies.md).
POLICY_NAMES: tuple[str, ...] = tuple(POLICIES)


class MissingExtraError(ImportError):
    """A table or a plot was asked for without the package it needs."""


def _need(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(f"this needs {module.split('.')[0]}: pip install 'wopmatch[notebook]' "
                                "(pandas and matplotlib)") from None


# --------------------------------------------------------------------------- reading


def load(source: Union[PathLike, Mapping[str, Any], Instance]) -> Instance:
    """Read and validate an instance.

    Parameters
    ----------
    source
        A ``.json`` file, an ``.xlsx`` workbook, a folder of CSV files, a dict in
        the JSON format (docs/format.md), or an :class:`Instance` (returned as is).

    Returns
    -------
    Instance
        The validated round.

    Raises
    ------
    InputError
        Listing every problem with its location (``operators[3].country: ...``).
    FileNotFoundError
        When the path does not exist (an InputError too).
    """
    if isinstance(source, Instance):
        return source
    if isinstance(source, Mapping):
        return parse_instance(dict(source), "instance")
    return load_instance(_path(source, "an Instance, a dict or a path")).instance


def _path(source: Any, expected: str) -> Path:
    if not isinstance(source, (str, os.PathLike)):
        raise InputError([Problem("", f"expected {expected}, got {type(source).__name__} {source!r:.80}")],
                         "input")
    return Path(source)


def load_solution(source: Union[PathLike, Mapping[str, Any]]) -> Solution:
    """Read a solution written by :func:`write` or ``wopmatch solve -o``.

    Parameters
    ----------
    source
        A solution ``.json`` file or the same as a dict.

    Returns
    -------
    Solution

    Raises
    ------
    InputError
        When it is not a readable solution.
    FileNotFoundError
        When the path does not exist (an InputError too).
    """
    if isinstance(source, Mapping):
        return parse_solution(dict(source))
    p = _path(source, "a Solution, a dict or a path")
    return parse_solution(decode_json(read_bytes(p), str(p)), str(p))


def _drawn(seed: Optional[int]) -> Any:
    """``seed``, or a seed drawn from the system's randomness when it is None (0 to the
    largest seed HiGHS takes). Other values are left for the caller's checks."""
    return random.SystemRandom().randrange(INT32_MAX + 1) if seed is None else seed


def generate(mentees: int, mentors: int, *, donors: int = 0, seed: Optional[int] = 0, tightness: float = 0.4,
             name: Optional[str] = None, dual_share: float = 0.3, needs: str = "priorities",
             interests: int = 0) -> Instance:
    """A realistic synthetic round (docs/generator.md).

    Parameters
    ----------
    mentees, mentors
        Utilities with a mentee profile and with a mentor profile (a few play both).
    donors
        Donors with budgets and eligibility rules; 0 for a budget-free round.
    seed
        The same parameters and seed give the same round: :func:`write` of it gives
        the same bytes as ``wopmatch generate``. ``None`` draws one; the round's name
        says which.
    tightness
        Total donor budget as a share of what funding every mentee would cost.
    name
        The round's name.
    dual_share
        The share of mentors that also take a mentee profile.
    needs
        ``"priorities"`` (two or three priority needs, lower levels elsewhere; durations
        from the issues each pair addresses) or ``"legacy"`` (the rounds of wopmatch 0.1,
        byte for byte).
    interests
        Interests each operator states in possible partners (docs/format.md §2); 0 for none.

    Returns
    -------
    Instance

    Raises
    ------
    InputError
        For a negative count or a tightness that is not positive.
    """
    from .generator import generate_instance

    seed = _drawn(seed)
    counts = {"mentees": mentees, "mentors": mentors, "donors": donors, "seed": seed, "interests": interests}
    problems = [Problem(k, f"expected a whole number of 0 or more, got {v!r}") for k, v in counts.items()
                if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0]
    for k, v in (("tightness", tightness), ("dual_share", dual_share)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not v >= 0 or (k == "tightness" and v == 0):
            problems.append(Problem(k, f"expected a number more than 0, got {v!r}" if k == "tightness"
                                    else f"expected a number of 0 or more, got {v!r}"))
    if problems:
        raise InputError(problems, "generate")
    try:
        return generate_instance(int(mentees), int(mentors), donors=int(donors), seed=int(seed),
                                 tightness=float(tightness), name=name, dual_share=float(dual_share), needs=needs,
                                 interests=int(interests))
    except (ValueError, TypeError) as exc:  # a negative count; a count that is not a whole number
        raise InputError([Problem("", str(exc))], "generate") from None


def sha256_of(instance: Instance) -> str:
    """The SHA-256 a solution records for an instance given in memory: that of the
    bytes :func:`write` gives it as JSON."""
    return hashlib.sha256(_instance_json(instance)).hexdigest()


def _instance_json(instance: Instance) -> bytes:
    from .generator import to_json_bytes

    return to_json_bytes(instance.model_dump(mode="json", exclude_unset=True))


# --------------------------------------------------------------------------- solving


def options(policy: str = "optimal", **chosen: Any) -> SolveOptions:
    """:class:`SolveOptions` from keywords, with bad values as :class:`InputError`."""
    try:
        return SolveOptions(policy=policy, **chosen)
    except ValidationError as exc:
        raise InputError([Problem(json_path(e["loc"]) or "(options)", plain_message(e))
                          for e in exc.errors(include_url=False)], "options") from None


def solve(instance: Union[Instance, PathLike, Mapping[str, Any]], policy: str = "optimal", *,
          method: str = "auto", time_limit: Optional[float] = None, node_limit: Optional[int] = None,
          seed: Optional[int] = 0, threads: int = 1, alternates: int = 0, group_by: str = "region",
          previous: Union[Solution, PreviousRound, None] = None, ended: Sequence[str] = (), forbid_repeat: bool = False,
          keep_stable: bool = False, change_penalty: Optional[float] = None,
          agreement: Union[RoundStatus, AgreedRound, PathLike, None] = None,
          sha256: Optional[str] = None, watch: Optional[Watch] = None,
          solve_options: Optional[SolveOptions] = None) -> Solution:
    """Solve a round with a policy; the solution is checked by the independent verifier.

    Parameters
    ----------
    instance
        An :class:`Instance`, or anything :func:`load` reads.
    policy
        One of :data:`POLICY_NAMES` (docs/policies.md).
    method, time_limit, node_limit, seed, threads, alternates, group_by
        As ``wopmatch solve``'s options (docs/format.md); ``threads`` is ``--threads``.
        ``seed=None`` draws one (as numpy's and scikit-learn's do); the solution's
        ``stats.seed`` records it, so the solve can be repeated.
    previous, ended, forbid_repeat, keep_stable, change_penalty
        A later round: the earlier round's solution and how its partnerships carry
        (docs/rounds.md). ``previous`` as a :class:`Solution` records the SHA-256 of
        its JSON; a ``PreviousRound`` carries that of its file.
    agreement
        The round's agreement status (docs/rounds.md), a :class:`RoundStatus`, its file
        (a path that does not exist yet: no answer so far) or an ``AgreedRound`` (the
        status with its file's SHA-256, as the command line reads it once): accepted and active partnerships
        are kept, declined and ended pairs never proposed again, and the proposals waiting
        for an answer kept where possible (``change_penalty``). The solution's ``agreement``
        says what was kept and what is newly proposed or withdrawn; :func:`next_status`
        gives the status to write back.
    sha256
        The SHA-256 the solution records as its instance's; default: that of the bytes
        of the file ``instance`` was read from, or of :func:`write`'s JSON of it.
    watch
        Progress callbacks (the service's job uses them).
    solve_options
        All of the options above as one :class:`SolveOptions` (then they must not be
        given one by one).

    Returns
    -------
    Solution
        Its ``verification`` holds the verifier's report.

    Raises
    ------
    InputError
        For a bad instance or option value, or a previous round that does not fit.
    SolveError
        For a request that cannot run (a method the policy does not take).
    KeyboardInterrupt
        On Ctrl-C (or a notebook's interrupt): the solve stops at once and this reaches you.
    """
    sha = sha256
    if not isinstance(instance, Instance):
        if isinstance(instance, Mapping):
            instance = load(instance)
        else:
            loaded = load_instance(_path(instance, "an Instance, a dict or a path"))
            instance, sha = loaded.instance, sha or loaded.sha256
    if solve_options is None:
        chosen: dict[str, Any] = dict(method=method, time_limit=time_limit, node_limit=node_limit, seed=_drawn(seed),
                                      workers=threads, alternates=alternates, group_by=group_by,
                                      ended=tuple(ended), forbid_repeat=forbid_repeat, keep_stable=keep_stable)
        if change_penalty is not None:
            chosen["change_penalty"] = change_penalty
        solve_options = _api_options(policy, chosen)
    if previous is None and solve_options.round_options():
        raise InputError([Problem(name, "needs previous= (an earlier round's solution)")
                          for name in solve_options.round_options()], "options")
    sha, before = sha or sha256_of(instance), _previous(previous)
    agreed = None if agreement is None else _agreed(agreement)
    # in a worker thread, so that Ctrl-C stops the solve at once and raises KeyboardInterrupt here
    return run_stoppable(lambda: _solve_with(instance, sha, solve_options, previous=before, agreed=agreed,
                                             watch=watch))


def _agreed(agreement: Union[RoundStatus, AgreedRound, PathLike]) -> AgreedRound:
    """The agreement status and the SHA-256 the solution records: of its file's bytes (of none when
    the file does not exist yet), or of its JSON."""
    if isinstance(agreement, AgreedRound):
        return agreement
    if isinstance(agreement, RoundStatus):
        return AgreedRound(agreement, hashlib.sha256(status_bytes(agreement, ".json")).hexdigest())
    return agreed_round(_path(agreement, "a RoundStatus or a path"))


def agreed_round(path: Path) -> AgreedRound:
    """A status file as a solve reads it (an absent file: no answer yet); ``read_status`` refuses a
    suffix a status file may not have, absent or not."""
    if not path.exists() and path.suffix.lower() in (".json", ".csv", ".xlsx"):
        return AgreedRound(RoundStatus(), hashlib.sha256(b"").hexdigest(), str(path))
    return AgreedRound(read_status(path), hashlib.sha256(path.read_bytes()).hexdigest(), str(path))


def _previous(previous: Union[Solution, PreviousRound, None]) -> Optional[PreviousRound]:
    if previous is None or isinstance(previous, PreviousRound):
        return previous
    return PreviousRound(previous, hashlib.sha256(solution_bytes(previous)).hexdigest())


def verify(instance: Union[Instance, PathLike, Mapping[str, Any]], solution: Union[Solution, PathLike],
           *, previous: Union[Solution, PreviousRound, None] = None) -> list[str]:
    """Re-check a solution against its round with the independent verifier.

    Parameters
    ----------
    instance
        The round, as :func:`load` reads it.
    solution
        A :class:`Solution` or a solution file.
    previous
        For a solution of a later round: the earlier round's solution.

    Returns
    -------
    list of str
        Every violation in words; empty when the solution is valid.
    """
    inst = load(instance)
    sol = solution if isinstance(solution, Solution) else load_solution(solution)
    effective, problems = rebuild_round(inst, sol, _previous(previous))
    return problems + verify_solution(effective, sol)


def explain(solution: Solution, mentee: str) -> str:
    """Why a mentee got the match it got, or none, in one paragraph.

    Parameters
    ----------
    solution
        A solution (solve with ``alternates=K`` to hear about runner-up mentors).
    mentee
        The mentee's id.

    Returns
    -------
    str

    Raises
    ------
    InputError
        When the solution has no such mentee.
    """
    pairs = {p.mentee: p for p in solution.partnerships}
    missing = {u.mentee: u for u in solution.unmatched}
    alts = {a.mentee: a.alternates for a in solution.alternates or []}
    if mentee in pairs:
        p = pairs[mentee]
        text = (f"{mentee} is matched with {p.mentor} (score {p.score:.2f}"
                + (f", funded by {p.donor}" if p.donor else "") + f", cost {p.cost:,}"
                + (", pinned" if p.pinned else "") + ")"
                + (f"; they would work on {', '.join(p.focus)}" if p.focus else "") + ".")
    elif mentee in missing:
        u = missing[mentee]
        text = f"{mentee} is unmatched ({u.reason.replace('_', ' ')})" + (f": {u.detail}" if u.detail else "") + "."
    else:
        raise InputError([Problem("mentee", f"no mentee {mentee!r} in this solution")], "explain")
    others = alts.get(mentee) or []
    if others:
        text += " Runner-up mentors: " + "; ".join(
            f"{a.mentor} (score {a.score:.2f}, {a.status.replace('_', ' ')})" for a in others) + "."
    return text


def diff(a: Union[Solution, PathLike], b: Union[Solution, PathLike]) -> SolutionDiff:
    """What changed from solution ``a`` to solution ``b`` (``wopmatch diff``): partnerships
    added, removed and changed, mentees newly matched or unmatched, and every figure that
    differs (docs/scenarios.md).

    Returns
    -------
    SolutionDiff
        :func:`write` writes it as the JSON ``wopmatch diff -o`` writes.
    """
    sa, sb = (x if isinstance(x, Solution) else load_solution(x) for x in (a, b))
    return diff_solutions(sa, sb)


def propose(instance: Union[Instance, PathLike, Mapping[str, Any]], solution: Union[Solution, PathLike],
            mentee: str, mentor: str, *, donor: Optional[str] = None, **solve_kw: Any) -> Proposal:
    """A facilitator's "what if we make this partnership" (``wopmatch propose``, docs/rounds.md).

    Parameters
    ----------
    instance, solution
        The round and its solution (the solution must be of this round).
    mentee, mentor
        The pair proposed.
    donor
        The donor to fund it; default (a round with donors): each donor whose rules allow
        the pair is tried, and the best re-solved round (coverage, quality, cost) is kept.
    solve_kw
        Options of :func:`solve` for the re-solve; by default the solution's policy and seed.

    Returns
    -------
    Proposal
        Whether the pair may be formed (``outcome``, ``reason``, ``detail``), its score,
        cost, months, issues and the donors that could fund it; when re-solved, the round
        with the pair pinned as ``solution`` and the change from the solution given as
        ``diff`` and ``coverage_change``, ``quality_change``, ``cost_change``.

    Raises
    ------
    InputError
        For an unknown mentee, mentor or donor, or a solution of another round.
    """
    inst, sha = _loaded_with_sha(instance)
    sol = solution if isinstance(solution, Solution) else load_solution(_path(solution, "a Solution or a path"))
    _check_proposal(inst, sha, sol, mentee, mentor, donor)
    verdict = pair_verdict(inst)(mentee, mentor)
    f = verdict.facts
    current = next((p for p in sol.partnerships if p.mentee == mentee), None)
    use = {u.id: u for u in sol.donors}
    cost = round(f.raw_cost)
    fits = [DonorFit(donor=d.id, eligible=d.id in verdict.donors, left=d.budget - use[d.id].committed,
                     enough=d.id in verdict.donors and cost <= d.budget - use[d.id].committed
                     and (d.max_partnerships is None or use[d.id].partnerships < d.max_partnerships))
            for d in inst.donors if d.id in use]
    base = dict(mentee=mentee, mentor=mentor, score=round(f.score, 9), cost=cost, months=f.months, focus=f.focus,
                issues=f.issues, current_mentor=current.mentor if current else None, donors=fits)
    pinned = next((p for p in inst.pinned if p.mentee == mentee), None)
    if current is not None and current.mentor == mentor and donor in (None, current.donor):
        return Proposal(**base, donor=current.donor, outcome="already_matched",
                        detail=f"{mentee} is already matched with {mentor} in this solution")
    if verdict.failed or pinned is not None:
        why = ("; ".join(f"{x} will not work with {mentor if x == mentee else mentee}" for x in verdict.vetoed_by)
               or (f"{mentee} is pinned to {pinned.mentor} in this round" if pinned is not None else "")
               or _FILTER_WORDS.get(verdict.failed or "", str(verdict.failed)))
        return Proposal(**base, outcome="not_eligible", reason=verdict.failed or "pinned",
                        detail=f"the pair may not be formed: {why}")
    funders: list[Optional[str]] = [None]
    if inst.donors:
        funders = [d for d in ([donor] if donor is not None else verdict.donors) if d in verdict.donors]
        if not funders:
            who = f"donor {donor}'s rules do not" if donor is not None else "no donor's rules"
            return Proposal(**base, outcome="no_donor",
                            detail=f"{who} allow this pair (regions, countries, work areas or max_grant)")
    options = {"policy": sol.policy, "seed": sol.stats.seed, **solve_kw}
    tried = []
    for d in funders:
        pinned_round = inst.model_copy(update={"pinned": [*inst.pinned, Pinned(mentee=mentee, mentor=mentor,
                                                                               donor=d)]})
        tried.append((d, solve(pinned_round, **options)))
    found = [(d, s) for d, s in tried if s.objective is not None]
    if not found:
        return Proposal(**base, outcome="infeasible", solution=tried[0][1],
                        detail=f"no matching keeps this pair and the round's pins: {tried[0][1].message}")
    d, new = max(found, key=lambda t: (t[1].objective.coverage, t[1].objective.quality, -t[1].objective.cost))
    change = diff_solutions(sol, new)
    moved = len(change.changed) + len(change.removed) + len(change.added)
    o, n = sol.objective, new.objective
    words = (f"re-solved with {mentee} - {mentor} pinned" + (f", funded by {d}" if d else "")
             + (f" (the best of {len(found)} donors that can fund it)" if len(found) > 1 else "")
             + f": {moved} partnership(s) change, {len(change.newly_unmatched)} mentee(s) lose their match")
    return Proposal(**base, donor=d, outcome="re_solved", detail=words, diff=change, solution=new,
                    coverage_change=None if o is None else round(n.coverage - o.coverage, 9),
                    quality_change=None if o is None else round(n.quality - o.quality, 9),
                    cost_change=None if o is None else n.cost - o.cost)


#: A pair's first failed eligibility filter (docs/format.md §5) in words.
_FILTER_WORDS = {
    "no_mentor_strength": "the mentor is not strong (min_strength) in any of the mentee's needs",
    "no_shared_language": "they share no language",
    "region_rule": "they are in different regions (rules.region = same)",
    "distance_rule": "they are farther apart than rules.max_distance_km",
    "forbidden": "the round forbids this pair",
    "below_min_score": "its score is below rules.min_score",
}


def _loaded_with_sha(instance: Union[Instance, PathLike, Mapping[str, Any]]) -> tuple[Instance, str]:
    """The round and the SHA-256 its solutions record (of its file's bytes, or of write's JSON)."""
    if isinstance(instance, (Instance, Mapping)):
        inst = load(instance)
        return inst, sha256_of(inst)
    loaded = load_instance(_path(instance, "an Instance, a dict or a path"))
    return loaded.instance, loaded.sha256


def _check_proposal(inst: Instance, sha: str, sol: Solution, mentee: str, mentor: str,
                    donor: Optional[str]) -> None:
    """A proposal's ids name the round's operators in the needed roles, and the solution is of this round."""
    problems = []
    if sol.instance.sha256 != sha:
        problems.append(Problem("solution", f"this solution belongs to a different round (it was solved for "
                                            f"instance sha256 {sol.instance.sha256[:12]}..., this round is "
                                            f"{sha[:12]}...)"))
    if sol.round is not None:
        problems.append(Problem("solution", "a solution solved with an earlier round (--previous) cannot take "
                                            "proposals yet: propose on the round's own solution"))
    ops = {op.id: op for op in inst.operators}
    for field_, ident, role in (("mentee", mentee, "mentee"), ("mentor", mentor, "mentor")):
        op = ops.get(ident)
        if op is None:
            like = closest(ident, list(ops))
            problems.append(Problem(field_, f"unknown operator {ident!r}"
                                    + (f"; did you mean {like!r}?" if like else "")))
        elif getattr(op, role) is None:
            problems.append(Problem(field_, f"operator {ident!r} has no {role} profile"))
    if mentee == mentor:
        problems.append(Problem("mentor", f"operator {mentee!r} cannot be paired with itself"))
    if donor is not None and donor not in {d.id for d in inst.donors}:
        like = closest(donor, [d.id for d in inst.donors])
        problems.append(Problem("donor", f"unknown donor {donor!r}" + (f"; did you mean {like!r}?" if like else "")))
    if problems:
        raise InputError(problems, "propose")


# --------------------------------------------------------------------------- comparing


@dataclass
class Comparison:
    """Several solves of one round: one per policy, scenario, or both.

    ``solutions`` maps a row's name to its solution, ``rows`` holds each row's
    labels (policy, scenario, the scenario's instance) and ``seconds`` each
    solve's wall time. :meth:`table` is one DataFrame with a row per solve.
    """

    instance: Instance
    solutions: dict[str, Solution] = field(default_factory=dict)
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    instances: dict[str, Instance] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def table(self) -> "pandas.DataFrame":
        """One row per solve: labels, status, headline metrics, bounds, gaps and times.

        Returns
        -------
        pandas.DataFrame
            Indexed by the row's name.
        """
        _need("pandas")
        records = []
        for name, sol in self.solutions.items():
            inst = self.instances.get(name, self.instance)
            m = sol.metrics
            records.append({
                "name": name, **self.rows.get(name, {}), "status": sol.status,
                "mentees": sum(op.mentee is not None for op in inst.operators),
                "mentors": sum(op.mentor is not None for op in inst.operators),
                "donors": len(inst.donors), "budget": sum(d.budget for d in inst.donors),
                "matched": len(sol.partnerships),
                "coverage": None if sol.objective is None else sol.objective.coverage,
                "quality": None if sol.objective is None else sol.objective.quality,
                "cost": None if sol.objective is None else sol.objective.cost,
                "coverage_rate": None if m is None else m.coverage_rate,
                "mean_score": None if m is None else m.mean_score,
                "min_score": None if m is None else m.min_score,
                "blocking_pairs": None if m is None else m.blocking_pairs,
                **_wishes_columns(m),
                "bound_coverage": sol.bound.coverage, "gap_coverage": sol.gap.coverage,
                "bound_quality": sol.bound.quality, "gap_quality": sol.gap.quality,
                "bound_cost": sol.bound.cost, "gap_cost": sol.gap.cost, "method": sol.stats.method,
                "build_seconds": sol.stats.build_seconds, "solve_seconds": sol.stats.solve_seconds,
                "seconds": self.seconds.get(name),
            })
        return _frame(records).set_index("name")


def _frame(records: Any, columns: Optional[list[str]] = None) -> "pandas.DataFrame":
    """A table as pandas users expect it: a missing number is NaN (not None), so a
    column of figures stays numeric (``mean``, ``plot`` and comparisons work on it)."""
    pd = _need("pandas")
    df = pd.DataFrame.from_records(records, columns=columns) if columns is not None or records else pd.DataFrame()
    for c in df.columns:
        if df[c].dtype == object and all(v is None or (isinstance(v, numbers.Number) and not isinstance(v, bool))
                                         for v in df[c]):
            df[c] = df[c].astype("float64")
    return df


def _wishes_columns(m: Optional[Metrics]) -> dict[str, Optional[int]]:
    """Mentees' stated interests met (docs/policies.md#metrics), None where none is stated."""
    w = None if m is None or m.wishes is None else m.wishes["mentees"]
    return {"wishes_stated": None if w is None else w.stated, "wishes_met": None if w is None else w.met,
            "first_choices_met": None if w is None else w.first_choice}


def compare(instance: Union[Instance, PathLike, Mapping[str, Any]], policies: Optional[Iterable[str]] = None, *,
            scenarios: Union[None, PathLike, ScenarioSet, Sequence[Union[Scenario, Mapping[str, Any]]]] = None,
            progress: Union[bool, Callable[[str, Solution], Any], None] = True, **solve_kw: Any) -> Comparison:
    """Solve one round with several policies, or several scenarios of it, or both.

    Parameters
    ----------
    instance
        The base round, as :func:`load` reads it.
    policies
        Policy names, or one name (default: every one of :data:`POLICY_NAMES`).
    scenarios
        A scenario set (a ``.yaml``/``.json`` file or a :class:`ScenarioSet`) or a list
        of scenarios (dicts as in docs/scenarios.md); each is applied to ``instance``.
        With both, every scenario is solved with every policy.
    progress
        ``True`` (default): a progress bar on stderr (in a notebook, under the cell)
        naming the solve under way, with the count done and the time taken; ``False``:
        none; a function: called with each row's name and solution as it finishes.
    **solve_kw
        Passed to :func:`solve` for every solve (``time_limit``, ``seed``, ...);
        ``seed=None`` draws one seed for them all.

    Returns
    -------
    Comparison
        Rows named by policy, by scenario, or ``scenario/policy``.

    Raises
    ------
    InputError
        For a bad round, scenario or option, before anything is solved.
    """
    base = load(instance)
    names = list(POLICY_NAMES if policies is None else [policies] if isinstance(policies, str) else policies)
    unknown = [p for p in names if p not in POLICIES]
    if unknown:
        raise InputError([Problem("policies", f"unknown policy {unknown[0]!r}; valid: {', '.join(POLICIES)}")],
                         "compare")
    if "seed" in solve_kw:
        solve_kw = {**solve_kw, "seed": _drawn(solve_kw["seed"])}
    _check_solve_kw(names, solve_kw)
    cases: list[tuple[Optional[str], Instance]] = [(None, base)]
    if scenarios is not None:
        cases = [(sc.name, inst) for sc, inst in _scenario_instances(base, scenarios)]
    out = Comparison(base)
    with _bar(progress is True, len(cases) * len(names)) as advance:
        for scenario, inst in cases:
            for policy in names:
                name = policy if scenario is None else scenario if len(names) == 1 else f"{scenario}/{policy}"
                advance(name, None)
                t0 = time.perf_counter()
                sol = solve(inst, policy, **solve_kw)
                out.seconds[name] = time.perf_counter() - t0
                out.solutions[name] = sol
                out.rows[name] = {"policy": policy, **({"scenario": scenario} if scenario is not None else {})}
                out.instances[name] = inst
                advance(name, sol)
                if callable(progress):
                    progress(name, sol)
    return out


@contextmanager
def _bar(shown: bool, total: int) -> Iterator[Callable[[str, Optional[Solution]], None]]:
    """compare's progress bar (rich, on stderr; it draws in a notebook too): told the name of
    the solve that starts (solution None) and of each that ends. Not shown: does nothing."""
    if not shown:
        yield lambda name, solution: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("compare"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("", total=total)

        def advance(name: str, solution: Optional[Solution]) -> None:
            if solution is None:
                bar.update(task, description=f"solving {name}")
            else:
                bar.update(task, advance=1, description=f"{name}: {solution.status}")

        yield advance


def _api_options(policy: str, chosen: dict[str, Any]) -> SolveOptions:
    """:func:`options` with problems named as :func:`solve` names them (``threads``, not ``workers``)."""
    try:
        return options(policy, **chosen)
    except InputError as exc:
        raise InputError([Problem("threads" if p.where == "workers" else p.where, p.message) for p in exc.problems],
                         exc.source) from None


def _check_solve_kw(policies: list[str], solve_kw: dict[str, Any]) -> None:
    """The options given for every solve, checked before the first: unknown names (with the
    closest one) and bad values are an InputError."""
    import difflib
    import inspect

    known = [n for n in inspect.signature(solve).parameters if n not in ("instance", "policy")]
    unknown = [k for k in solve_kw if k not in known]
    if unknown:
        near = difflib.get_close_matches(unknown[0], known, n=1)
        raise InputError([Problem(unknown[0], "unknown option" + (f"; did you mean {near[0]!r}?" if near else
                                                                  f"; the options are {', '.join(known)}"))],
                         "options")
    plain = {k: v for k, v in solve_kw.items() if k not in ("previous", "sha256", "watch", "solve_options")}
    renamed = {("workers" if k == "threads" else k): (tuple(v) if k == "ended" else v) for k, v in plain.items()}
    for policy in policies:
        _api_options(policy, renamed)


def sweep_budgets(instance: Union[Instance, PathLike, Mapping[str, Any]], factors: Iterable[float],
                  policies: Iterable[str] = ("optimal",), *, donors: Optional[Sequence[str]] = None,
                  **solve_kw: Any) -> Comparison:
    """The funding frontier: the round solved with every donor's budget (or the named
    donors') scaled by each factor.

    Parameters
    ----------
    instance
        The round, with donors.
    factors
        Budget factors (1.0 is the round as it is).
    policies
        Policies to solve each point with.
    donors
        Scale only these donors' budgets.
    **solve_kw
        Passed to :func:`solve`.

    Returns
    -------
    Comparison
        Its table has a ``factor`` column; :func:`plot_frontier` draws it.
    """
    values = [float(f) for f in factors]
    bad = [f for f in values if not f >= 0]
    if bad:
        raise InputError([Problem("factors", f"a budget factor must be 0 or more, got {bad[0]!r}")], "sweep_budgets")
    inst = load(instance)
    if not inst.donors:
        raise InputError([Problem("instance", "this round has no donors, so scaling their budgets changes nothing: "
                                              "every point would be the same answer")], "sweep_budgets")
    grid = grid_scenarios(values, list(donors) if donors else None)
    result = compare(inst, policies, scenarios=grid, **solve_kw)
    for name, row in result.rows.items():
        row["factor"] = values[[g.name for g in grid].index(row["scenario"])]
    return result


def _scenario_instances(base: Instance, scenarios: Any) -> list[tuple[Scenario, Instance]]:
    if isinstance(scenarios, (str, os.PathLike)):
        scenarios = read_scenario_set(scenarios).scenarios
    elif isinstance(scenarios, ScenarioSet):
        scenarios = scenarios.scenarios
    listed = []
    problems: list[Problem] = []
    for k, sc in enumerate(scenarios):
        try:
            listed.append(sc if isinstance(sc, Scenario) else Scenario.model_validate(sc))
        except ValidationError as exc:
            problems += [Problem(f"scenarios[{k}]" + ("." + json_path(e["loc"]) if e["loc"] else ""),
                                 plain_message(e)) for e in exc.errors(include_url=False)]
    out = []
    for k, sc in enumerate(listed):
        try:
            out.append((sc, apply_changes(base, sc, f"scenarios[{k}] ({sc.name})")))
        except InputError as exc:
            problems += exc.problems
    if problems:
        raise InputError(problems, "scenarios")
    return out


# --------------------------------------------------------------------------- tables


def partnerships(solution: Solution) -> "pandas.DataFrame":
    """One row per partnership: mentee, mentor, donor, score, cost, focus, pinned.

    Returns
    -------
    pandas.DataFrame
    """
    cols = ["mentee", "mentor", "donor", "score", "cost", "focus", "pinned"]
    return _frame([{**p.model_dump(), "focus": ", ".join(p.focus)} for p in solution.partnerships], cols)


def unmatched(solution: Solution) -> "pandas.DataFrame":
    """One row per unmatched mentee, with the reason and its detail (docs/format.md §5).

    Returns
    -------
    pandas.DataFrame
    """
    return _frame([u.model_dump() for u in solution.unmatched], ["mentee", "reason", "detail"])


def donor_use(solution: Solution) -> "pandas.DataFrame":
    """One row per donor (``donor``, its id, as the other tables name it): budget, committed,
    partnerships, share used, and why money is idle.

    Returns
    -------
    pandas.DataFrame
    """
    rows = [{"donor": d.id, **d.model_dump(exclude={"id"}), "used": d.committed / d.budget if d.budget else None}
            for d in solution.donors]
    return _frame(rows, ["donor", "budget", "committed", "partnerships", "used", "idle_reason", "idle_detail"])


def metrics(solution: Solution, by: Optional[str] = None) -> "pandas.DataFrame":
    """The solution's metrics (docs/policies.md#metrics).

    Parameters
    ----------
    by
        None for the headline figures (one row); ``"region"``, ``"language"`` or
        ``"work_area"`` for one row per group (mentees, matched, coverage and rates).

    Returns
    -------
    pandas.DataFrame
    """
    m = solution.metrics
    if by is None:
        if m is None:
            return _frame([])
        flat = {k: v for k, v in m.model_dump().items() if not isinstance(v, dict)}
        return _frame([flat])
    if by not in ("region", "language", "work_area"):
        raise InputError([Problem("by", f"expected region, language or work_area, got {by!r}")], "metrics")
    groups = {} if m is None else getattr(m, f"by_{by}")
    return _frame([{by: k, **g.model_dump()} for k, g in groups.items()],
                  [by, "mentees", "matched", "coverage", "coverage_rate", "match_rate"])


# --------------------------------------------------------------------------- plots


def plot_frontier(sweep: Comparison, y: str = "coverage") -> "Figure":
    """The funding frontier of :func:`sweep_budgets`: ``y`` against the total budget,
    one line per policy.

    Parameters
    ----------
    sweep
        What :func:`sweep_budgets` returned.
    y
        A column of :meth:`Comparison.table` (``coverage``, ``matched``, ``quality``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    _need("matplotlib")
    from matplotlib.figure import Figure

    table = sweep.table()
    if "factor" not in table.columns:
        raise InputError([Problem("sweep", "not a budget sweep: use sweep_budgets()")], "plot_frontier")
    fig = Figure(figsize=(6.4, 4))
    ax = fig.add_subplot()
    for policy, rows in table.groupby("policy", sort=False):
        rows = rows.sort_values("budget")
        ax.plot(rows["budget"], rows[y], marker="o", label=policy)
    ax.set_xlabel("total donor budget")
    ax.xaxis.set_major_formatter(lambda v, _pos: f"{v / 1e6:g}M" if v >= 1e6 else f"{v:,.0f}")
    ax.set_ylabel(y)
    ax.set_title("Funding frontier")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_coverage(comparison: Comparison, by: str = "region") -> "Figure":
    """Coverage rate per group (region, language or work area), one bar per row of
    the comparison.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _need("matplotlib")
    from matplotlib.figure import Figure

    tables = {name: metrics(sol, by=by).set_index(by)["coverage_rate"] for name, sol in comparison.solutions.items()}
    # a group without mentees (mentors only) has no rate: left out rather than drawn as 0
    groups = sorted({g for t in tables.values() for g, v in t.items() if v == v and v is not None})
    fig = Figure(figsize=(max(7.5, 1.1 * len(groups) + 3.5), 4))
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(tables))
    for k, (name, t) in enumerate(tables.items()):
        ax.bar([i + k * width for i in range(len(groups))], [t.get(g, 0.0) or 0.0 for g in groups], width,
               label=name)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(groups))], groups, rotation=30, ha="right")
    ax.set_ylabel("coverage rate")
    ax.set_ylim(0, 1)
    ax.set_title(f"Coverage by {by.replace('_', ' ')}")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def plot_times(table: "pandas.DataFrame", x: str = "mentees", y: str = "solve_seconds") -> "Figure":
    """Time against size, one line per policy, on log-log axes: for the tables of
    several :func:`compare` runs at different sizes, concatenated.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _need("matplotlib")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4))
    ax = fig.add_subplot()
    for policy, rows in table.groupby("policy", sort=False):
        rows = rows.sort_values(x)
        ax.plot(rows[x], rows[y], marker="o", label=policy)
    ax.set_xscale("log")
    ax.set_yscale("log")
    from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

    # the sizes measured are the x ticks, labelled in full (1000, not 10^3); no minor labels,
    # which crowd the axis when the sizes span less than a decade or there is one size
    sizes = sorted(set(table[x].tolist()))
    ax.xaxis.set_major_locator(FixedLocator(sizes))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    if len(sizes) == 1:
        ax.set_xlim(sizes[0] / 2, sizes[0] * 2)
    ax.set_xlabel(x)
    ax.set_ylabel(f"{y.replace('_', ' ')}")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- writing


def _markdown(table: "pandas.DataFrame") -> str:
    def cell(v: Any) -> str:
        if v is None or v != v:  # None or NaN
            return "-"
        return f"{v:.4g}" if isinstance(v, float) else str(v).replace("|", "\\|")

    head = [table.index.name or "", *map(str, table.columns)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(v) for v in (name, *row)) + " |"
              for name, row in zip(table.index, table.itertuples(index=False))]
    return "\n".join(lines) + "\n"


def write(obj: Union[Instance, Solution, Comparison, SolutionDiff, "Monitoring"], path: PathLike, *,
          instance: Optional[Instance] = None) -> Path:
    """Write what the command line writes.

    Parameters
    ----------
    obj
        An :class:`Instance` (``.json``, ``.xlsx`` or a folder of CSV files; JSON as
        ``wopmatch generate`` writes it); a :class:`Solution` (``.json``; ``.xlsx``
        result sheets and ``.csv`` folders need ``instance=``; ``.html`` is the report);
        a :class:`Comparison` (``.csv`` or ``.md`` table); a :func:`diff` (``.json``); a
        :func:`monitor` result (``.html`` report, ``.csv`` or ``.json`` figures).
    path
        Where to write; written atomically (nothing half-written on failure).
    instance
        The round a solution belongs to (for result sheets and the report).

    Returns
    -------
    pathlib.Path
    """
    p = Path(path)
    suffix = p.suffix.lower()
    from .reports.monitor import WRITERS, Monitoring

    if isinstance(obj, Monitoring):
        if suffix not in WRITERS:
            raise InputError([Problem("path", f"a monitoring report is written as {', '.join(WRITERS)}, got "
                                              f"{p.suffix!r}")], str(p))
        write_atomic(p, WRITERS[suffix](obj))
        return p
    if isinstance(obj, SolutionDiff):
        if suffix != ".json":
            raise InputError([Problem("path", f"a diff is written as .json, got {p.suffix!r}")], str(p))
        write_atomic(p, (obj.model_dump_json(indent=2) + "\n").encode("utf-8"))
        return p
    if isinstance(obj, Comparison):
        table = obj.table()
        if suffix not in (".csv", ".md"):
            raise InputError([Problem("path", f"a comparison is written as .csv or .md, got {p.suffix!r}")], str(p))
        write_atomic(p, (table.to_csv() if suffix == ".csv" else _markdown(table)).encode())
        return p
    if isinstance(obj, Instance):
        kind = output_kind(p)
        if kind is None:
            raise InputError([Problem("path", f"an instance is written as .json, .xlsx or a folder, got "
                                              f"{p.suffix!r}")], str(p))
        if kind == "json":
            write_atomic(p, _instance_json(obj))
        else:
            data = instance_files(obj, kind)
            write_atomic(p, data) if isinstance(data, bytes) else write_folder_atomic(p, data)
        return p
    if not isinstance(obj, Solution):
        raise InputError([Problem("obj", f"cannot write a {type(obj).__name__}")], str(p))
    if suffix not in (".json", ".xlsx", ".html", ""):
        raise InputError([Problem("path", f"a solution is written as .json, .xlsx (result sheets), .html (the "
                                          f"report) or a folder (CSV files), got {p.suffix!r}")], str(p))
    if suffix == ".json":
        write_atomic(p, solution_bytes(obj))
        return p
    if instance is None:
        raise InputError([Problem("instance", f"writing a solution as {p.suffix or 'a folder'!r} needs "
                                              "instance= (the round it solves)")], str(p))
    solved, _ = rebuild_round(instance, obj, None)  # a later round's solution: InputError (write it as .json)
    if suffix == ".html":
        from .reports.html import render_report

        write_atomic(p, render_report(solved, obj, verify_solution(solved, obj)).encode())
    elif suffix == ".xlsx":
        from .reports.results import results_workbook_bytes

        write_atomic(p, results_workbook_bytes(solved, obj))
    else:
        from .reports.results import results_csv_files

        write_folder_atomic(p, {**results_csv_files(solved, obj), "solution.json": solution_bytes(obj)})
    return p


def write_plans(solution: Solution, folder: PathLike, *, instance: Instance) -> Path:
    """Write a draft work plan per partnership and their index, as ``wopmatch plans`` does
    (docs/spreadsheets.md, "Work plans").

    Parameters
    ----------
    solution
        A solution of ``instance``; it is re-verified first.
    folder
        The folder to write (created whole, or its pages replaced one by one).
    instance
        The round the solution solves.

    Returns
    -------
    pathlib.Path
        The folder.

    Raises
    ------
    InputError
        When the solution is not a valid solution of ``instance``.
    """
    from .reports.plans import plan_files, stale_pages

    solved, problems = rebuild_round(instance, solution, None)
    problems += verify_solution(solved, solution)
    if problems:
        raise InputError([Problem("solution", v) for v in problems], "write_plans")
    p = Path(folder)
    files = plan_files(solved, solution)
    stale = stale_pages(p, files)
    write_folder_atomic(p, files)
    for page in stale:  # an earlier run's page of a partnership this solution does not have
        page.unlink(missing_ok=True)
    return p


def _verified_round(instance: Instance, solution: Solution, what: str) -> Instance:
    """The round ``solution`` was solved against, once the verifier accepts it; InputError otherwise."""
    solved, problems = rebuild_round(instance, solution, None)
    problems += verify_solution(solved, solution)
    if problems:
        raise InputError([Problem("solution", v) for v in problems], what)
    return solved


def write_progress_template(solution: Solution, path: PathLike, *, instance: Instance,
                            month: Optional[int] = None, seed: int = 0) -> Path:
    """Write the progress workbook partners fill in, as ``wopmatch template --progress`` does
    (docs/monitoring.md).

    Parameters
    ----------
    solution
        A solution of ``instance``; it is re-verified first.
    path
        An ``.xlsx`` file, written atomically.
    instance
        The round the solution solves.
    month
        Fill the workbook with synthetic progress up to this month (for benchmarks and
        demonstrations); None leaves the cells to fill empty.
    seed
        The synthetic progress's seed.

    Returns
    -------
    pathlib.Path
        The workbook.

    Raises
    ------
    InputError
        When the solution is not a valid solution of ``instance`` or ``path`` is not ``.xlsx``.
    """
    from .reports.monitor import progress_workbook, synthetic_progress

    p = Path(path)
    if p.suffix.lower() != ".xlsx":
        raise InputError([Problem("path", f"a progress workbook is written as .xlsx, got {p.suffix!r}")], str(p))
    solved = _verified_round(instance, solution, "write_progress_template")
    filled = None if month is None else synthetic_progress(solved, solution, month, seed)
    write_atomic(p, progress_workbook(solved, solution, filled))
    return p


def monitor(instance: Union[Instance, PathLike, Mapping[str, Any]], solution: Union[Solution, PathLike],
            progress: Union[PathLike, Mapping[str, Any], "Progress"]) -> "Monitoring":
    """Grade every partnership against its work plan from the progress its partners report
    (docs/monitoring.md), as ``wopmatch monitor`` does.

    Parameters
    ----------
    instance, solution
        The round and a solution of it (re-verified first).
    progress
        A progress workbook (``.xlsx``) or JSON file, JSON-like data, or a ``Progress``.

    Returns
    -------
    Monitoring
        ``.partnerships`` (status, figures and reasons each), ``.donors``, ``.counts``;
        :func:`monitoring_table` gives them as DataFrames and :func:`write` as ``.html``,
        ``.csv`` or ``.json``.

    Raises
    ------
    InputError
        Bad progress, every problem located by sheet, row and column (or JSON path); or a
        solution that is not valid for the round.
    """
    from .models.progress import Progress, ReadProgress, load_progress, parse_progress
    from .reports.monitor import monitor as grade_all

    inst = load(instance)
    sol = solution if isinstance(solution, Solution) else load_solution(solution)
    solved = _verified_round(inst, sol, "monitor")
    if isinstance(progress, Progress):
        read, source = ReadProgress(progress), "progress"
    elif isinstance(progress, Mapping):
        read, source = ReadProgress(parse_progress(dict(progress))), "progress"
    else:
        read, source = load_progress(progress), str(progress)
    return grade_all(solved, sol, read, source)


def monitoring_table(monitoring: "Monitoring", of: str = "partnerships") -> "pandas.DataFrame":
    """A :func:`monitor` result as a table: one row per partnership (``of="partnerships"``: status,
    figures against the plan, reasons) or per donor (``of="donors"``: counts by status, cost, money
    planned and spent to date).

    Returns
    -------
    pandas.DataFrame
    """
    from .reports.monitor import STATUSES, monitoring_rows

    if of == "partnerships":
        header, rows = monitoring_rows(monitoring)
        return _frame(rows, header)
    if of == "donors":
        return _frame([{"donor": d.donor, "name": d.name, **{s: d.counts[s] for s in STATUSES}, "cost": d.cost,
                        "spend_planned": d.spend_planned, "spent": d.spent} for d in monitoring.donors])
    raise InputError([Problem("of", f"a monitoring table is of 'partnerships' or 'donors', got {of!r}")],
                     "monitoring_table")
