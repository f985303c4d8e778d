"""Matching policies: one small interface, a registry built from the classes.

A policy reads the candidate graph and returns an :class:`Assignment`; the
shared decoder, explainer, metrics and verifier do the rest. Each module
defines one family; every concrete :class:`Policy` subclass defined in them
is registered under its ``name`` (docs/policies.md describes each).
"""

from __future__ import annotations

from ..errors import UnknownPolicyError, UnsupportedMethodError
from . import baselines, equity, maxmin, mincost, optimal, stable  # noqa: F401  (they define the policies)
from .base import (
    DEPRECATED_METHODS,
    ORTOOLS_VERSION,
    PRICED_METHODS,
    Policy,
    PolicyOptions,
    concrete_policies,
    deprecation,
    priced_method,
)
from .equity import GROUP_KEYS
from .optimal import METHODS, OptimalPolicy, choose_method

#: name -> policy class; ``optimal`` first, then by name.
POLICIES: dict[str, type[Policy]] = {
    cls.name: cls for cls in sorted(concrete_policies(), key=lambda c: (c.name != "optimal", c.name))}


def get_policy(name: str) -> Policy:
    try:
        return POLICIES[name]()
    except KeyError:
        raise UnknownPolicyError(f"unknown policy {name!r}; valid policies: {', '.join(POLICIES)}") from None


__all__ = ["DEPRECATED_METHODS", "GROUP_KEYS", "METHODS", "ORTOOLS_VERSION", "POLICIES", "PRICED_METHODS", "OptimalPolicy", "Policy",
           "PolicyOptions", "UnknownPolicyError", "UnsupportedMethodError", "choose_method", "deprecation", "get_policy",
           "priced_method"]
