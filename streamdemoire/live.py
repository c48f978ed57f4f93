"""Live jobs: demoiré a camera or stream as it comes, with bounded latency, for as long as
it runs.

``run_live`` is the ``Pipeline`` with a ``LiveSource``, a ``LiveSink`` and the drop-oldest
policy: when the model falls behind, the oldest frames are dropped and counted rather than
queued, so the delay stays under ``max_latency`` instead of growing without end. Each
frame's latency (received to encoded) is measured; the percentiles are logged every few
seconds and reported at the end. The ``live`` command is its front end.

A run ends when ``duration`` is up, when ``stop`` is set (the command sets it on SIGINT and
SIGTERM), at the end of a file or stdin, or with an error once the source has been gone for
``give_up_after`` seconds; in every case the output is finished and playable.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import click
import numpy as np

from .api import Demoirer
from .errors import UserError
from .io import ENCODERS, EncodeSettings
from .io.live_sink import LiveOutput, LiveSink, default_output, live_output
from .io.live_source import LiveInput, LiveSource, live_input
from .options import model_options, sharpen_option, temporal_options
from .pipeline import DropPolicy, LatencyMeter, Pipeline, PipelineStats, Transform
from .synth.command import FrameSize

log = logging.getLogger(__name__)


@dataclass
class LiveReport:
    """What a live run did; the ``--json`` line."""

    source: str
    output: str
    frames: int
    #: Frames received but not in the output: the model or the encoder was behind.
    dropped: int
    reconnects: int
    latency: LatencyMeter
    seconds: float
    #: "duration", "stop", "end of input", or "error" (then ``error`` says why).
    ended_by: str
    error: str | None = None

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        return {"source": self.source, "output": self.output, "frames": self.frames,
                "dropped": self.dropped, "reconnects": self.reconnects,
                "latency_ms": self.latency.summary_ms(), "seconds": round(self.seconds, 3),
                "fps": round(self.fps, 2), "ended_by": self.ended_by, "error": self.error}


def run_live(inp: LiveInput, out: LiveOutput, transform: Transform, *,
             settings: EncodeSettings | None = None, max_latency: float = 0.5,
             duration: float | None = None, give_up_after: float = 60.0,
             batch_size: int = 1, stats_every: float = 5.0,
             stop: threading.Event | None = None) -> LiveReport:
    """Run a live job until it ends (see the module docstring); returns its report.

    Failing to open the source or the output raises ``UserError`` before anything runs; an
    error during the run (the source gone for good, the receiver gone) ends it with the
    output finished, and is in ``LiveReport.error``.
    """
    transform = _NewStreamAware(transform)
    with LiveSource(inp, give_up_after=give_up_after, duration=duration, stop=stop,
                    depth=max(2, batch_size), on_reconnect=transform.new_stream.set) as source, \
            LiveSink(out, source.info, settings or EncodeSettings()) as sink:
        pipeline = Pipeline(source, transform, sink, batch_size=batch_size, depth=1,
                            policy=DropPolicy.DROP_OLDEST, max_age=max_latency,
                            on_abort=source.stop)
        pipeline.on_batch = _StatsLog(pipeline, source, stats_every)
        start = time.monotonic()
        error = None
        try:
            pipeline.run()
        except UserError as exc:
            error = str(exc)
        try:
            sink.finish()
        except UserError as exc:  # a receiver gone at the end: still a run to report
            error = error or str(exc)
        seconds = time.monotonic() - start
    stats = pipeline.stats
    return LiveReport(inp.label, out.label, stats.frames, stats.dropped + source.dropped,
                      source.reconnects, stats.latency, seconds,
                      "error" if error else source.ended_by or "end of input", error)


class _NewStreamAware:
    """The model stage, told when the source reconnected: a transform with state across
    frames (temporal smoothing: one with a ``reset()`` method) must not blend the last frames
    before an outage into the first ones after it."""

    def __init__(self, transform: Transform) -> None:
        self.transform = transform
        self.new_stream = threading.Event()

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        if self.new_stream.is_set():
            self.new_stream.clear()
            reset = getattr(self.transform, "reset", None)
            if callable(reset):
                reset()
        return self.transform(frames)


class _StatsLog:
    """Every ``every`` seconds, one line: frames, rate, drops, reconnects, and the latency
    percentiles of the frames since the last line."""

    def __init__(self, pipeline: Pipeline, source: LiveSource, every: float) -> None:
        self.pipeline, self.source, self.every = pipeline, source, every
        self._last_time = time.monotonic()
        self._last_frames = 0
        self._last_latency = LatencyMeter()

    def __call__(self, stats: PipelineStats) -> None:
        now = time.monotonic()
        if now - self._last_time < self.every:
            return
        window = stats.latency.since(self._last_latency).summary_ms()
        fps = (stats.frames - self._last_frames) / (now - self._last_time)
        log.info("%d frames (%.1f fps), %d dropped, %d reconnect(s); latency p50 %s, p95 %s, "
                 "max %s ms", stats.frames, fps, self.pipeline.dropped + self.source.dropped,
                 self.source.reconnects, window["p50"], window["p95"], window["max"])
        self._last_time, self._last_frames = now, stats.frames
        self._last_latency = stats.latency.copy()


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM ask the run to stop (it then finishes its output); a second SIGINT
    interrupts at once. The previous handlers come back afterwards."""

    def handler(signum: int, frame: object) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; a caller there handles signals itself
        return
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@click.command()
@click.argument("source", metavar="SOURCE")
@click.option("-o", "--output", "sink", metavar="SINK",
              help="A file (.mkv .mp4 .mov .ts .flv), rtsp:// (publish), rtmp://, udp:// "
                   "or srt:// (MPEG-TS), or - for MPEG-TS on stdout. "
                   "[default: live-DATE-TIME.mkv]")
