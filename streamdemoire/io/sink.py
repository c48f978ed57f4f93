"""Writing the result: RGB batches encoded, other streams copied, the file renamed into place.

``FileSink`` sets everything up when it is made: container, video encoder, copied or
re-encoded audio, subtitles, header. So a container that cannot hold the codec, an encoder
FFmpeg lacks or that cannot run here, a folder that does not exist, all fail before any frame
is processed. It writes to a hidden temporary file beside the target and renames it only in
``finish()``; ``abort()`` (or leaving the ``with`` block without ``finish()``) deletes it, so a
failed or interrupted run never leaves a partial output.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

from ..errors import UserError
from ..files import part_path
from .avcompat import OPEN_KWARGS
from .colour import sws_matrix, sws_range
from .frames import Batch, FrameTime, VideoInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Encoder:
    """How one encoder takes the --crf/--preset options, and what sizes it can store."""

    #: Option name that takes --crf ("crf", nvenc's "cq"), or None for lossless encoders.
    quality_option: str | None = None
    default_quality: int | None = None
    default_preset: str | None = None
    #: The --preset values it takes (checked here: x264 prints its own error otherwise).
    presets: tuple[str, ...] = ()
    #: Options always passed (e.g. keep x265 from printing to the terminal).
    options: dict[str, str] = field(default_factory=dict)
    #: True when odd sizes keep subsampled chroma; H.264/HEVC need 4:4:4 for an odd width.
    odd_sizes_any_chroma: bool = False


_X26X_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                 "slower", "veryslow", "placebo")
_NVENC_PRESETS = ("p1", "p2", "p3", "p4", "p5", "p6", "p7")

ENCODERS = {
    "libx264": _Encoder("crf", 18, "medium", _X26X_PRESETS),
    "libx265": _Encoder("crf", 20, "medium", _X26X_PRESETS, {"x265-params": "log-level=none"}),
    "ffv1": _Encoder(odd_sizes_any_chroma=True),
    "h264_nvenc": _Encoder("cq", 19, "p4", _NVENC_PRESETS, {"rc": "vbr"}),
    "hevc_nvenc": _Encoder("cq", 19, "p4", _NVENC_PRESETS, {"rc": "vbr"}),
}

#: (chroma layout, more than 8 bits) -> pixel formats encoders know it by, planar first.
_PIX_FMTS = {
    ("420", False): ("yuv420p", "nv12"),
    ("420", True): ("yuv420p10le", "p010le"),
    ("422", False): ("yuv422p", "nv16"),
    ("422", True): ("yuv422p10le", "p210le"),
    ("444", False): ("yuv444p",),
    ("444", True): ("yuv444p10le", "yuv444p16le"),
}

#: Tags the muxer or encoder writes about themselves: never copied from the input.
_TECHNICAL_TAGS = {"encoder", "duration", "major_brand", "minor_version", "compatible_brands",
                   "vendor_id", "bps", "number_of_frames", "number_of_bytes"}

#: For each input chroma layout, the order to try: itself, then richer, then poorer.
_CHROMA_ORDER = {"420": ("420", "422", "444"), "422": ("422", "444", "420"),
                 "444": ("444", "422", "420")}


@dataclass(frozen=True)
class EncodeSettings:
    """The user's encoder choice; None means the encoder's own default from ``ENCODERS``."""

    codec: str = "libx264"
    crf: int | None = None
    preset: str | None = None


@dataclass
class _SideStream:
    """An audio or subtitle stream of the input and where its packets go."""

    out: av.stream.Stream
    #: The input's decoder when the audio must be re-encoded (to AAC); None when copied.
    decoder: av.codec.context.CodecContext | None = None


def check_output_path(output: Path, input_path: Path) -> None:
    """Refuse outputs that cannot work before anything is decoded or written."""
    if output.exists() and output.is_dir():
        raise UserError(f"output is a folder, not a file: {output}")
    if not output.parent.is_dir():
        raise UserError(f"output folder does not exist: {output.parent}")
    if output.resolve() == input_path.resolve() or (
            output.exists() and input_path.exists() and output.samefile(input_path)):
        raise UserError(f"output would overwrite the input ({input_path}); choose another -o")


class FileSink:
    """Encodes batches into ``path`` (atomically, see the module docstring)."""

    def __init__(self, path: Path, info: VideoInfo, side_streams: Sequence[av.stream.Stream],
                 settings: EncodeSettings,
                 container_tags: Mapping[str, str] | None = None) -> None:
        self.path = Path(path)
        self.tmp = part_path(self.path)
        self.container = _open_output(self.tmp, self.path)
        self._finished = False
        try:
            copy_tags(container_tags or {}, self.container.metadata)
            self.video = _add_video_stream(self.container, info, settings, self.path)
            self._matrix = sws_matrix(info.colorspace)
            self._range = sws_range(info.color_range)
            self._side = {s.index: side for s in side_streams
                          if (side := _add_side_stream(self.container, s, self.path)) is not None}
            _start(self.container, self.video, settings, self.path)
        except BaseException:
            self.abort()
            raise

    def __enter__(self) -> FileSink:
        return self

    def __exit__(self, *exc) -> None:
        if not self._finished:
            self.abort()

    def write(self, batch: Batch) -> None:
        """Encode the batch's frames with their own timestamps; copy what rides along."""
        try:
            for rgb, time in zip(batch.frames, batch.times, strict=True):
                self._encode_frame(rgb, time)
            for packet in batch.passthrough:
                self._write_side(packet)
        except av.error.FFmpegError as exc:
            raise UserError(f"cannot write {self.path}: {exc.strerror}") from None

    def finish(self) -> None:
        """Drain the encoders, write the trailer, and move the file into place.

        If this fails, leaving the ``with`` block deletes the temporary file.
        """
        try:
            self._mux(self.video.encode(None))
            for side in self._side.values():
                if side.decoder is not None:
                    self._transcode(side, None)
                    self._mux(side.out.encode(None))
            self.container.close()
        except av.error.FFmpegError as exc:
            raise UserError(f"cannot write {self.path}: {exc.strerror}") from None
        os.replace(self.tmp, self.path)
        self._finished = True

    def abort(self) -> None:
        """Throw the partial output away; safe to call at any point, more than once."""
        # The file is discarded, so whatever closing a broken container raises is moot.
        with contextlib.suppress(Exception):
            self.container.close()
        self.tmp.unlink(missing_ok=True)

    def _encode_frame(self, rgb: np.ndarray, time: FrameTime) -> None:
        self._mux(encode_rgb(self.video, rgb, time, self._matrix, self._range))

    def _write_side(self, packet: av.Packet) -> None:
        side = self._side.get(packet.stream.index)
        if side is None:
            return
        if side.decoder is None:
            packet.stream = side.out
            self.container.mux(packet)
        else:
            self._transcode(side, packet)

    def _transcode(self, side: _SideStream, packet: av.Packet | None) -> None:
        """Decode one input audio packet (None: drain) and encode it for the output."""
        try:
            frames = side.decoder.decode(packet)
        except av.error.InvalidDataError:
            return  # a damaged audio packet: a few ms of silence, not a failed run
        for frame in frames:
            self._mux(side.out.encode(frame))

    def _mux(self, packets: list[av.Packet]) -> None:
        for packet in packets:
            self.container.mux(packet)


