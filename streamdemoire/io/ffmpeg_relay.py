"""Reaching a stream that PyAV's own FFmpeg cannot, through the system ``ffmpeg`` as a relay.

Why: PyAV's binary wheels bundle an FFmpeg built without libsrt, so they have no ``srt://``
protocol, while a distribution's ``ffmpeg`` (Debian's, for one) has it. Rather than ask
for a PyAV built by hand, a source PyAV cannot open is read by

    ffmpeg -i srt://... -map 0:v -c copy -f mpegts pipe:1

and PyAV demuxes the MPEG-TS from that pipe; an output PyAV cannot open is written as
MPEG-TS to the stdin of ``ffmpeg -f mpegts -i pipe:0 -c copy -f mpegts srt://...``. The
relay copies packets (``-c copy``): it costs a process and a pipe, not a decode.

How it keeps the live job's promises:

- A relay belongs to one connection. When it exits, its pipe ends, and the connection has
  ended like any other (a source reconnects with a new relay). What it wrote on stderr says
  why, in ffmpeg's words (``failure()``).
- FFmpeg's timeouts go to the relay (the socket is its), and it blocks nobody: a PyAV read
  stuck on the pipe returns as soon as the relay is terminated, which is how a watchdog
  abandons a silent connection.
- It runs in a session of its own, so a Ctrl-C at the terminal reaches streamdemoire alone,
  which then finishes its output and stops the relay in order (an output relay must get the
  last packets, then end of file). Stopping terminates it (SIGTERM, then SIGKILL after a
  grace) and always waits for it: no zombie is left.
- If streamdemoire dies without stopping it, its pipe breaks and it exits by itself.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import functools
import glob
import logging
import re
import shutil
import signal
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlsplit

import av

from .. import signals
from ..errors import UserError

log = logging.getLogger(__name__)

#: Schemes that name a demuxer rather than a URL protocol: FFmpeg's protocol list does not
#: show them, and PyAV's build has them.
DEMUXER_SCHEMES = frozenset({"rtsp", "rtsps"})
#: Protocols PyAV's binary wheels are known to lack, for when its build cannot be asked.
WHEELS_LACK = frozenset({"srt"})
#: Seconds a relay gets to exit after SIGTERM (and an output relay after its end of file)
#: before it is killed.
STOP_GRACE_S = 2.0
#: Lines of the relay's stderr kept for error messages.
STDERR_LINES = 20
#: A line logged by an FFmpeg component itself: ``[srt @ 0x5575...] message``.
_PROTOCOL_LINE = re.compile(r"^\[\w+ @ 0x[0-9a-f]+\] (.+)$")


def scheme_of(url: str) -> str:
    return urlsplit(url).scheme.lower()


@functools.cache
def pyav_protocols(output: bool) -> frozenset[str] | None:
    """The URL protocols PyAV's FFmpeg can read (or write, with ``output``), asked of the
    libavformat PyAV loaded (``avio_enum_protocols``; PyAV itself has no call for it), or
    None when that library cannot be found."""
    path = _loaded_libavformat()
    if path is None:
        return None
    try:
        enum = ctypes.CDLL(path).avio_enum_protocols
    except (OSError, AttributeError):
        return None
    enum.restype = ctypes.c_char_p
    enum.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int]
    opaque, names = ctypes.c_void_p(None), set()
    while (name := enum(ctypes.byref(opaque), int(output))) is not None:
        names.add(name.decode())
    return frozenset(names)


def _loaded_libavformat() -> str | None:
    """The file of the libavformat in this process (PyAV's, once ``av`` is imported)."""
    maps = Path("/proc/self/maps")
    if maps.exists():
        for line in maps.read_text().splitlines():
            if "libavformat" in line and "/" in line:
                return line[line.index("/"):]
    package = Path(av.__file__).parent  # the wheels keep them beside the package
    for pattern in ("../av.libs/libavformat*", ".dylibs/libavformat*", "libavformat*"):
        if found := sorted(glob.glob(str(package / pattern))):
            return found[0]
    return None


def pyav_can(scheme: str, output: bool) -> bool:
    """Whether PyAV's FFmpeg opens ``scheme://`` itself (for writing, with ``output``)."""
    if scheme in DEMUXER_SCHEMES:
        return True
    protocols = pyav_protocols(output)
    return scheme not in WHEELS_LACK if protocols is None else scheme in protocols


def system_ffmpeg() -> str | None:
    """The ``ffmpeg`` program on PATH, if any."""
    return shutil.which("ffmpeg")


@functools.cache
def ffmpeg_protocols(binary: str) -> tuple[frozenset[str], frozenset[str]]:
    """The (input, output) protocols of the ffmpeg program ``binary`` (``ffmpeg -protocols``);
    empty when it cannot be run."""
    try:
        listing = subprocess.run([binary, "-hide_banner", "-protocols"], capture_output=True,
                                 text=True, timeout=30, stdin=subprocess.DEVNULL).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset(), frozenset()
    inputs: set[str] = set()
    outputs: set[str] = set()
    current = None
    for word in listing.split():
        if word == "Input:":
            current = inputs
        elif word == "Output:":
            current = outputs
        elif current is not None:
            current.add(word)
    return frozenset(inputs), frozenset(outputs)


def relay_binary(url: str, output: bool) -> str | None:
    """None when PyAV opens ``url`` itself; else the ffmpeg program that will relay it.

    Raises ``UserError`` when neither can: the user needs an ffmpeg with that protocol.
    """
    scheme = scheme_of(url)
    if pyav_can(scheme, output):
        return None
    verb = "write" if output else "read"
    binary = system_ffmpeg()
    if binary is None:
        raise UserError(f"{url}: PyAV's FFmpeg cannot {verb} {scheme}://, and there is no "
                        f"ffmpeg program on PATH to relay it (Debian: apt-get install ffmpeg)")
    if scheme not in ffmpeg_protocols(binary)[int(output)]:
        raise UserError(f"{url}: neither PyAV's FFmpeg nor {binary} can {verb} {scheme}:// "
                        f"(see `ffmpeg -protocols`); install an ffmpeg built with it")
    return binary


def _flags(options: dict[str, str]) -> list[str]:
    return [item for name, value in options.items() for item in (f"-{name}", value)]


def source_command(binary: str, url: str, options: dict[str, str]) -> tuple[str, ...]:
    """ffmpeg reading ``url`` with ``options`` (its timeouts, probing) and writing its video,
    copied, as MPEG-TS on stdout. Only video: audio is not carried over from live sources,
    and a codec MPEG-TS cannot hold would fail the relay for nothing."""
    return (binary, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error",
            *_flags(options), "-i", url, "-map", "0:v", "-c", "copy",
            "-f", "mpegts", "-flush_packets", "1", "pipe:1")


def sink_command(binary: str, url: str, options: dict[str, str]) -> tuple[str, ...]:
    """ffmpeg reading MPEG-TS on stdin and sending it, copied, to ``url`` with ``options``
    (its timeouts). Its probing of stdin is kept short (the first keyframe says it all),
    and without ``-fflags nobuffer``, which would throw away the packets it probed: the
    first second of the output."""
    return (binary, "-hide_banner", "-nostats", "-loglevel", "error",
            "-analyzeduration", "500000",
            "-f", "mpegts", "-i", "pipe:0", "-map", "0", "-c", "copy",
            *_flags(options), "-f", "mpegts", "-flush_packets", "1", url)


class Relay:
    """One ffmpeg relay process: ``fd`` is the pipe PyAV opens as ``pipe:FD`` (its stdout
    for a source, its stdin for an output).

    ``terminate()`` may be called from any thread; ``stop()`` and ``finish()`` belong to the
    thread that uses the pipe, since they close it (a pipe closed under a reader could have
    its number reused by another file).
    """

    def __init__(self, command: tuple[str, ...], *, output: bool) -> None:
        self.command = command
        self.output = output
        self._stderr: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
        self._terminated = False
        self._kill_timer: threading.Timer | None = None
        try:
            with signals.unblocked():  # a stage thread blocks them; ffmpeg must see SIGTERM
                self.process = subprocess.Popen(
                    command, stdin=subprocess.PIPE if output else subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL if output else subprocess.PIPE,
                    stderr=subprocess.PIPE, start_new_session=True)
        except OSError as exc:
            raise UserError(f"cannot start the relay {command[0]}: {exc.strerror}") from None
        pipe = self.process.stdin if output else self.process.stdout
        self.fd = pipe.fileno()
        self._drainer = threading.Thread(target=self._drain_stderr, name="relay-stderr",
                                         daemon=True)
        self._drainer.start()

    @property
    def url(self) -> str:
        """What PyAV opens: the relay's end of the pipe."""
        return f"pipe:{self.fd}"

    def _drain_stderr(self) -> None:
        """Keep the last lines (a full stderr pipe would stall ffmpeg). This thread closes
        stderr itself, at its end, so that no other thread closes it under the read."""
        with self.process.stderr as stderr:
            for raw in stderr:
                line = raw.decode(errors="replace").strip()
                if line:
                    self._stderr.append(line)
                    log.debug("relay: %s", line)

    def running(self) -> bool:
        return self.process.poll() is None

    def failure(self) -> str | None:
        """Why the relay exited by itself with an error (its last stderr line, less the URL
        it starts with), or None while it runs, after it ended well, or when it was told
        to stop."""
        code = self.process.poll()
        if code in (None, 0) or self._terminated:
            return None
        self._drainer.join(STOP_GRACE_S)  # its last words may still be in the pipe
        return f"the ffmpeg relay failed: {self._last_words() or f'exit status {code}'}"

    def _last_words(self) -> str | None:
        """ffmpeg's last error line, less the URL it starts with. Where the line before
        comes from the protocol itself (``[srt @ 0x...] Connection to ... failed: ...``),
        that one: it says more than ffmpeg's summary."""
        lines = list(self._stderr)
        if not lines:
            return None
        if len(lines) >= 2 and (own := _PROTOCOL_LINE.match(lines[-2])):
            return own.group(1)
        last = lines[-1]
        for arg in self.command:
            last = last.removeprefix(f"{arg}: ")
        return last

    def wait_exit(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for it to exit by itself; whether it has."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def terminate(self) -> None:
        """Ask it to exit (SIGTERM), and kill it if it has not after ``STOP_GRACE_S``.
        Returns at once; safe from any thread."""
        if self._terminated or not self.running():
            return
        self._terminated = True
        with _quiet_if_gone():
            self.process.send_signal(signal.SIGTERM)
        self._kill_timer = threading.Timer(STOP_GRACE_S, self._kill)
        self._kill_timer.daemon = True
        self._kill_timer.start()

    def _kill(self) -> None:
        if self.running():
            with _quiet_if_gone():
                self.process.kill()

    def stop(self) -> None:
        """Terminate it, wait for it (reaped: no zombie) and close the pipes."""
        self.terminate()
        self._wait()
        self._close_pipes()

    def finish(self, timeout: float) -> str | None:
        """An output relay's normal end: end of file on its stdin, then up to ``timeout`` s
        to send what it holds and exit; then ``stop()``. Returns ``failure()``."""
        with _quiet_if_gone():
            self.process.stdin.close()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("the ffmpeg relay to %s did not exit within %g s; stopping it",
                        self.command[-1], timeout)
        failure = self.failure()
        self.stop()
        return failure

    def _wait(self) -> None:
        try:
            self.process.wait(STOP_GRACE_S * 2)
        except subprocess.TimeoutExpired:
            self._kill()
            self.process.wait()
        if self._kill_timer is not None:
            self._kill_timer.cancel()

    def _close_pipes(self) -> None:
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                with _quiet_if_gone():
                    pipe.close()


def _quiet_if_gone() -> contextlib.AbstractContextManager:
    """A process that already exited, or a pipe already broken, is what stopping wants."""
    return contextlib.suppress(ProcessLookupError, OSError)
