"""Writing a live job's output: a file (optionally in segments), a stream, or stdout.

Unlike ``FileSink``, whose output appears only when complete, a live output is written as it
goes and kept whatever happens: a recording of the first hour is worth keeping if the second
hour fails. So a file is written in place, in a form a crash cannot make unreadable
(fragmented MP4; Matroska and MPEG-TS are readable up to a cut anyway), and
``--segment-seconds`` splits it into files that are each complete once the next begins, so
a crash loses at most the last one.

The encoder is set up for latency, not compression: no B-frames or look-ahead (x264's
``zerolatency`` tune), a keyframe every second (a viewer joining, or a segment starting,
waits at most that long), and a fast preset unless one is chosen.

A protocol PyAV's FFmpeg cannot write (``srt://`` in its wheels) is sent through the system
``ffmpeg`` (``ffmpeg_relay``): MPEG-TS goes to its stdin, and it sends that on. A relay that
dies is a receiver gone: the run ends, the error in ffmpeg's words.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

import av

from ..errors import UserError
from .colour import sws_matrix, sws_range
from .ffmpeg_relay import Relay, relay_binary, sink_command
from .frames import Batch, VideoInfo
from .sink import EncodeSettings, _add_video_stream, _start, encode_rgb

log = logging.getLogger(__name__)

#: Per encoder: options that stop it from holding frames back.
LIVE_TUNING = {
    "libx264": {"tune": "zerolatency"},
    "libx265": {"tune": "zerolatency"},
    "h264_nvenc": {"zerolatency": "1", "delay": "0", "bf": "0"},
    "hevc_nvenc": {"zerolatency": "1", "delay": "0", "bf": "0"},
}
#: The default --preset of a live job, per encoder: fast enough for real time on a CPU.
LIVE_PRESETS = {"libx264": "veryfast", "libx265": "veryfast", "h264_nvenc": "p2",
                "hevc_nvenc": "p2"}
#: Seconds between keyframes.
KEYFRAME_INTERVAL_S = 1.0

#: Seconds an output relay gets, beyond the output's timeout, to send what it holds once
#: the last packet is written.
RELAY_FINISH_S = 5.0
#: Network outputs: URL scheme -> container format.
STREAM_FORMATS = {"rtsp": "rtsp", "rtsps": "rtsp", "rtmp": "flv", "rtmps": "flv",
                  "udp": "mpegts", "srt": "mpegts"}
#: File containers a live job writes, and the muxer options that keep them readable when cut.
FILE_FORMATS = {".mp4": ("mp4", {"movflags": "frag_keyframe+empty_moov+default_base_moof"}),
                ".mov": ("mov", {"movflags": "frag_keyframe+empty_moov+default_base_moof"}),
                ".mkv": ("matroska", {}), ".ts": ("mpegts", {}), ".flv": ("flv", {})}


@dataclass(frozen=True)
class LiveOutput:
    """Where a live job writes, and how to open it."""

    #: The sink as the user wrote it, for messages and the --json line.
    label: str
    url: str
    format: str
    options: dict[str, str] = field(default_factory=dict)
    #: "file", "segments", "stream" (network) or "stdout".
    kind: str = "file"
    #: Seconds to wait for a network receiver to answer (None: not a network output).
    open_timeout: float | None = None
    #: The ffmpeg command that takes MPEG-TS on its stdin and sends it to ``url``, when
    #: PyAV's FFmpeg cannot write there itself (``options`` are then the relay's).
    relay: tuple[str, ...] | None = None


def default_output(now: float | None = None) -> str:
    """A new recording in the current folder, named by its start time."""
    return time.strftime("live-%Y%m%d-%H%M%S.mkv", time.localtime(now))


def live_output(sink: str, *, segment_seconds: float | None = None,
                timeout: float = 5.0, source_path: Path | None = None) -> LiveOutput:
    """Check SINK and build how to open it; every mistake is a ``UserError`` up front."""
    if segment_seconds is not None and (sink == "-" or "://" in sink):
        raise UserError("--segment-seconds is for a file output")
    if sink == "-":
        return LiveOutput("-", "pipe:1", "mpegts", kind="stdout")
    if "://" in sink:
        return _stream_output(sink, timeout)
    return _file_output(Path(sink), segment_seconds, source_path)


def _stream_output(url: str, timeout: float) -> LiveOutput:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in STREAM_FORMATS:
        raise UserError(f"{url}: unsupported output; use a file, rtsp://, rtmp://, udp://, "
                        f"srt:// or - for MPEG-TS on stdout")
    micros = str(int(timeout * 1_000_000))
    if scheme in ("rtsp", "rtsps"):
        options = {"rtsp_transport": "tcp", "timeout": micros}
    elif scheme == "srt":
        # SRT's own I/O timeout, its handshake's (milliseconds), and time on closing to send
        # what is still in flight (live mode's default, none, loses the last frames).
        options = {"timeout": micros, "connect_timeout": str(max(1, int(timeout * 1000))),
                   "linger": str(max(1, math.ceil(timeout)))}
    else:  # a dead receiver must not block the encoder forever
        options = {"rw_timeout": micros}
    if scheme == "udp" and "pkt_size" not in url:
        # Seven 188-byte TS packets per datagram: never fragmented on an Ethernet path.
        url += ("&" if "?" in url else "?") + "pkt_size=1316"
    binary = relay_binary(url, output=True)
    relay = None if binary is None else sink_command(binary, url, options)
    return LiveOutput(url, url, STREAM_FORMATS[scheme], options, kind="stream",
                      open_timeout=timeout, relay=relay)


def _file_output(path: Path, segment_seconds: float | None,
                 source_path: Path | None) -> LiveOutput:
    suffix = path.suffix.lower()
    if suffix not in FILE_FORMATS:
        raise UserError(f"{path}: unknown output format {path.suffix!r}; use "
                        f"{', '.join(FILE_FORMATS)}")
    if path.is_dir():
        raise UserError(f"output is a folder, not a file: {path}")
    if not path.parent.is_dir():
        raise UserError(f"output folder does not exist: {path.parent}")
    if source_path is not None and path.resolve() == source_path.resolve():
        raise UserError(f"output would overwrite the input ({source_path}); choose another -o")
    fmt, options = FILE_FORMATS[suffix]
    if segment_seconds is None:
        return LiveOutput(str(path), str(path), fmt, dict(options), kind="file")
    pattern = path if "%" in path.name else path.with_name(f"{path.stem}_%05d{path.suffix}")
    options = {"segment_time": f"{segment_seconds:g}", "segment_format": fmt,
               "reset_timestamps": "0"}
    if fmt in ("mp4", "mov"):  # each segment is closed (moov written) when the next begins
        options["segment_format_options"] = "movflags=+faststart"
    return LiveOutput(str(pattern), str(pattern), "segment", options, kind="segments")


def live_settings(settings: EncodeSettings) -> EncodeSettings:
    """The user's encoder choice, with a preset fast enough for real time by default."""
    if settings.preset is None and settings.codec in LIVE_PRESETS:
        return replace(settings, preset=LIVE_PRESETS[settings.codec])
    return settings


