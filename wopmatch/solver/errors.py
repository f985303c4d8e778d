"""Errors a solve can end with that are not bad input: shells report them
as a message and exit code 1, never as a traceback."""


class SolveError(RuntimeError):
    """The chosen method cannot solve this instance (the message says why and what to use)."""
