"""Helpers for the worker tests: real processes (redis-server, ``streamdemoire worker``).

Every process is started in its own session so a test can SIGKILL a worker together with its
pool processes, as a crash or the OOM killer would, and nothing outlives the test.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import av
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check: Callable[[], object], what: str, timeout: float = 60.0,
             every: float = 0.1) -> object:
    """Poll ``check`` until it returns something truthy; fail the test after ``timeout``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


class Process:
    """A child process with its output in a log file."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log_path = log
        with open(log, "wb") as out:
            self.popen = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True,
                                          env={**os.environ, **(env or {})})

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal_group(self, sig: int) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)

    def kill(self) -> None:
        """SIGKILL the process and everything it started, and reap it."""
        self.signal_group(signal.SIGKILL)
        self.popen.wait(30)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then SIGKILL if it does not end in ``timeout``; returns the exit code."""
        self.signal_group(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.popen.returncode


def redis_server(folder: Path) -> tuple[Process, str]:
    """A throwaway redis-server on 127.0.0.1 (no persistence); returns it and its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("needs redis-server (Debian: apt-get install redis-server)")
    port = free_port()
    server = Process([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                      "--appendonly", "no", "--dir", str(folder)], folder / "redis.log")
    url = f"redis://127.0.0.1:{port}/0"

    def answers() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    wait_for(answers, "redis-server to answer", timeout=30)
    return server, url


def start_worker(log: Path, *args: str | Path) -> Process:
    """``python -m streamdemoire worker ARGS`` on one thread (tiny clips, busy machines)."""
    argv = [sys.executable, "-m", "streamdemoire", "worker", "--threads", "1", *map(str, args)]
    return Process(argv, log, env={"PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"})


def frame_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def hidden_leftovers(folder: Path) -> list[str]:
    """Temporary files or staging folders a job may have left (all are hidden names)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))
