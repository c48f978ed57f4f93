"""glibc's malloc, tuned for a process that runs frames through the model.

Every batch allocates and frees the same few hundred MB of tensors: the network's activations
and the smoother's frame-sized temporaries. glibc serves each block above its mmap threshold
(32 MiB at most, and most of them are larger at 720p) with a fresh ``mmap`` and unmaps it when
it is freed, so every batch faults its whole working set in from the kernel again, zero-filled.
Profiling ``clean`` at 720p on 2 cores found 78,000 page faults and 0.15 CPU-seconds of kernel
time per frame: over a quarter of all its CPU (docs/bench.md). So the commands, whose process
is theirs alone, keep freed memory for reuse instead: no ``mmap`` for large blocks, no trimming
of the heap, and one arena for all threads (a block the network's thread freed is reused by
the smoother's). Page faults fell to 14,000 and kernel time to 0.03-0.05 s per frame; the
peak resident memory grew by 2 to 5%. Frames are computed exactly as before: only where their memory
comes from changes.

The library leaves malloc alone (it is the host application's), and so does a process whose
user set glibc's malloc options in the environment: theirs win.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform

log = logging.getLogger(__name__)

# mallopt(3) parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
M_ARENA_MAX = -8

#: What the commands set: nothing mapped per block, nothing given back, one arena.
SETTINGS = {M_MMAP_MAX: 0, M_TRIM_THRESHOLD: 2**31 - 1, M_ARENA_MAX: 1}

#: Environment variables through which a user sets glibc's malloc options (and
#: ``GLIBC_TUNABLES`` where it names a ``glibc.malloc`` one).
USER_SETTINGS_ENV = ("MALLOC_ARENA_MAX", "MALLOC_MMAP_MAX_", "MALLOC_MMAP_THRESHOLD_",
                     "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


def _glibc_function(name: str, *argtypes):
    """glibc's function ``name`` with its argument types set, or None on another C library."""
    if platform.libc_ver()[0] != "glibc":
        return None
    try:
        function = getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None
    function.argtypes = list(argtypes)
    return function


def keep_freed_memory() -> bool:
    """Apply ``SETTINGS`` to this process (glibc only; call it before the model runs, while
    the process has few threads). Returns whether they were applied."""
    if (any(name in os.environ for name in USER_SETTINGS_ENV)
            or "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", "")):
        return False
    mallopt = _glibc_function("mallopt", ctypes.c_int, ctypes.c_int)
    if mallopt is None:
        return False
    applied = all(mallopt(param, value) == 1 for param, value in SETTINGS.items())
    log.debug("malloc tuned for frames: %s", applied)
    return applied


def release_freed_memory() -> bool:
    """Hand the heap's free pages back to the kernel (glibc's ``malloc_trim``); returns whether
    it could be called.

    For long-lived processes that make many differently sized temporaries, such as
    tools/train.py's data workers: each simulated pair leaves its freed blocks scattered through
    the heap, where glibc keeps them, and a worker grew by about 8.7 MB per pair (496 to
    1104 MB from its 10th to its 80th 320x320 pair; 3.8 GB in a long run). Trimming after every
    tenth pair held it to about 2.4 MB per pair (297 to 468 MB), the rest mostly the simulator's
    glyph and word caches filling up (bounded: ``synth.content``). Each call costs time, as the
    pages it gives back fault in again when reused: call it now and then, not per allocation.
    """
    malloc_trim = _glibc_function("malloc_trim", ctypes.c_size_t)
    if malloc_trim is None:
        return False
    malloc_trim(0)
    return True
