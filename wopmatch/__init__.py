"""wopmatch: match water and sanitation utilities into Water Operators' Partnerships.

``import wopmatch as wm`` gives the Python API (docs/python.md, wopmatch/api.py):
``wm.generate``, ``wm.load``, ``wm.solve``, ``wm.verify``, ``wm.explain``,
``wm.compare``, the tables, the plots and ``wm.write``. They are loaded on first use,
so ``import wopmatch.models`` (a service job before it caps its memory, a reader of
files) does not load the solver.
"""

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # for type checkers and editors: the names api.__all__ lists
    from .api import *  # noqa: F401,F403


def __getattr__(name: str) -> Any:
    api = importlib.import_module("wopmatch.api")  # not `from . import api`: that asks this hook again
    if name == "__all__":
        return ["__version__", *api.__all__]
    if name in api.__all__:
        return getattr(api, name)
    raise AttributeError(f"module 'wopmatch' has no attribute {name!r}")


def __dir__() -> list[str]:
    api = importlib.import_module("wopmatch.api")
    return sorted({*globals(), *api.__all__})
