"""The commands' malloc settings: applied on glibc, left alone where the user set their own."""

from __future__ import annotations

import platform

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
