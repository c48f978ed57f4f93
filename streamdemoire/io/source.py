"""Reading a media file: video frames decoded to RGB batches, other streams passed along.

``FileSource`` opens the file, checks that it has a decodable video stream (so every kind of
bad input fails here, before a model loads or an output file exists), then, on the decoder
thread, yields ``Batch``es. Audio and subtitle packets are not decoded: they ride along in
the batch of the video frame they were read before, so the sink can copy them packet for
packet and the muxer can interleave them.

A packet the decoder rejects costs one frame: it is counted in ``lost`` and decoding goes on.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator
from fractions import Fraction
from itertools import chain
from pathlib import Path

import av
import numpy as np
from av.sidedata.sidedata import Type as SideDataType

from ..errors import UserError
from .avcompat import OPEN_KWARGS
from .colour import sws_matrix, sws_range
from .frames import Batch, FrameTime, VideoInfo

log = logging.getLogger(__name__)

#: Stream types copied to the output; data streams and attachments are not.
SIDE_STREAM_TYPES = ("audio", "subtitle")


def as_fraction(value) -> Fraction | None:
    """A PyAV rational as a Fraction, or None when unset.

    PyAV 18 gives ``Fraction`` or ``None``; PyAV 19 gives ``AVRational``, which is falsy
    (0/1) when unset and never ``None``.
    """
    if not value:
        return None
    return Fraction(value.numerator, value.denominator)


class FileSource:
    """The best video stream of a media file, as RGB batches; use as a context manager.

    Stays open until closed: the sink may still use the input's audio decoders (to re-encode
    audio a container cannot hold) after the last batch was read.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.container = _open_input(self.path)
        try:
            self.video = _video_stream(self.container, self.path)
            self.video.codec_context.thread_type = "AUTO"  # frame + slice threads: keeps up
            self.side_streams = [s for s in self.container.streams
                                 if s.type in SIDE_STREAM_TYPES]
            #: Packets the decoder rejected (one frame each); they are left out of the output.
            self.lost = 0
            #: Frames the decoder returned but flagged as damaged; they are kept.
            self.corrupt = 0
            self._last_time: FrameTime | None = None
            self._items = self._read()
            self._head = self._read_up_to_first_frame()
            self.info = _video_info(self.video, self._head[-1])
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> FileSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.container.close()

    def batches(self, size: int) -> Iterator[Batch]:
        """Frames in display order, ``size`` at a time; the last batch may be shorter."""
        frames: list[np.ndarray] = []
        times: list[FrameTime] = []
        passthrough: list[av.Packet] = []
        for item in chain(self._head, self._items):
            if not isinstance(item, av.VideoFrame):
                passthrough.append(item)
                continue
            frames.append(self._to_rgb(item))
            times.append(self._timestamp(item))
            if len(frames) == size:
                yield Batch(np.stack(frames), times, passthrough)
                frames, times, passthrough = [], [], []
        if frames or passthrough:
            empty = np.empty((0, self.info.height, self.info.width, 3), np.uint8)
            yield Batch(np.stack(frames) if frames else empty, times, passthrough)

    def _read(self) -> Iterator[av.VideoFrame | av.Packet]:
        """Decoded video frames and raw side-stream packets, in the order the file has them."""
        try:
            for packet in self.container.demux(self.video, *self.side_streams):
                if packet.stream.index == self.video.index:
                    yield from self._decode(packet)  # an empty packet flushes the decoder
                elif packet.size:
                    yield packet
        except av.error.FFmpegError as exc:
            log.warning("%s: input ends early (%s); keeping what was read", self.path.name,
                        exc.strerror)

    def _decode(self, packet: av.Packet) -> list[av.VideoFrame]:
        try:
            frames = packet.decode()
        except av.error.FFmpegError:
            self.lost += 1
            return []
        self.corrupt += sum(1 for f in frames if f.is_corrupt)
        return frames

    def _read_up_to_first_frame(self) -> list[av.VideoFrame | av.Packet]:
        """Read until the first video frame so its format, colours and rotation are known."""
        head: list[av.VideoFrame | av.Packet] = []
        for item in self._items:
            head.append(item)
            if isinstance(item, av.VideoFrame):
                return head
        reason = f" ({self.lost} damaged packets)" if self.lost else ""
        raise UserError(f"{self.path}: the video stream has no frames that decode{reason}")

    def _to_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        return to_rgb(frame, self.info)

    def _timestamp(self, frame: av.VideoFrame) -> FrameTime:
        """The frame's own pts; only a frame without one (raw streams) gets the next tick.

        A pts that does not move forward would make the encoder fail; it is nudged by one
        tick of the time base, the smallest change that keeps every frame.
        """
        last = self._last_time
        pts = frame.pts
        if pts is None or (last is not None and pts <= last.pts):
            pts = 0 if last is None else last.pts + max(last.duration, 1)
        time = FrameTime(pts, self.info.time_base, frame.duration or 0)
        self._last_time = time
        return time


