"""Reading a live feed: a camera or stream, a webcam, stdin, or a file standing in for one.

Why this is not ``FileSource``:

- A live source must never hang the process. FFmpeg gets its own I/O timeout option
  (``timeout`` / ``rw_timeout``, per protocol) and PyAV's interrupt-based
  ``av.open(timeout=(open, read))``; neither covers every blocking call (a pipe, a device, a
  demuxer looping without reading), so each connection is opened and read in a thread of its
  own, and a watchdog here abandons a connection that shows no sign of life for longer than
  those timeouts allow. An abandoned thread is left to die of its own timeout; it is never
  waited for.
- A lost feed is reopened, with exponential backoff and jitter, until it has been gone for
  ``give_up_after`` seconds. Timestamps keep rising across reconnects (``Timeline``), so one
  output carries on.
- Nothing queues up: the reader keeps only the newest few frames (older ones are dropped and
  counted), and the decoder uses slice threads only (frame threads hold back a frame each).
- A protocol PyAV's FFmpeg lacks (``srt://`` in its wheels) is read through the system
  ``ffmpeg`` (``ffmpeg_relay``): each connection runs its own relay, and a relay that exits
  is a connection that ended.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from urllib.parse import urlsplit

import av
import numpy as np
from av.codec.context import Flags

from ..errors import UserError
from .ffmpeg_relay import Relay, relay_binary, source_command
from .frames import Batch, FrameTime, VideoInfo
from .source import _video_info, to_rgb

log = logging.getLogger(__name__)

#: Output time base of every live frame: the 90 kHz clock of RTP and MPEG-TS.
LIVE_TIME_BASE = Fraction(1, 90000)

#: Schemes read over the network, and the FFmpeg options that bound each read (the values
#: are filled in microseconds). RTMP's own ``timeout`` means "listen for a publisher", so it
#: gets the generic ``rw_timeout`` instead.
NETWORK_TIMEOUT_OPTIONS = {
    "rtsp": ("timeout",), "rtsps": ("timeout",),
    "rtmp": ("rw_timeout",), "rtmps": ("rw_timeout",),
    "http": ("timeout", "rw_timeout"), "https": ("timeout", "rw_timeout"),
    "udp": ("timeout",), "rtp": ("timeout",), "tcp": ("timeout",),
    "srt": ("timeout",),
}

#: PyAV's interrupt fires this much later than FFmpeg's own timeout option: both stop a
#: silent read, but FFmpeg's own says "timed out" where an interrupted RTSP handshake says
#: "invalid data".
INTERRUPT_GRACE_S = 1.0
#: How much longer than that the watchdog waits before abandoning a connection: FFmpeg
#: should have given up by then, and its error says more.
WATCHDOG_GRACE_S = 2.0
#: Reconnect delays: the first retry is immediate, then 0.5 s doubling up to 10 s, each
#: scaled by a random 50-100% so that many clients of one restarted camera do not all knock
#: at once.
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 10.0
#: How often a waiting reader checks for stop requests and stalls.
POLL_S = 0.05
#: How long closing a relayed connection may wait for its relay to be reaped (it is sent
#: SIGTERM, then SIGKILL after ffmpeg_relay.STOP_GRACE_S).
RELAY_CLOSE_S = 5.0
#: How long a relay whose pipe ended gets to exit by itself, and say why, before it is
#: terminated.
RELAY_EXIT_S = 1.0
#: Probing (microseconds of stream) by a relay, and by PyAV of the relay's pipe.
RELAY_ANALYZE_US = 500_000
#: A paced HLS frame further than this from its time restarts the schedule (``_Pacer``).
HLS_RESYNC_S = 2.0


@dataclass(frozen=True)
class LiveInput:
    """How to open a live source, and how it behaves when it ends."""

    #: The source as the user wrote it, for messages.
    label: str
    #: What ``av.open`` opens, its format (None: probe) and its container options.
    url: str
    format: str | None
    options: dict[str, str] = field(default_factory=dict)
    #: "network", "device" (v4l2 webcam), "file" (played at its own rate) or "stdin".
    kind: str = "network"
    open_timeout: float = 5.0
    read_timeout: float = 5.0
    #: The ffmpeg command that relays the source as MPEG-TS on its stdout, when PyAV's
    #: FFmpeg cannot open ``url`` itself; ``options`` are then for reading that pipe.
    relay: tuple[str, ...] | None = None

    @property
    def reconnects(self) -> bool:
        """Whether a lost source is reopened: a file or stdin that ends has simply ended."""
        return self.kind in ("network", "device")

    @property
    def realtime(self) -> bool:
        return self.kind == "file"


def live_input(source: str, *, timeout: float = 5.0, realtime: bool = False,
               input_size: tuple[int, int] | None = None, input_fps: float | None = None,
               input_format: str | None = None, rtsp_transport: str = "tcp") -> LiveInput:
    """Check SOURCE and build how to open it; every mistake is a ``UserError`` up front."""
    webcam = device_options(input_size, input_fps, input_format)
    is_device = source.startswith("/dev/video")
    if webcam and not is_device:
        raise UserError("--input-size, --input-fps and --input-format are for a webcam "
                        "(/dev/videoN) source")
    if realtime and (is_device or source == "-" or "://" in source):
        raise UserError("--realtime is for a file source (a camera or stream is live already)")
    common = {"label": source, "open_timeout": timeout, "read_timeout": timeout}
    if source == "-":
        return LiveInput(url="pipe:0", format=None, kind="stdin", **common)
    if is_device:
        if not Path(source).exists():
            raise UserError(f"{source}: no such video device; is the webcam plugged in? "
                            f"(ls /dev/video* lists them)")
        return LiveInput(url=source, format="video4linux2", options=webcam,
                         kind="device", **common)
    if "://" in source:
        return _network_input(source, network_options(source, timeout, rtsp_transport), common)
    return _file_input(Path(source), realtime, common)


def _network_input(url: str, options: dict[str, str], common: dict) -> LiveInput:
    """PyAV opens ``url`` itself where its FFmpeg can; otherwise a system ffmpeg relays it,
    with the options (timeouts, probing), and PyAV reads its MPEG-TS with quick probing."""
    binary = relay_binary(url, output=False)
    if binary is None:
        return LiveInput(url=url, format=None, kind="network", options=options, **common)
    # Both ends probe: half a second each rather than a second brings the first frame ~1 s
    # sooner.
    options = {**options, "analyzeduration": str(RELAY_ANALYZE_US)}
    pipe_options = {"fflags": "nobuffer", "analyzeduration": str(RELAY_ANALYZE_US)}
    return LiveInput(url=url, format="mpegts", kind="network", options=pipe_options,
                     relay=source_command(binary, url, options), **common)


def network_options(url: str, timeout: float, rtsp_transport: str = "tcp") -> dict[str, str]:
    """FFmpeg options for a network source: its I/O timeout, little buffering, and for RTSP
    the transport (TCP by default: UDP loses packets, hence whole frames, on a busy link)."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in NETWORK_TIMEOUT_OPTIONS:
        raise UserError(f"{url}: unsupported source; use rtsp://, rtmp://, http(s)://, "
                        f"udp://, srt://, /dev/videoN, a file with --realtime, or - for stdin")
    micros = str(int(timeout * 1_000_000))
    options = {name: micros for name in NETWORK_TIMEOUT_OPTIONS[scheme]}
    # Start decoding as soon as the codec is known rather than after seconds of probing.
    options.update({"fflags": "nobuffer", "analyzeduration": "1000000"})
    if scheme in ("rtsp", "rtsps"):
        options["rtsp_transport"] = rtsp_transport
    if scheme == "udp":
        options["overrun_nonfatal"] = "1"  # a burst the reader missed is a glitch, not the end
    if scheme == "srt":  # SRT's handshake has a timeout of its own, in milliseconds
        options["connect_timeout"] = str(max(1, int(timeout * 1000)))
    return options


