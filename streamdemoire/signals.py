"""Which threads take a process's signals: the main thread, where Python runs the handlers.

Python runs a signal's handler in the main thread only, and only when that thread next runs
bytecode. The kernel may hand a process signal to any thread that does not block it (on
this development machine it handed a worker's grace-period SIGALRM to a pipeline stage
thread, and the handler waited for the whole job to end). So the pipeline starts its stage
threads with the handled signals blocked (``blocked``: a thread inherits its creator's
mask), and whatever a stage starts that must see signals again, an ffmpeg relay process,
is started with them unblocked (``unblocked``: a child process inherits the mask too, and
an ffmpeg that blocks SIGTERM cannot be asked to finish its output).

And commands that write files turn SIGTERM into ``Terminated``, a KeyboardInterrupt, for
as long as they run (``sigterm_as_interrupt``): ``timeout``, a service manager or ``kill``
then stop them as Ctrl-C does, with nothing half-written left behind, where Python's
default would end the process on the spot and leave the unfinished output's temporary file.
"""

from __future__ import annotations

import contextlib
import signal
import threading
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


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be, so that the run stops the same way."""


def stopped_by(exc: KeyboardInterrupt) -> tuple[str, int]:
    """The one-line message and exit status of a command a signal stopped: 128 plus the
    signal's number, as a shell reports a process it killed (143 SIGTERM, 130 Ctrl-C)."""
    if isinstance(exc, Terminated):
        return "terminated", 128 + signal.SIGTERM
    return "interrupted", 128 + signal.SIGINT


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Meanwhile SIGTERM raises ``Terminated`` in the main thread (elsewhere, where handlers
    cannot be set, nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: object) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
