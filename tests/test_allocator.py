"""The commands' malloc settings: applied on glibc, left alone where the user set their own;
and trimming, which gives a long-lived process's scattered free memory back."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from streamdemoire.allocator import USER_SETTINGS_ENV, keep_freed_memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_applied_on_glibc(monkeypatch):
    for name in (*USER_SETTINGS_ENV, "GLIBC_TUNABLES"):
        monkeypatch.delenv(name, raising=False)
    assert keep_freed_memory() is True


@pytest.mark.parametrize("name, value", [("MALLOC_ARENA_MAX", "4"),
                                         ("GLIBC_TUNABLES", "glibc.malloc.mmap_max=0")])
def test_a_users_own_malloc_settings_win(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    assert keep_freed_memory() is False


#: A process keeps 300 MB of 1 KB blocks (above Python's small-object size, so from malloc)
#: and one block allocated after them, which pins the heap's top; it frees the rest with
#: glibc's automatic trimming off (as the commands set it) and prints its resident MB before
#: and after ``release_freed_memory``.
_SCATTERED = """
import os
from streamdemoire.allocator import keep_freed_memory, release_freed_memory
def rss():
    return int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE') >> 20
keep_freed_memory()
blocks = [bytes(1000) + bytes([i % 256]) for i in range(300_000)]
pin = bytes(1000) + b'pin'
del blocks
before = rss()
assert release_freed_memory()
print(before, rss())
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc_trim only")
def test_release_gives_scattered_free_memory_back():
    result = subprocess.run([sys.executable, "-c", _SCATTERED], capture_output=True, text=True,
                            check=True, env={"PATH": "/usr/bin:/bin"})
    before, after = map(int, result.stdout.split())
    assert before - after > 150, (before, after)
