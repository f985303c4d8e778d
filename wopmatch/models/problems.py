"""Problems found in an input, each named by where it is.

Every reader collects *all* problems before giving up, so a facilitator fixes a
file in one pass. A problem's ``where`` is a JSON path such as
``operators[12].mentor.capacity`` (or, for spreadsheets, sheet/row/column).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence


@dataclass(frozen=True)
class Problem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class InputError(ValueError):
    """An input was rejected; ``problems`` lists every reason. A ValueError, as a bad argument is
    in Python (and pandas, scikit-learn): ``except ValueError`` catches it."""

    def __init__(self, problems: Sequence[Problem], source: str = "") -> None:
        self.problems = list(problems)
        self.source = source
        head = f"{source}: " if source else ""
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{head}{len(self.problems)} problem(s)\n{lines}")


class MissingFileError(InputError, FileNotFoundError):
    """An input path that does not exist: an InputError like every rejected input, and the
    FileNotFoundError that ``open`` (and pandas) raise, so ``except FileNotFoundError``
    catches it too."""


def json_path(loc: Iterable[object]) -> str:
    """``("operators", 12, "mentor", "capacity")`` -> ``operators[12].mentor.capacity``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