def device_options(size: tuple[int, int] | None, fps: float | None,
                    pixel_format: str | None) -> dict[str, str]:
    """video4linux2 demuxer options: what the webcam is asked to send."""
    options = {}
    if size is not None:
        options["video_size"] = f"{size[0]}x{size[1]}"
    if fps is not None:
        options["framerate"] = f"{fps:g}"
    if pixel_format is not None:
        options["input_format"] = pixel_format
    return options


def _file_input(path: Path, realtime: bool, common: dict) -> LiveInput:
    if not path.exists():
        raise UserError(f"input not found: {path}")
    if not path.is_file():
        raise UserError(f"input is not a file: {path}")
    if not realtime:
        raise UserError(f"{path} is a file: add --realtime to play it at its own rate as a "
                        f"camera would, or use `streamdemoire clean` to process every frame")
    return LiveInput(url=str(path), format=None, kind="file", **common)


def backoff_delay(attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait before reconnect attempt ``attempt`` (0: at once)."""
    if attempt <= 0:
        return 0.0
    jitter = (rng or random.Random()).uniform(0.5, 1.0)
    return min(BACKOFF_BASE_S * 2 ** (attempt - 1), BACKOFF_CAP_S) * jitter


def describe(exc: BaseException | None, inp: LiveInput, seconds: float = 0.0) -> str:
    """Why a connection failed after ``seconds``, in words a camera operator can act on.

    A failure that took the whole timeout is a silence, whatever FFmpeg calls it (an RTSP
    server that accepts the connection but never replies is "invalid data" to it).
    """
    if exc is None:
        return "the stream ended"
    if isinstance(exc, UserError):
        return str(exc)
    if isinstance(exc, av.error.ExitError | TimeoutError) or (
            isinstance(exc, av.error.FFmpegError) and seconds >= inp.read_timeout * 0.95):
        return f"no answer within {inp.read_timeout:g} s"
    if isinstance(exc, av.error.ProtocolNotFoundError):
        scheme = urlsplit(inp.url).scheme
        return (f"this FFmpeg build (PyAV's) cannot read {scheme}://; install an ffmpeg "
                f"program that can (`ffmpeg -protocols`) and it is relayed through it")
    if isinstance(exc, av.error.FFmpegError):
        return exc.strerror or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


class Timeline:
    """Output timestamps (``LIVE_TIME_BASE``) for frames from one connection after another.

    Within a connection they follow the source's own clock (smooth, whatever the network
    jitter); across a reconnect, or when the source's clock jumps (a server restarting its
    stream), they follow the wall clock, so a gap in the feed is a pause in the output. They
    always rise, whatever the source sends.
    """

    #: A source timestamp further than this from the wall clock's view is a jump.
    JUMP_S = 2.0

    def __init__(self) -> None:
        self._anchor: tuple[float, int] | None = None  # (source seconds, output pts)
        self._last: tuple[int, float] | None = None  # (output pts, arrival)

    def restart(self) -> None:
        """A new connection: its first frame is placed by the wall clock."""
        self._anchor = None

    def stamp(self, seconds: float | None, arrival: float) -> int:
        wall = self._wall_pts(arrival)
        pts = None
        if seconds is not None and self._anchor is not None:
            pts = self._anchor[1] + round((seconds - self._anchor[0]) / LIVE_TIME_BASE)
            if abs(pts - wall) * LIVE_TIME_BASE > self.JUMP_S:
                pts = None
        if pts is None:
            pts = wall
            self._anchor = (seconds, pts) if seconds is not None else None
        if self._last is not None and pts <= self._last[0]:
            pts = self._last[0] + 1
        self._last = (pts, arrival)
        return pts

    def _wall_pts(self, arrival: float) -> int:
        if self._last is None:
            return 0
        last_pts, last_arrival = self._last
        return last_pts + max(1, round((arrival - last_arrival) / LIVE_TIME_BASE))


_Item = tuple[av.VideoFrame, float]  # a decoded frame and when it was received


class _Connection:
    """One attempt at the source: opened and read in its own thread, frames handed over
    through a small queue that drops its oldest frame rather than fall behind."""

    def __init__(self, inp: LiveInput, depth: int) -> None:
        self.inp = inp
        self.frames: queue.Queue[_Item] = queue.Queue(depth)
        self.dropped = 0
        self.info: VideoInfo | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()
        self._opened = False
        self._alive_at = time.monotonic()
        self._failed_after = 0.0  # seconds of silence before the error
        self._abandoned = threading.Event()
        self._relay: Relay | None = None
        self._relay_lock = threading.Lock()  # abandon() and the thread starting the relay
        self._closed = threading.Event()
        threading.Thread(target=self._run, name="live-read", daemon=True).start()

    def abandon(self) -> None:
        """Stop reading at the next chance; the thread closes the container itself. A relay
        is terminated at once: that also ends a read blocked on its pipe."""
        with self._relay_lock:
            self._abandoned.set()
            if self._relay is not None:
                self._relay.terminate()

    def wait_closed(self, timeout: float) -> bool:
        """After ``abandon()``: wait until the thread has closed the connection (and reaped
        its relay). Only a relayed connection is sure to close promptly (terminating the
        relay ends its pipe); any other is left to die of its own timeout."""
        return self._relay is None or self._closed.wait(timeout)

    def failure(self, now: float) -> str | None:
        """Why this connection is of no more use (ended, failed, or silent for longer than its
        timeouts allow), or None while it is fine."""
        if self.done.is_set() and self.frames.empty():
            return describe(self.error, self.inp, self._failed_after)
        limit = (self.inp.read_timeout if self._opened else self.inp.open_timeout)
        if now - self._alive_at > limit + INTERRUPT_GRACE_S + WATCHDOG_GRACE_S:
            return f"no data for {now - self._alive_at:.1f} s"
        return None

    def _run(self) -> None:
        container = None
        try:
            container = av.open(self._start_relay(), "r", format=self.inp.format,
                                container_options=self.inp.options,
                                timeout=(self.inp.open_timeout + INTERRUPT_GRACE_S,
                                         self.inp.read_timeout + INTERRUPT_GRACE_S))
            self._opened, self._alive_at = True, time.monotonic()
            self._read(container)
        except Exception as exc:  # all of it reaches the watchdog as this connection's end
            self.error = exc
            self._failed_after = time.monotonic() - self._alive_at
        finally:
            if self._relay is None:  # the watchdog need not wait for a close (an RTSP
                self.done.set()      # TEARDOWN can take its timeout)
            if container is not None:
                try:
                    container.close()
                except Exception as exc:  # a broken connection may not close cleanly
                    log.debug("closing %s: %s", self.inp.label, exc)
            self._stop_relay()  # before done: its error is the connection's
            self.done.set()
            self._closed.set()

    def _start_relay(self) -> str:
        """What ``av.open`` opens: the source itself, or the pipe of a new relay."""
        if self.inp.relay is None:
            return self.inp.url
        with self._relay_lock:
            if self._abandoned.is_set():
                raise UserError("stopped")
            self._relay = Relay(self.inp.relay, output=False)
        return self._relay.url

    def _stop_relay(self) -> None:
        """Reap the relay; if it died of an error, that error is why the connection ended
        (PyAV only saw its pipe end)."""
        if self._relay is None:
            return
        if not self._abandoned.is_set():  # its pipe ended: it is exiting; let it say why
            self._relay.wait_exit(RELAY_EXIT_S)
        failure = self._relay.failure()
        self._relay.stop()
        if failure is not None and not self._abandoned.is_set():
            self.error = UserError(failure)

    def _read(self, container: av.container.InputContainer) -> None:
        if not container.streams.video:
            raise UserError("it has no video stream")
        video = max(container.streams.video,
                    key=lambda s: s.codec_context.width * s.codec_context.height)
        cc = video.codec_context
        cc.thread_type = "SLICE"  # frame threads would hold back a frame per thread
        cc.flags |= Flags.low_delay
        pace = self._pacer(container)
        for packet in container.demux(video):
            self._touch()
            if self._abandoned.is_set():
                return
            for frame in self._decode(packet):
                if self.info is None:
                    self.info = live_video_info(video, frame)
                if pace is not None and not pace.wait(frame):
                    return
                self._put((frame, time.monotonic()))

    def _pacer(self, container: av.container.InputContainer) -> _Pacer | None:
        """A file is played at its own rate. So is HLS: it comes a segment (seconds of
        frames) at a time, and unpaced, all but the newest two frames of each would be
        dropped; paced, it plays smoothly, a segment or so behind, as HLS players do."""
        if self.inp.realtime:
            return _Pacer(self._abandoned, self._touch)
        if container.format.name == "hls":
            return _Pacer(self._abandoned, self._touch, resync_after=HLS_RESYNC_S)
        return None

    def _touch(self) -> None:
        self._alive_at = time.monotonic()

    @staticmethod
    def _decode(packet: av.Packet) -> list[av.VideoFrame]:
        try:
            return packet.decode()
        except av.error.FFmpegError:  # a damaged or partial packet (joined mid-GOP): skip it
            return []

    def _put(self, item: _Item) -> None:
        while True:
            try:
                self.frames.put_nowait(item)
                return
            except queue.Full:
                try:
                    self.frames.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass


class _Pacer:
    """Releases frames at their own timestamps, as a camera would send them.

    With ``resync_after``, a frame that comes later than that behind its time (a stalled
    playlist, a jump in the timestamps) starts the schedule again from itself, rather than
    let the frames behind it through all at once, where most would be dropped.
    """

    def __init__(self, abandoned: threading.Event, touch: Callable[[], None],
                 resync_after: float | None = None) -> None:
        self._abandoned, self._touch = abandoned, touch
        self._resync_after = resync_after
        self._start: tuple[float, float] | None = None  # (frame seconds, monotonic)

    def wait(self, frame: av.VideoFrame) -> bool:
        """Sleep until the frame is due; False if the connection was abandoned meanwhile."""
        seconds = frame.time
        if seconds is None:
            return not self._abandoned.is_set()
        if self._start is None or self._resync(seconds):
            self._start = (seconds, time.monotonic())
        due = self._start[1] + seconds - self._start[0]
        while (left := due - time.monotonic()) > 0:
            if self._abandoned.wait(min(left, 0.5)):
                return False
            self._touch()  # sleeping on purpose is not a stall
        return not self._abandoned.is_set()

    def _resync(self, seconds: float) -> bool:
        if self._resync_after is None:
            return False
        late = time.monotonic() - (self._start[1] + seconds - self._start[0])
        return not -self._resync_after <= late <= self._resync_after


def live_video_info(stream: av.video.VideoStream, first: av.VideoFrame) -> VideoInfo:
    """The first frame's size and colours, in the live time base. A frame rate that is no
    frame rate (a 90 kHz clock, nothing) is left out: it only guides the encoder's rate
    control."""
    info = _video_info(stream, first)
    rate = info.rate if info.rate and 1 <= info.rate <= 240 else None
    return replace(info, time_base=LIVE_TIME_BASE, rate=rate, frames=None)


class LiveSource:
    """A live feed as RGB batches for the ``Pipeline``, reconnecting when it is lost.

    Opening connects and waits for the first frame (so the sink knows the size): a source
    that cannot be opened then fails at once with a ``UserError`` that says why. Later losses
    are reconnected until the source has been gone for ``give_up_after`` seconds, which ends
    ``batches()`` with a ``UserError``. ``batches()`` ends quietly after ``duration`` seconds,
    when ``stop()`` is called (from any thread or a signal handler), or at the end of a file
    or of stdin. ``on_reconnect`` is called (on the thread reading ``batches()``) before the
    first frame of each new connection.
    """

    def __init__(self, inp: LiveInput, *, give_up_after: float = 60.0,
                 duration: float | None = None, stop: threading.Event | None = None,
                 depth: int = 2, on_reconnect: Callable[[], None] | None = None) -> None:
        self.inp = inp
        self.on_reconnect = on_reconnect
        self.give_up_after = give_up_after
        self.stop_event = stop or threading.Event()
        self.depth = depth
        self.reconnects = 0
        #: Why ``batches()`` ended: "duration", "stop", "end of input"; "" while running.
        self.ended_by = ""
        self._timeline = Timeline()
        self._retired_drops = 0
        self._deadline: float | None = None  # --duration counts from the first frame
        conn, first = self._open_once()
        if conn is None:
            if self.stop_event.is_set():
                raise KeyboardInterrupt
            raise UserError(f"{inp.label}: {first}; check the address, and that the source "
                            f"is on and reachable")
        self._conn: _Connection = conn
        self._pending: _Item | None = first
        self.info: VideoInfo = conn.info
        self._deadline = None if duration is None else time.monotonic() + duration

    def __enter__(self) -> LiveSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def dropped(self) -> int:
        """Frames the reader discarded because the pipeline had not taken the previous ones."""
        return self._retired_drops + self._conn.dropped

    def stop(self) -> None:
        self.stop_event.set()

    def close(self) -> None:
        """Stop, and close the current connection: a relay is reaped before this returns."""
        self.stop()
        self._conn.abandon()
        if not self._conn.wait_closed(RELAY_CLOSE_S):
            log.warning("%s: the relay did not stop within %g s", self.inp.label,
                        RELAY_CLOSE_S)

    def batches(self, size: int) -> Iterator[Batch]:
        """The newest frames, up to ``size`` at a time: a batch never waits to fill up."""
        while (item := self._next()) is not None:
            items = [item]
            while len(items) < size:
                try:
                    items.append(self._conn.frames.get_nowait())
                except queue.Empty:
                    break
            yield self._batch(items)

    def _batch(self, items: list[_Item]) -> Batch:
        frames = np.stack([to_rgb(frame, self.info) for frame, _ in items])
        times = [FrameTime(self._timeline.stamp(frame.time, arrival), LIVE_TIME_BASE)
                 for frame, arrival in items]
        return Batch(frames, times, arrival=[arrival for _, arrival in items])

    def _next(self) -> _Item | None:
        """The next frame, reconnecting as needed; None when it is time to stop."""
        if self._pending is not None:
            item, self._pending = self._pending, None
            return item
        while not self._should_stop():
            try:
                return self._conn.frames.get(timeout=POLL_S)
            except queue.Empty:
                pass
            reason = self._conn.failure(time.monotonic())
            if reason is None:
                continue
            if not self.inp.reconnects:
                if self._conn.error is None:
                    self.ended_by = "end of input"
                    return None
                raise UserError(f"{self.inp.label}: {reason}")
            if not self._reconnect(reason):
                return None
            return self._next()
        return None

    def _should_stop(self) -> bool:
        if self.stop_event.is_set():
            self.ended_by = self.ended_by or "stop"
            return True
        if self._deadline is not None and time.monotonic() >= self._deadline:
            self.ended_by = "duration"
            return True
        return False

    def _reconnect(self, reason: str) -> bool:
        """Reopen the source with backoff; False if asked to stop first. Raises ``UserError``
        once it has been gone for ``give_up_after`` seconds."""
        log.warning("%s: lost (%s); reconnecting", self.inp.label, reason)
        self._retire(self._conn)
        lost_at = time.monotonic()
        attempt = 0
        while True:
            gone = time.monotonic() - lost_at
            if gone >= self.give_up_after:
                raise UserError(f"{self.inp.label}: gone for {gone:.0f} s, giving up "
                                f"(--give-up-after {self.give_up_after:g}); last error: "
                                f"{reason}")
            delay = min(backoff_delay(attempt), self.give_up_after - gone)
            if self.stop_event.wait(delay) or self._should_stop():
                return False
            conn, result = self._open_once()
            if conn is not None:
                self._conn, self._pending = conn, result
                self.reconnects += 1
                self._timeline.restart()
                if self.on_reconnect is not None:
                    self.on_reconnect()
                log.warning("%s: reconnected after %.1f s", self.inp.label,
                            time.monotonic() - lost_at)
                return True
            if self._should_stop():
                return False
            reason = result
            attempt += 1

    def _open_once(self) -> tuple[_Connection, _Item] | tuple[None, str]:
        """One connection attempt, watched until its first frame: (connection, first frame),
        or (None, why it failed)."""
        conn = _Connection(self.inp, self.depth)
        while not self._should_stop():
            try:
                return conn, conn.frames.get(timeout=POLL_S)
            except queue.Empty:
                pass
            reason = conn.failure(time.monotonic())
            if reason is not None:
                self._retire(conn)
                return None, reason
        self._retire(conn)
        return None, "stopped"

    def _retire(self, conn: _Connection) -> None:
        conn.abandon()
        conn.wait_closed(RELAY_CLOSE_S)  # a relay is reaped before the next one starts
        self._retired_drops += conn.dropped
        conn.dropped = 0