def encode_rgb(stream: av.video.VideoStream, rgb: np.ndarray, time: FrameTime, matrix: int,
               colour_range: int) -> list[av.Packet]:
    """Encode one RGB frame with its own timestamp, converted to the stream's pixel format
    with the input's colour matrix and range (``sws_matrix``/``sws_range`` codes)."""
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(
        format=stream.codec_context.pix_fmt, dst_colorspace=matrix, dst_color_range=colour_range)
    frame.pts = time.pts
    frame.time_base = time.time_base
    frame.duration = time.duration
    return stream.encode(frame)


def _open_output(tmp: Path, target: Path) -> av.container.OutputContainer:
    try:
        # The format comes from the target's extension, which the temporary name keeps.
        return av.open(str(tmp), "w", **OPEN_KWARGS)
    except ValueError:
        raise UserError(f"{target}: unknown output format {target.suffix!r}; "
                        f"use .mp4, .mkv or .mov") from None


def _add_video_stream(container: av.container.OutputContainer, info: VideoInfo,
                      settings: EncodeSettings, target: Path) -> av.video.VideoStream:
    """The output video stream: input size, pixel layout, time base, colours and rotation."""
    codec = _encoder_codec(settings.codec)
    try:
        stream = container.add_stream(settings.codec, rate=info.rate,
                                      options=_encoder_options(settings))
    except ValueError:
        raise UserError(f"a {target.suffix} file cannot hold {settings.codec} video; "
                        f"use .mkv (any codec) or .mp4") from None
    stream.width, stream.height = info.width, info.height
    stream.pix_fmt = choose_pix_fmt(codec, info)
    cc = stream.codec_context
    cc.time_base = info.time_base
    cc.color_range = info.color_range
    cc.colorspace = info.colorspace
    cc.color_primaries = info.color_primaries
    cc.color_trc = info.color_trc
    if info.sample_aspect_ratio:
        cc.sample_aspect_ratio = info.sample_aspect_ratio
    if info.display_matrix:
        stream.set_display_matrix(list(info.display_matrix))
    copy_tags(info.tags, stream.metadata)
    stream.disposition = info.disposition
    return stream


def _encoder_codec(name: str) -> av.Codec:
    if name not in ENCODERS:
        raise UserError(f"unknown codec {name!r}; choose from {', '.join(ENCODERS)}")
    try:
        return av.Codec(name, "w")
    except av.error.FFmpegError:  # UnknownCodecError: not built into this FFmpeg
        raise UserError(f"this FFmpeg build has no {name} encoder; try --codec libx264") from None


def _encoder_options(settings: EncodeSettings) -> dict[str, str]:
    enc = ENCODERS[settings.codec]
    options = dict(enc.options)
    if enc.quality_option is None:
        if settings.crf is not None or settings.preset is not None:
            log.warning("%s is lossless: --crf and --preset are ignored", settings.codec)
        return options
    if settings.preset is not None and settings.preset not in enc.presets:
        raise UserError(f"{settings.codec} has no preset {settings.preset!r}; choose from "
                        f"{', '.join(enc.presets)}")
    options[enc.quality_option] = str(settings.crf if settings.crf is not None
                                      else enc.default_quality)
    options["preset"] = settings.preset or enc.default_preset
    return options


