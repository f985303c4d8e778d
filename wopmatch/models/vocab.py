"""Country and language codes checked against ISO 3166-1 and ISO 639 (pycountry's
data, docs/format.md §2), with the suggestion a person needs: the alpha-2 code of
an alpha-3 code or of a country's name, the code of a language's name, or the
closest code or label."""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from typing import Iterable, Optional


@lru_cache(maxsize=1)
def _countries() -> dict[str, str]:
    import pycountry

    return {c.alpha_2: getattr(c, "common_name", c.name) for c in pycountry.countries}


@lru_cache(maxsize=1)
def _languages() -> dict[str, str]:
    """Every language's code -> its name: ISO 639-1 (two letters) where the language has
    one, else ISO 639-3 (three letters). One code per language, because the language rule
    compares codes exactly: 'eng' would never meet 'en'."""
    import pycountry

    return {getattr(lang, "alpha_2", None) or lang.alpha_3: lang.name for lang in pycountry.languages}


def country_problem(value: str) -> Optional[str]:
    """None for an ISO 3166-1 alpha-2 code, else why not and what was probably meant."""
    if value in _countries():
        return None
    import pycountry

    hint = ""
    found = None
    try:
        found = pycountry.countries.lookup(value.strip())  # an alpha-3 code, a number, a name
    except LookupError:
        try:
            found = pycountry.countries.search_fuzzy(value.strip())[0] if len(value.strip()) > 3 else None
        except LookupError:
            found = None
    if found is not None:
        hint = f"; did you mean {found.alpha_2!r} ({getattr(found, 'common_name', found.name)})?"
    elif len(value) == 2:
        close = closest(value.upper(), _countries())
        hint = f"; did you mean {close!r} ({_countries()[close]})?" if close else ""
    return f"{value!r} is not an ISO 3166-1 two-letter country code{hint}"


def language_problem(value: str) -> Optional[str]:
    """None for a language's ISO 639-1 code (its ISO 639-3 code where it has no 639-1 code),
    else why not and what was probably meant."""
    if value in _languages():
        return None
    if value.strip().lower() in _languages():
        code = value.strip().lower()
        return f"{value!r} is not an ISO 639 language code; did you mean {code!r} ({_languages()[code]})?"
    import pycountry

    hint = ""
    found = None
    try:
        found = pycountry.languages.lookup(value.strip())  # a code in capitals, a language's name
    except LookupError:
        found = None
    if found is not None:
        code = getattr(found, "alpha_2", None) or found.alpha_3
        if value == found.alpha_3:
            return (f"{value!r} is the ISO 639-3 code of {found.name}; write {code!r} (ISO 639-1), as the "
                    "shared-language rule compares codes exactly")
        hint = f"; did you mean {code!r} ({found.name})?"
    else:
        close = closest(value.lower(), [c for c in _languages() if len(c) == len(value)] or _languages())
        hint = f"; did you mean {close!r} ({_languages()[close]})?" if close else ""
    return f"{value!r} is not an ISO 639 language code{hint}"


def closest(value: str, labels: Iterable[str], cutoff: float = 0.6) -> Optional[str]:
    """The label most like ``value`` (case, spaces, hyphens and underscores aside first;
    then difflib's ratio of at least ``cutoff``)."""
    labels = list(labels)
    norm = _norm(value)
    for label in labels:
        if _norm(label) == norm:
            return label
    found = difflib.get_close_matches(value, labels, n=1, cutoff=cutoff)
    return found[0] if found else None


def _norm(label: str) -> str:
    return "".join(ch for ch in label.lower() if ch.isalnum())


def near_duplicates(labels: Iterable[str]) -> list[tuple[str, str]]:
    """Pairs of distinct labels that differ only in case, spaces, hyphens or underscores."""
    seen: dict[str, str] = {}
    out = []
    for label in sorted(set(labels)):
        key = _norm(label)
        if key in seen:
            out.append((seen[key], label))
        else:
            seen[key] = label
    return out


def country_name(code: str) -> str:
    """A country's common name (``KE`` -> ``Kenya``); the code itself when it names none."""
    return _countries().get(code, code)


def language_name(code: str) -> str:
    """A language's name (``fr`` -> ``French``, ``sw`` -> ``Swahili``: ISO 639's qualifier in
    brackets dropped); the code itself when it names none."""
    name = _languages().get(code)
    return code if name is None else re.sub(r" \([^)]*\)$", "", name)
