"""Errors a solve can end with that are not bad input: shells report them
as a message and exit code 1, never as a traceback."""


class SolveError(RuntimeError):
    """The chosen method cannot solve this instance (the message says why and what to use)."""


class UnsupportedMethodError(SolveError, ValueError):
    """A forced method (or policy) that cannot solve this instance (never silently replaced)."""


class UnknownPolicyError(ValueError):
    """A policy name that is not in the registry (the message lists the valid ones)."""