class LiveSink:
    """Encodes batches to a ``LiveOutput`` as they come; ``finish()`` makes it complete.

    Everything that can fail at the start (an unknown encoder, a container that cannot hold
    the codec, an unreachable receiver) fails when it is made, before any frame is read.
    """

    def __init__(self, out: LiveOutput, info: VideoInfo, settings: EncodeSettings) -> None:
        self.out = out
        self._finished = False
        self.relay = None if out.relay is None else Relay(out.relay, output=True)
        try:
            self.container = _open(out, self.relay)
        except BaseException:
            self._stop_relay()
            raise
        try:
            self.video = _add_video_stream(self.container, info, live_settings(settings),
                                           Path(out.url))
            _tune_for_latency(self.video, settings.codec, info)
            self._matrix = sws_matrix(info.colorspace)
            self._range = sws_range(info.color_range)
            _start(self.container, self.video, settings, Path(out.url))
        except BaseException:
            self._close_quietly()
            raise

    def __enter__(self) -> LiveSink:
        return self

    def __exit__(self, *exc) -> None:
        if not self._finished:
            self._close_quietly()

    def write(self, batch: Batch) -> None:
        try:
            for rgb, time_ in zip(batch.frames, batch.times, strict=True):
                for packet in encode_rgb(self.video, rgb, time_, self._matrix, self._range):
                    self.container.mux(packet)
        except av.error.FFmpegError as exc:
            raise UserError(f"cannot write {self.out.label}: "
                            f"{self._relay_failure() or exc.strerror}") from None

    def finish(self) -> None:
        """Drain the encoder and write the trailer: the output is complete and playable."""
        if self._finished:
            return
        self._finished = True
        try:
            for packet in self.video.encode(None):
                self.container.mux(packet)
            self.container.close()
        except av.error.FFmpegError as exc:
            failure = self._relay_failure()
            self._close_quietly()
            raise UserError(f"cannot finish {self.out.label}: "
                            f"{failure or exc.strerror}") from None
        if self.relay is not None:  # end of file: it sends what it holds, and exits
            failure = self.relay.finish(RELAY_FINISH_S + (self.out.open_timeout or 0))
            if failure is not None:
                raise UserError(f"cannot finish {self.out.label}: {failure}")

    def _relay_failure(self) -> str | None:
        """Why the relay died, if it did: a broken pipe says less."""
        if self.relay is None or not self.relay.wait_exit(0.5):
            return None
        return self.relay.failure()

    def _close_quietly(self) -> None:
        """Close without draining, after a failure: what was written stays."""
        self._finished = True
        with contextlib.suppress(Exception):
            self.container.close()
        self._stop_relay()

    def _stop_relay(self) -> None:
        if self.relay is not None:
            self.relay.stop()


def _open(out: LiveOutput, relay: Relay | None) -> av.container.OutputContainer:
    # Every packet goes out as soon as it is muxed: FFmpeg's 32 KiB write buffer would hold
    # seconds of a small live stream back from a viewer (and from the disk, after a crash).
    if relay is not None:  # MPEG-TS into its stdin; the network options are its
        return av.open(relay.url, "w", format="mpegts",
                       container_options={"flush_packets": "1"})
    options = {"flush_packets": "1", **out.options}
    try:
        return av.open(out.url, "w", format=out.format, container_options=options,
                       timeout=out.open_timeout)
    except av.error.ProtocolNotFoundError:
        raise UserError(f"{out.label}: this FFmpeg build (PyAV's) cannot write "
                        f"{urlsplit(out.url).scheme}://") from None
    except av.error.FFmpegError as exc:
        raise UserError(f"cannot open {out.label} for writing: {exc.strerror}") from None


def _tune_for_latency(stream: av.video.VideoStream, codec: str, info: VideoInfo) -> None:
    cc = stream.codec_context
    cc.options = {**cc.options, **LIVE_TUNING.get(codec, {})}
    cc.gop_size = max(1, round(float(info.rate or 30) * KEYFRAME_INTERVAL_S))
    cc.max_b_frames = 0
