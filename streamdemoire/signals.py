"""Which threads take a process's signals: the main thread, where Python runs the handlers.

Python runs a signal's handler in the main thread only, and only when that thread next runs
bytecode. The kernel may hand a process signal to any thread that does not block it (on
this development machine it handed a worker's grace-period SIGALRM to a pipeline stage
thread, and the handler waited for the whole job to end). So the pipeline starts its stage
threads with the handled signals blocked (``blocked``: a thread inherits its creator's
mask), and whatever a stage starts that must see signals again, an ffmpeg relay process,
is started with them unblocked (``unblocked``: a child process inherits the mask too, and
an ffmpeg that blocks SIGTERM cannot be asked to finish its output).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

#: Asynchronous signals a program may handle (Ctrl-C, a worker's SIGTERM and grace-period
#: SIGALRM, Celery's SIGQUIT and SIGUSR1); not the faults (SIGSEGV ...), whose default the
#: kernel forces anyway on a thread that blocks them.
HANDLED = frozenset(getattr(signal, name) for name in
                    ("SIGINT", "SIGTERM", "SIGALRM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")
                    if hasattr(signal, name))


@contextlib.contextmanager
def _masked(how: str) -> Iterator[None]:
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no masks, and no such signals
        yield
        return
    previous = signal.pthread_sigmask(getattr(signal, how), HANDLED)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def blocked() -> contextlib.AbstractContextManager[None]:
    """The handled signals blocked in this thread (and in threads started meanwhile); one
    that comes meanwhile is delivered when the block ends."""
    return _masked("SIG_BLOCK")


def unblocked() -> contextlib.AbstractContextManager[None]:
    """The handled signals unblocked in this thread meanwhile: for starting a process."""
    return _masked("SIG_UNBLOCK")