@click.option("--max-latency", type=click.IntRange(min=1), default=500, show_default=True,
              metavar="MS", help="No frame waits longer than this for the model; older frames "
                                 "are dropped (and counted).")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), metavar="S",
              help="Stop after S seconds. [default: run until stopped]")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=5.0, show_default=True,
              metavar="S", help="Seconds the source may take to answer, on opening and on "
                                "every read.")
@click.option("--give-up-after", type=click.FloatRange(min=0), default=60.0, show_default=True,
              metavar="S", help="Reconnect (with backoff) until the source has been gone this "
                                "long, then fail.")
@click.option("--segment-seconds", type=click.FloatRange(min=1), metavar="S",
              help="Write the file output as segments of about S seconds (NAME_00000.EXT, "
                   "...): a crash loses at most one.")
@click.option("--realtime", is_flag=True,
              help="SOURCE is a file: play it at its own rate, as a camera would send it.")
@click.option("--input-size", type=FrameSize(), metavar="WxH", help="Webcam frame size.")
@click.option("--input-fps", type=click.FloatRange(min=0, min_open=True),
              help="Webcam frame rate.")
@click.option("--input-format", metavar="FMT",
              help="Webcam pixel format, e.g. mjpeg, yuyv422 (v4l2-ctl --list-formats).")
@click.option("--rtsp-transport", type=click.Choice(["tcp", "udp"]), default="tcp",
              show_default=True, help="How an rtsp:// source sends its video.")
@click.option("--codec", type=click.Choice(list(ENCODERS)), default="libx264", show_default=True,
              help="Video encoder.")
@click.option("--crf", type=click.IntRange(0, 51), help="Quality, lower is better.")
@click.option("--preset", help="Encoder speed preset [default: veryfast, p2 for nvenc].")
@click.option("--batch", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Most frames per model call (a batch never waits to fill up).")
@model_options
@sharpen_option
@temporal_options
@click.option("--stats-every", type=click.FloatRange(min=0.1), default=5.0, show_default=True,
              metavar="S", help="Log frames, drops and latency every S seconds.")
@click.option("-q", "--quiet", is_flag=True, help="No notices and no periodic statistics.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON line with the results last (on stderr when -o is -).")
def live(source: str, sink: str | None, max_latency: int, duration: float | None,
         timeout: float, give_up_after: float, segment_seconds: float | None, realtime: bool,
         input_size: tuple[int, int] | None, input_fps: float | None,
         input_format: str | None, rtsp_transport: str, codec: str, crf: int | None,
         preset: str | None, batch: int, backend: str, device: str, checkpoint: Path | None,
         engine_path: Path | None, sharpen: float, temporal: bool, temporal_strength: float,
         stats_every: float, quiet: bool, as_json: bool) -> None:
    """Demoiré the live feed SOURCE as it comes: rtsp:// (TCP), rtmp://, http(s):// or HLS,
    udp://, srt://, a webcam (/dev/videoN), a file with --realtime, or - for stdin.

    Runs until stopped (Ctrl-C, SIGTERM) or --duration, then finishes the output so it plays.
    A lost source is reconnected with backoff; the output carries on with rising timestamps.
    """
    from .cli import one_line_errors, show_notices  # not at the top: cli imports this module

    show_notices(not quiet)
    log.setLevel(logging.ERROR if quiet else logging.INFO)
    to_stdout = sink == "-"
    with one_line_errors():
        inp = live_input(source, timeout=timeout, realtime=realtime, input_size=input_size,
                         input_fps=input_fps, input_format=input_format,
                         rtsp_transport=rtsp_transport)
        out = live_output(sink or default_output(), segment_seconds=segment_seconds,
                          timeout=timeout,
                          source_path=Path(inp.url) if inp.kind == "file" else None)
        demoirer = Demoirer(backend=backend, device=device, checkpoint=checkpoint,
                            engine_path=engine_path, temporal=temporal,
                            temporal_strength=temporal_strength, sharpen=sharpen)
        stop = threading.Event()
        with stop_on_signals(stop):
            report = run_live(inp, out, demoirer, settings=EncodeSettings(codec, crf, preset),
                              max_latency=max_latency / 1000, duration=duration,
                              give_up_after=give_up_after, batch_size=batch,
                              stats_every=stats_every, stop=stop)
    _print_report(report, demoirer, as_json, quiet, sys.stderr if to_stdout else sys.stdout)
    if report.error:
        from .cli import fail

        fail(report.error)


def _print_report(report: LiveReport, demoirer: Demoirer, as_json: bool, quiet: bool,
                  stream: TextIO) -> None:
    if as_json:
        smoother = demoirer.smoother
        click.echo(json.dumps({**report.as_dict(), "backend": demoirer.engine.name,
                               "device": str(demoirer.engine.device),
                               "sharpen": demoirer.sharpen,
                               "temporal": smoother.strength if smoother else None}),
                   file=stream)
    elif not quiet:
        lat = report.latency.summary_ms()
        click.echo(f"wrote {report.output}: {report.frames} frames in {report.seconds:.1f} s "
                   f"({report.fps:.1f} fps), {report.dropped} dropped, {report.reconnects} "
                   f"reconnect(s); latency p50 {lat['p50']} / p95 {lat['p95']} / max "
                   f"{lat['max']} ms", file=stream)
