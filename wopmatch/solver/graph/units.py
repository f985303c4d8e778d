"""The integer units the exact methods optimise in (docs/model.md).

Coverage is counted in units of ``WEIGHT_RESOLUTION`` (the graph's
``mentee_weight_units``); quality, a real number (weight x score), in units of
1 / ``QUALITY_SCALE`` by default, or coarser where a flow's costs must fit a
smaller range. This is the one place quality units are computed.
"""

from __future__ import annotations

import numpy as np

#: Quality (weight * score) is optimised in units of 1e-9 unless a coarser scale is asked for.
QUALITY_SCALE = 10**9


def quality_units(weight: np.ndarray, score: np.ndarray, scale: int = QUALITY_SCALE) -> np.ndarray:
    """round(weight x score x scale) as int64 (``weight`` and ``score`` broadcast: a
    pair list, or a block of mentee rows against all mentors)."""
    return np.rint(weight * score * scale).astype(np.int64)
