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


class Worker:
    """``call()`` started in a daemon thread with the caller's context variables. :meth:`wait`
    waits for it in the calling thread, where Ctrl-C (KeyboardInterrupt) then arrives at once."""

    def __init__(self, call: Callable[[], T]) -> None:
        self._outcome: dict[str, Any] = {}
        # not Thread.join: a join cut by Ctrl-C may report a running thread ended
        self.done = threading.Event()
        context = contextvars.copy_context()

        def work() -> None:
            try:
                self._outcome["value"] = context.run(call)
            except BaseException as exc:  # SystemExit and click's exits too: re-raised by wait
                self._outcome["error"] = exc
            finally:
                self.done.set()

        threading.Thread(target=work, name="wopmatch-worker", daemon=True).start()

    def wait(self) -> Any:
        """The call's value, or its exception raised here."""
        while not self.done.wait(0.2):
            pass
        if "error" in self._outcome:
            raise self._outcome["error"]
        return self._outcome["value"]


def run_stoppable(call: Callable[[], T]) -> T:
    """``call()`` in a :class:`Worker`. Ctrl-C while it waits (KeyboardInterrupt, in the main
    thread) stops the solve (:func:`stop`), waits up to STOP_WAIT seconds for it to end, and
    reaches the caller."""
    reset()
    worker = Worker(call)
    try:
        return worker.wait()
    except KeyboardInterrupt:
        stop()
        worker.done.wait(STOP_WAIT)
        reset()
        raise


#: Seconds a stopped solve is given to end before KeyboardInterrupt reaches the caller anyway.
STOP_WAIT = 10.0
