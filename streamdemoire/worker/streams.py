"""Live streams kept running by the worker: ``--streams streams.toml``.

```toml
[defaults]                 # options every stream gets (a stream's own win)
device = "cuda:0"

[[stream]]
name = "lobby"             # unique; names the stream in logs, /healthz and metrics
source = "rtsp://10.0.0.5/stream1"
sink = "rtsp://127.0.0.1:8554/lobby"
options = { max-latency = 200, give-up-after = 30 }
```

Each stream runs as its own ``streamdemoire live SOURCE -o SINK --OPTION VALUE ...`` process
(``true`` gives a bare ``--OPTION``, ``false`` leaves it out, a list repeats it), so a stream
that crashes, even inside FFmpeg, takes nothing else down. Its supervisor restarts it with
exponential backoff and jitter, and starts the backoff over once a run has lasted a while.
Every stream's state (running or waiting to restart, pid, restarts, last exit and error
line) is in /healthz and the ``streamdemoire_stream_*`` metrics.

``live`` itself is a separate command (issue 6); the supervisor only needs it to keep
running until stopped, to exit non-zero when it gives up, and to stop cleanly on SIGTERM.
"""

from __future__ import annotations

import logging
import random
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError

log = logging.getLogger("streamdemoire.worker")


@dataclass(frozen=True)
class StreamSpec:
    name: str
    source: str
    sink: str
    options: dict = field(default_factory=dict)

    def command(self) -> list[str]:
        """The ``streamdemoire live`` command line for this stream."""
        argv = [sys.executable, "-m", "streamdemoire", "live", self.source, "-o", self.sink]
        for key, value in self.options.items():
            for item in value if isinstance(value, list) else [value]:
                if item is True:
                    argv.append(f"--{key}")
                elif item is not False:
                    argv += [f"--{key}", str(item)]
        return argv


def load_streams(path: Path) -> list[StreamSpec]:
    """Read streams.toml; any mistake is one ``UserError`` naming the file and the stream."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"streams file not found: {path}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"{path}: {exc}") from None
    unknown = set(data) - {"defaults", "stream"}
    if unknown:
        raise UserError(f"{path}: unknown table(s) {', '.join(sorted(unknown))}; "
                        "expected [defaults] and [[stream]]")
    defaults = data.get("defaults", {})
    entries = data.get("stream", [])
    if not isinstance(defaults, dict) or not isinstance(entries, list) or not entries:
        raise UserError(f"{path}: no [[stream]] entries")
    streams = [_stream(path, i, entry, defaults) for i, entry in enumerate(entries)]
    names = [s.name for s in streams]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UserError(f"{path}: stream names must be unique: {', '.join(duplicates)}")
    return streams


def _stream(path: Path, index: int, entry: dict, defaults: dict) -> StreamSpec:
    where = f"{path}: stream {entry.get('name', index + 1)!s}"
    unknown = set(entry) - {"name", "source", "sink", "options"}
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    for key in ("name", "source", "sink"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise UserError(f"{where}: needs {key} = \"...\"")
    if entry["sink"] == "-":
        raise UserError(f"{where}: sink '-' (stdout) has no reader under the worker")
    options = entry.get("options", {})
    if not isinstance(options, dict):
        raise UserError(f"{where}: options must be a table")
    return StreamSpec(entry["name"], entry["source"], entry["sink"], {**defaults, **options})


@dataclass
class Backoff:
    """Restart delays: doubling from ``first`` to ``cap``, with jitter so streams that failed
    together (a shared camera network) do not retry in lockstep."""

    first: float = 1.0
    cap: float = 60.0
    #: A run that lasted this long counts as healthy: the next failure starts from ``first``.
    stable_after: float = 60.0
    failures: int = 0

    def next_delay(self, ran_for: float) -> float:
        if ran_for >= self.stable_after:
            self.failures = 0
        delay = min(self.cap, self.first * 2 ** self.failures)
        self.failures += 1
        return delay * random.uniform(0.8, 1.2)


class StreamSupervisor:
    """Keeps one stream's process running until ``stop()``; its state is ``state()``."""

    def __init__(self, name: str, argv: list[str], *, backoff: Backoff | None = None,
                 on_change: Callable[[StreamSupervisor], None] | None = None) -> None:
        self.name, self.argv = name, argv
        self.backoff = backoff or Backoff()
        self.on_change = on_change
        self.status = "starting"
        self.pid: int | None = None
        self.restarts = 0
        self.last_exit: int | None = None
        self.last_error: str | None = None
        self.since = time.time()
        self._process: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"stream-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the stream (it closes its output cleanly), SIGKILL after ``grace``."""
        self._stop.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                process.kill()
        self._thread.join(grace + 5)

    def state(self) -> dict:
        return {"name": self.name, "state": self.status, "pid": self.pid,
                "restarts": self.restarts, "last_exit": self.last_exit,
                "last_error": self.last_error, "since": round(self.since, 3)}

    def _set(self, status: str, pid: int | None = None) -> None:
        self.status, self.pid, self.since = status, pid, time.time()
        if self.on_change is not None:
            self.on_change(self)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self._run_once()
            if self._stop.is_set():
                break
            delay = self.backoff.next_delay(time.monotonic() - started)
            log.warning("stream %s exited (code %s: %s); restarting in %.1f s", self.name,
                        self.last_exit, self.last_error or "no message", delay)
            self._set("backoff")
            if self._stop.wait(delay):
                break
            self.restarts += 1
        self._set("stopped")

    def _run_once(self) -> None:
        try:
            process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                       text=True, errors="replace")
        except OSError as exc:
            self.last_exit, self.last_error = None, f"cannot start: {exc}"
            return
        self._process = process
        if self._stop.is_set():  # stop() came while it was starting
            process.terminate()
        self._set("running", process.pid)
        log.info("stream %s running (pid %d)", self.name, process.pid)
        for line in process.stderr:  # its log, forwarded; the last line says why it ended
            line = line.rstrip()
            if line:
                self.last_error = line
                log.info("[%s] %s", self.name, line)
        self.last_exit = process.wait()
        self._process = None
