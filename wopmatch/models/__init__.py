"""Schemas, readers and writers. Never imports OR-Tools."""

from .instance import DEFAULT_WORK_AREAS, INSTANCE_FORMAT, Instance, instance_warnings, parse_instance
from .io import LoadedInstance, load_instance, load_solution, parse_solution, solution_bytes, write_atomic
from .problems import InputError, Problem
from .solution import SOLUTION_FORMAT, Solution

__all__ = [
    "DEFAULT_WORK_AREAS",
    "INSTANCE_FORMAT",
    "SOLUTION_FORMAT",
    "InputError",
    "Instance",
    "LoadedInstance",
    "Problem",
    "Solution",
    "instance_warnings",
    "load_instance",
    "load_solution",
    "parse_instance",
    "parse_solution",
    "solution_bytes",
    "write_atomic",
]