def to_rgb(frame: av.VideoFrame, info: VideoInfo) -> np.ndarray:
    """YUV -> RGB with the frame's own matrix and range, at the stream's first size (a stream
    that changes size mid-way is scaled back to it: the encoder's size is fixed)."""
    return frame.to_ndarray(format="rgb24", width=info.width, height=info.height,
                            src_colorspace=sws_matrix(frame.colorspace),
                            src_color_range=sws_range(frame.color_range))


def _open_input(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise UserError(f"input not found: {path}")
    if not path.is_file():
        raise UserError(f"input is not a file: {path}")
    try:
        return av.open(str(path), "r", **OPEN_KWARGS)
    except av.error.FFmpegError as exc:
        raise UserError(f"{path}: not a readable media file, or damaged/truncated "
                        f"({exc.strerror})") from None


def _video_stream(container: av.container.InputContainer, path: Path) -> av.video.VideoStream:
    """The largest real video stream; cover art (a still attached to audio) does not count."""
    videos = [s for s in container.streams.video if not _is_cover_art(s)]
    if not videos:
        kinds = sorted({"cover art" if _is_cover_art(s) else s.type for s in container.streams})
        raise UserError(f"{path}: has no video stream (only {', '.join(kinds) or 'nothing'})")
    return max(videos, key=lambda s: s.codec_context.width * s.codec_context.height)


def _is_cover_art(stream: av.stream.Stream) -> bool:
    return bool(int(stream.disposition) & int(av.stream.Disposition.attached_pic))


def _video_info(stream: av.video.VideoStream, first: av.VideoFrame) -> VideoInfo:
    rate = as_fraction(stream.average_rate) or as_fraction(stream.guessed_rate)
    return VideoInfo(
        width=first.width,
        height=first.height,
        pix_fmt=first.format.name,
        time_base=as_fraction(stream.time_base) or Fraction(1, 90000),
        rate=rate,
        frames=_expected_frames(stream, rate),
        color_range=int(first.color_range),
        colorspace=int(first.colorspace),
        color_primaries=int(first.color_primaries),
        color_trc=int(first.color_trc),
        display_matrix=_display_matrix(first),
        sample_aspect_ratio=as_fraction(stream.codec_context.sample_aspect_ratio),
        tags=dict(stream.metadata),
        disposition=int(stream.disposition),
    )


def _expected_frames(stream: av.video.VideoStream, rate: Fraction | None) -> int | None:
    """Frame count from the container, else estimated from the duration (progress only)."""
    if stream.frames:
        return stream.frames
    if not rate:
        return None
    time_base = as_fraction(stream.time_base)
    if stream.duration and time_base:
        seconds = stream.duration * time_base
    elif stream.container.duration:
        seconds = Fraction(stream.container.duration, av.time_base)
    else:
        return None
    return round(seconds * rate)


def _display_matrix(frame: av.VideoFrame) -> tuple[int, ...] | None:
    """The rotation/flip matrix FFmpeg attaches to every decoded frame of a rotated video."""
    side = frame.side_data.get(SideDataType.DISPLAYMATRIX)
    return struct.unpack("=9i", bytes(side)) if side is not None else None
