"""How figures read in the terminal's tables: one rule for every percentage and count,
so that a column never shows "98%" beside "96.07%" or "1,312" beside "1626"."""

from __future__ import annotations

from typing import Optional


def percent(x: Optional[float]) -> str:
    """A share as a percentage with one decimal ("98.0%", "96.1%"); a positive share that
    would round to zero reads "<0.1%" (an open gap never looks closed); None reads "-"."""
    if x is None:
        return "-"
    if 0 < x < 0.0005:
        return "<0.1%"
    return f"{100 * x:.1f}%"


def amount(x: Optional[float]) -> str:
    """A count, weight or sum of money with thousands separators ("1,312", "43.5",
    "1,091,322"); None reads "-"."""
    if x is None:
        return "-"
    if isinstance(x, float) and not x.is_integer():  # weights: the decimals they have, never an exponent
        return f"{x:,.6f}".rstrip("0")
    return f"{x:,.0f}"
