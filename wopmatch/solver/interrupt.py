"""Stopping a solve at once when its caller asks (Ctrl-C in the Python API, docs/python.md).

Python sees Ctrl-C only in the main thread and only between two of its own steps, never inside
HiGHS, CP-SAT or a compiled kernel; CP-SAT would even take the signal for itself and return its
best answer as if its limit had passed. So the API solves in a worker thread and, on Ctrl-C,
calls :func:`stop`: the CP-SAT and HiGHS solves under way are told to stop (each registered
here while it runs), and the engine raises KeyboardInterrupt at its next :func:`check` (after
every native solve, and at every progress report). A process runs one solve that can be
stopped at a time; :func:`reset` clears the request before the next.
"""

from __future__ import annotations

import contextvars
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

T = TypeVar("T")

_STOP = threading.Event()
_CANCELS: set[Callable[[], None]] = set()
_LOCK = threading.Lock()


def stop() -> None:
    """Ask the solve under way to stop: its native solves now, the engine at its next check."""
    _STOP.set()
    with _LOCK:
        cancels = list(_CANCELS)
    for cancel in cancels:
        cancel()


def reset() -> None:
    _STOP.clear()


def check() -> None:
    """Raise KeyboardInterrupt if a stop was asked for."""
    if _STOP.is_set():
        raise KeyboardInterrupt


@contextmanager
def cancellable(cancel: Callable[[], None]) -> Iterator[None]:
    """While the block runs, :func:`stop` calls ``cancel`` (a native solver's own stop); a stop
    asked before the block cancels at once, and the block's end checks."""
    with _LOCK:
        _CANCELS.add(cancel)
    try:
        if _STOP.is_set():
            cancel()
        yield
    finally:
        with _LOCK:
            _CANCELS.discard(cancel)
    check()


def run_stoppable(call: Callable[[], T]) -> T:
    """``call()`` in a worker thread (with the caller's context variables), the calling thread
    waiting for it. Ctrl-C while it waits (KeyboardInterrupt, in the main thread) stops the solve
    (:func:`stop`), waits up to STOP_WAIT seconds for it to end, and reaches the caller."""
    outcome: dict[str, Any] = {}
    context = contextvars.copy_context()
    done = threading.Event()  # not Thread.join: a join cut by Ctrl-C may report a running thread ended

    def work() -> None:
        try:
            outcome["value"] = context.run(call)
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc
        finally:
            done.set()

    reset()
    threading.Thread(target=work, name="wopmatch-solve", daemon=True).start()
    try:
        while not done.wait(0.2):
            pass
    except KeyboardInterrupt:
        stop()
        done.wait(STOP_WAIT)
        reset()
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


#: Seconds a stopped solve is given to end before KeyboardInterrupt reaches the caller anyway.
STOP_WAIT = 10.0
