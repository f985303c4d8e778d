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


#: How alike a misspelt name and a country's or language's name must be (difflib's ratio) to
#: be suggested: 'Kenia' and 'Kenya' score 0.80, 'englsh' and 'English' 0.92, 'Frensh' and
#: 'French' 0.83; 'Germny' and 'Germany' 0.92.
NAME_CUTOFF = 0.75


def _by_name(value: str, names: dict[str, list[str]], tiers: list[Iterable[str]]) -> Optional[str]:
    """The code whose name is most like ``value``, searched tier by tier (the round's own
    codes first), so a close name the round already uses wins over a closer obscure one."""
    want = value.strip().lower()
    for tier in tiers:
        spelled = {n.lower(): code for code in tier for n in names.get(code, ())}
        found = difflib.get_close_matches(want, list(spelled), n=1, cutoff=NAME_CUTOFF)
        if found:
            return spelled[found[0]]
    return None


@lru_cache(maxsize=1)
def _country_names() -> dict[str, list[str]]:
    import pycountry

    return {c.alpha_2: [n for n in (getattr(c, "common_name", None), c.name, getattr(c, "official_name", None)) if n]
            for c in pycountry.countries}


@lru_cache(maxsize=1)
def _language_names() -> dict[str, list[str]]:
    return {code: [name, re.sub(r" \([^)]*\)$", "", name)] for code, name in _languages().items()}


def country_problem(value: str, used: Iterable[str] = ()) -> Optional[str]:
    """None for an ISO 3166-1 alpha-2 code, else why not and what was probably meant (a
    misspelt name matched against every country's names, those in ``used`` first)."""
    if value in _countries():
        return None
    import pycountry

    code = None
    try:
        code = pycountry.countries.lookup(value.strip()).alpha_2  # an alpha-3 code, a number, a name
    except LookupError:
        if len(value.strip()) > 3:
            code = _by_name(value, _country_names(), [[c for c in used if c in _countries()], _countries()])
    if code is None and len(value) == 2:
        code = closest(value.upper(), _countries())
    hint = f"; did you mean {code!r} ({_countries()[code]})?" if code else ""
    return f"{value!r} is not an ISO 3166-1 two-letter country code{hint}"


def language_problem(value: str, used: Iterable[str] = ()) -> Optional[str]:
    """None for a language's ISO 639-1 code (its ISO 639-3 code where it has no 639-1 code),
    else why not and what was probably meant (a misspelt name matched against the names of
    the languages in ``used``, then of those with a two-letter code, then of every one)."""
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
        close = None
        if len(value.strip()) > 3:
            close = _by_name(value, _language_names(), [[c for c in used if c in _languages()],
                                                         [c for c in _languages() if len(c) == 2], _languages()])
        if close is None and len(value.strip()) <= 3:
            close = closest(value.lower(), [c for c in _languages() if len(c) == len(value)] or _languages())
        hint = f"; did you mean {close!r} ({language_name(close)})?" if close else ""
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


def spellings(labels: Iterable[str]) -> list[list[str]]:
    """Groups of two or more distinct labels that differ only in case, spaces, hyphens or
    underscores ('Sub Saharan Africa', 'Sub-Saharan Africa', 'sub-saharan-africa'), each
    sorted, in order of their first label."""
    groups: dict[str, list[str]] = {}
    for label in sorted(set(labels)):
        groups.setdefault(_norm(label), []).append(label)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: g[0])


def country_name(code: str) -> str:
    """A country's common name (``KE`` -> ``Kenya``); the code itself when it names none."""
    return _countries().get(code, code)


def language_name(code: str) -> str:
    """A language's name (``fr`` -> ``French``, ``sw`` -> ``Swahili``: ISO 639's qualifier in
    brackets dropped); the code itself when it names none."""
    name = _languages().get(code)
    return code if name is None else re.sub(r" \([^)]*\)$", "", name)
