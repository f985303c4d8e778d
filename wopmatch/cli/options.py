"""Click options derived from ``SolveOptions`` (solver.option_fields): one
``--field-name`` per field, with the field's kind, limits, default and
description, so the command line cannot drift from the service's requests."""

from __future__ import annotations

from typing import Any, Callable, Optional, TypeVar

import click
from pydantic import ValidationError

from ..solver import OptionField, SolveOptions, option_fields

F = TypeVar("F", bound=Callable[..., Any])


def solve_options(only: Optional[tuple[str, ...]] = None, optional: bool = False,
                  help: Optional[dict[str, str]] = None) -> Callable[[F], F]:
    """A decorator adding an option per field of SolveOptions (those in ``only``,
    in the model's order). ``optional``: every option defaults to None (options
    that override another source, as a scenario set's). ``help`` replaces a
    field's description."""
    fields = [f for f in option_fields(SolveOptions) if only is None or f.name in only]

    def decorate(func: F) -> F:
        for field in reversed(fields):  # click applies the decorators bottom-up
            func = _option(field, optional, (help or {}).get(field.name))(func)
        return func

    return decorate


#: Flags named otherwise than their field: ``--workers`` means parallel solves (scenarios,
#: sensitivity) or concurrent jobs (serve) elsewhere, so one solve's CP-SAT threads are ``--threads``.
FLAGS = {"workers": "--threads"}


def flag_of(name: str) -> str:
    return FLAGS.get(name, "--" + name.replace("_", "-"))


def _option(field: OptionField, optional: bool, help_text: Optional[str]):
    flag = flag_of(field.name)
    kw: dict[str, Any] = {"help": help_text or field.description}
    if field.kind == "bool":
        return click.option(flag, field.name, is_flag=True, default=None if optional else field.default, **kw)
    if field.kind == "list":
        return click.option(flag, field.name, multiple=True, type=str, metavar=field.metavar, **kw)
    if field.kind == "choice":
        kw["type"] = click.Choice(list(field.choices))
    else:
        limits = dict(min=field.low, max=field.high, min_open=field.low_open, max_open=field.high_open)
        kw["type"] = click.IntRange(**limits) if field.kind == "int" else click.FloatRange(**limits)
    kw["default"] = None if optional else field.default
    kw["show_default"] = not optional and field.default is not None
    return click.option(flag, field.name, **kw)


def options_from(values: dict[str, Any]) -> SolveOptions:
    """SolveOptions from the parsed options (None: the model's default)."""
    chosen = {k: v for k, v in values.items() if k in SolveOptions.model_fields and v is not None}
    try:
        return SolveOptions(**chosen)
    except ValidationError as exc:  # what click does not check (limits across fields)
        raise click.UsageError("; ".join(f"{flag_of(str(e['loc'][0])) if e['loc'] else 'options'}: "
                                         f"{e['msg'].removeprefix('Value error, ')}"
                                         for e in exc.errors())) from None
