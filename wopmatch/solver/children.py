"""Child processes that die with their parent (Linux's PR_SET_PDEATHSIG): a scenario
sweep's pool workers and a service job call ``die_with_parent`` first thing, so that killing a
``wopmatch`` command, or a job, leaves no solver running on (issue: no orphan)."""

from __future__ import annotations

import ctypes
import os
import signal

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent ends; exit at once if the
    parent (pid ``parent``) has ended already. Elsewhere than Linux, nothing is asked."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(3)
