"""wopmatch: match water and sanitation utilities into Water Operators' Partnerships.

``import wopmatch as wm`` gives the Python API (docs/python.md, wopmatch/api.py):
``wm.generate``, ``wm.load``, ``wm.solve``, ``wm.verify``, ``wm.explain``,
``wm.compare``, the tables, the plots and ``wm.write``.
"""

__version__ = "0.1.0"

from .api import *  # noqa: E402,F401,F403  (the names of api.__all__)
from .api import __all__ as _api_names  # noqa: E402

__all__ = ["__version__", *_api_names]