def choose_pix_fmt(codec: av.Codec, info: VideoInfo) -> str:
    """The output pixel format: the input's chroma layout and bit depth where the encoder
    has them, else the nearest it has (10-bit falls back to 8-bit, 4:2:2 to 4:4:4 then 4:2:0).

    H.264 and HEVC crop only in whole chroma samples, so an odd width needs 4:4:4 and an odd
    height 4:2:2 or 4:4:4; those sizes move up to a layout that can store them.
    """
    supported = {f.name for f in codec.video_formats or ()}
    chroma, deep = _pixel_layout(info.pix_fmt)
    any_size = ENCODERS[codec.name].odd_sizes_any_chroma
    for layout in _CHROMA_ORDER[chroma]:
        if not (any_size or _stores_size(layout, info.width, info.height)):
            continue
        for depth in ((True, False) if deep else (False,)):
            for name in _PIX_FMTS[(layout, depth)]:
                if name in supported:
                    return name
    raise UserError(f"{codec.name} cannot encode {info.width}x{info.height} video; "
                    f"try --codec ffv1")


def _pixel_layout(pix_fmt: str) -> tuple[str, bool]:
    """("420" | "422" | "444", more than 8 bits) for an FFmpeg pixel format name."""
    fmt = av.VideoFormat(pix_fmt, 16, 16)
    deep = max(c.bits for c in fmt.components) > 8
    if fmt.is_rgb:
        return "444", deep
    if len(fmt.components) < 3:  # grey: any layout holds it; 4:2:0 is the cheapest
        return "420", deep
    chroma = fmt.components[1]
    if chroma.width == 16:
        return "444", deep
    return ("422" if chroma.height == 16 else "420"), deep


def _stores_size(layout: str, width: int, height: int) -> bool:
    if layout == "444":
        return True
    return width % 2 == 0 and (layout == "422" or height % 2 == 0)


def _add_side_stream(container: av.container.OutputContainer, stream: av.stream.Stream,
                     target: Path) -> _SideStream | None:
    """Copy the stream if the container takes it as is; else audio becomes AAC, and a
    subtitle stream is left out; either way the user is told."""
    what = f"{stream.type} stream #{stream.index} ({stream.codec_context.name})"
    if _container_accepts(container.format.name, stream):
        side = _SideStream(container.add_stream_from_template(stream))
    elif stream.type == "audio":
        log.warning("%s cannot be copied into a %s file; re-encoding it to AAC",
                    what, target.suffix)
        decoder = stream.codec_context
        side = _SideStream(container.add_stream("aac", rate=decoder.sample_rate), decoder)
        side.out.codec_context.layout = decoder.layout
    else:
        log.warning("%s cannot be stored in a %s file; leaving it out (use .mkv to keep it)",
                    what, target.suffix)
        return None
    copy_tags(stream.metadata, side.out.metadata)
    side.out.disposition = stream.disposition
    return side


def copy_tags(source: Mapping[str, str], target: dict[str, str]) -> None:
    """Keep what describes the content (language, title, creation time, location...), not
    what the old muxer and encoder wrote about themselves, which would now be wrong."""
    target.update({k: v for k, v in source.items()
                   if k.lower() not in _TECHNICAL_TAGS and not k.startswith("_STATISTICS")})


def _container_accepts(format_name: str, stream: av.stream.Stream) -> bool:
    """Whether the muxer takes this stream's packets unchanged.

    Writing a header in memory is the test: FFmpeg's codec tables say yes to some pairs the
    muxer then refuses (Opus or FLAC in .mov).
    """
    probe = av.open(io.BytesIO(), "w", format=format_name, **OPEN_KWARGS)
    try:
        probe.add_stream_from_template(stream)
        probe.start_encoding()
        return True
    except (ValueError, av.error.FFmpegError):
        return False
    finally:
        with contextlib.suppress(Exception):  # a refused probe may not close cleanly
            probe.close()


def _start(container: av.container.OutputContainer, video: av.video.VideoStream,
           settings: EncodeSettings, target: Path) -> None:
    """Open the encoder, then write the header: the first place FFmpeg says no."""
    cc = video.codec_context
    try:
        cc.open()
    except av.error.FFmpegError as exc:
        # Not cc.name: after a failed open FFmpeg 8 clears the codec and PyAV 19 would crash.
        hint = ("it needs an NVIDIA GPU with NVENC and its driver" if "nvenc" in settings.codec
                else "check --preset and --crf, or try another --codec")
        raise UserError(f"the {settings.codec} encoder cannot start for {cc.width}x{cc.height} "
                        f"{cc.pix_fmt} ({exc.strerror}); {hint}") from None
    try:
        container.start_encoding()
    except av.error.FFmpegError as exc:
        raise UserError(f"cannot write {target}: {exc.strerror}") from None
