"""The live job's parts that need no server: how sources and outputs are opened (FFmpeg
options, the v4l2 webcam without a device), timestamps across reconnects, backoff, latency
percentiles, dropping by age, and the command's one-line errors."""

from __future__ import annotations

import random
import signal
import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from streamdemoire import signals
from streamdemoire.cli import main
from streamdemoire.errors import UserError
from streamdemoire.io import Batch, FrameTime
from streamdemoire.io.ffmpeg_relay import Relay
from streamdemoire.io.live_sink import live_output
from streamdemoire.io.live_source import (
    BACKOFF_CAP_S,
    LIVE_TIME_BASE,
    Timeline,
    backoff_delay,
    device_options,
    live_input,
    network_options,
)
from streamdemoire.pipeline import DropPolicy, LatencyMeter, Pipeline

TICKS = 1 / LIVE_TIME_BASE  # output ticks per second


@pytest.mark.parametrize("url, expected, absent", [
    ("rtsp://cam/stream1", {"rtsp_transport": "tcp", "timeout": "2500000"}, ()),
    ("rtmp://host/live/key", {"rw_timeout": "2500000"}, ("timeout",)),  # rtmp timeout = listen
    ("https://host/cam.m3u8", {"timeout": "2500000", "rw_timeout": "2500000"}, ()),
    ("udp://127.0.0.1:5000", {"timeout": "2500000", "overrun_nonfatal": "1"}, ()),
    ("srt://host:9000", {"timeout": "2500000"}, ()),
])
def test_network_sources_get_an_io_timeout_and_little_buffering(url, expected, absent):
    options = network_options(url, 2.5)
    assert expected.items() <= options.items()
    assert options["fflags"] == "nobuffer"
    assert not set(absent) & set(options)


def test_rtsp_transport_can_be_udp():
    assert network_options("rtsp://cam/s", 5, "udp")["rtsp_transport"] == "udp"


def test_webcam_options_are_the_v4l2_demuxers():
    assert device_options((1280, 720), 30, "mjpeg") == {
        "video_size": "1280x720", "framerate": "30", "input_format": "mjpeg"}
    assert device_options(None, 29.97, None) == {"framerate": "29.97"}
    assert device_options(None, None, None) == {}


def test_a_webcam_that_is_not_there_is_a_clear_error():
    with pytest.raises(UserError, match="no such video device"):
        live_input("/dev/video97", input_size=(640, 480))


@pytest.mark.parametrize("source, kwargs, message", [
    ("rtsp://cam/s", {"input_size": (640, 480)}, "are for a webcam"),
    ("rtsp://cam/s", {"realtime": True}, "is for a file source"),
    ("gopher://cam/s", {}, "unsupported source"),
    ("missing.mp4", {"realtime": True}, "input not found"),
])
def test_options_that_do_not_fit_the_source_are_refused(source, kwargs, message):
    with pytest.raises(UserError, match=message):
        live_input(source, **kwargs)


def test_a_file_needs_realtime(media):
    clip = media.video()
    with pytest.raises(UserError, match="add --realtime"):
        live_input(str(clip))
    assert live_input(str(clip), realtime=True).kind == "file"


def test_stdin_is_a_pipe_that_is_not_reconnected():
    inp = live_input("-")
    assert (inp.url, inp.kind, inp.reconnects) == ("pipe:0", "stdin", False)


@pytest.mark.parametrize("sink, url, fmt, option", [
    ("-", "pipe:1", "mpegts", None),
    ("udp://127.0.0.1:5000", "udp://127.0.0.1:5000?pkt_size=1316", "mpegts", "rw_timeout"),
    ("rtmp://host/live/key", "rtmp://host/live/key", "flv", "rw_timeout"),
    ("rtsp://127.0.0.1:8554/out", "rtsp://127.0.0.1:8554/out", "rtsp", "rtsp_transport"),
])
def test_stream_outputs(sink, url, fmt, option):
    out = live_output(sink)
    assert (out.url, out.format) == (url, fmt)
    assert option is None or option in out.options


def test_file_outputs_survive_a_cut(tmp_path):
    mp4 = live_output(str(tmp_path / "rec.mp4"))
    assert "frag_keyframe" in mp4.options["movflags"]
    segments = live_output(str(tmp_path / "rec.mkv"), segment_seconds=2)
    assert (segments.format, segments.url) == ("segment", str(tmp_path / "rec_%05d.mkv"))
    assert segments.options["segment_time"] == "2"


@pytest.mark.parametrize("sink, kwargs, message", [
    ("-", {"segment_seconds": 2}, "for a file output"),
    ("out.avi", {}, "unknown output format"),
    ("no/such/folder/out.mkv", {}, "output folder does not exist"),
    ("gopher://host/x", {}, "unsupported output"),
])
def test_outputs_that_cannot_work_are_refused(sink, kwargs, message):
    with pytest.raises(UserError, match=message):
        live_output(sink, **kwargs)


def test_backoff_doubles_with_jitter_up_to_a_cap():
    rng = random.Random(1)
    assert backoff_delay(0, rng) == 0
    for attempt, full in ((1, 0.5), (2, 1.0), (3, 2.0)):
        assert full / 2 <= backoff_delay(attempt, rng) <= full
    assert max(backoff_delay(30, rng) for _ in range(50)) <= BACKOFF_CAP_S
    assert len({backoff_delay(4, rng) for _ in range(10)}) > 1  # jittered


def test_timeline_follows_the_source_then_the_wall_clock_across_a_reconnect():
    line = Timeline()
    # A connection whose clock starts at 1000 s, 40 ms a frame, with jittery arrivals.
    first = [line.stamp(1000 + i * 0.04, 50 + i * 0.04 + (0.01 if i % 2 else 0))
             for i in range(5)]
    assert first == [round(i * 0.04 * TICKS) for i in range(5)]
    # The server restarts: the new connection's clock starts over at 0, 3 s later.
    line.restart()
    second = [line.stamp(i * 0.04, 50.16 + 3 + i * 0.04) for i in range(3)]
    assert second[0] - first[-1] == round(3 * TICKS)  # the outage is a pause
    assert np.diff(second).tolist() == [round(0.04 * TICKS)] * 2


def test_timeline_always_rises():
    line = Timeline()
    stamps = [line.stamp(5.0, 1.0), line.stamp(5.0, 1.0), line.stamp(None, 1.0),
              line.stamp(4.0, 1.01)]
    assert all(b > a for a, b in zip(stamps, stamps[1:], strict=False))


def test_timeline_treats_a_clock_jump_as_the_wall_clock():
    line = Timeline()
    line.stamp(10.0, 100.0)
    assert line.stamp(3600.0, 100.04) == round(0.04 * TICKS)


def test_latency_meter_percentiles_and_windows():
    meter = LatencyMeter()
    for ms in range(1, 101):
        meter.add(ms / 1000)
    assert meter.summary_ms() == {"p50": 50.0, "p95": 95.0, "max": 100.0}
    earlier = meter.copy()
    meter.add(0.5)
    meter.add(12.0)  # beyond the last bin: the max is still exact
    window = meter.since(earlier)
    assert window.count == 2 and window.percentile(50) == pytest.approx(0.5)
    assert meter.max == 12.0 and meter.summary_ms()["max"] == 12000.0
    assert LatencyMeter().summary_ms() == {"p50": None, "p95": None, "max": None}


class _AgedSource:
    """Batches of one frame each; every other one arrives already 2 s old."""

    def batches(self, size: int):
        for i in range(10):
            arrival = time.monotonic() - (2.0 if i % 2 else 0.0)
            yield Batch(np.zeros((1, 2, 2, 3), np.uint8),
                        [FrameTime(i, Fraction(1, 25))], arrival=[arrival])


class _Sink:
    def __init__(self) -> None:
        self.pts: list[int] = []

    def write(self, batch: Batch) -> None:
        self.pts += [t.pts for t in batch.times]


def test_frames_that_waited_past_max_age_are_dropped_and_counted():
    sink = _Sink()
    pipeline = Pipeline(_AgedSource(), lambda f: f, sink, batch_size=1, depth=20,
                        policy=DropPolicy.DROP_OLDEST, max_age=1.0)
    stats = pipeline.run()
    assert sink.pts == [0, 2, 4, 6, 8]
    assert stats.dropped == 5 and stats.latency.count == 5
    assert stats.latency.max < 1.0


@pytest.mark.parametrize("args, message", [
    (["/dev/video97"], "/dev/video97: no such video device"),
    (["/dev/video97", "--input-size", "640x481"], "sides must be even"),
    (["rtsp://127.0.0.1:1/x", "--input-fps", "30"], "are for a webcam"),
    (["rtsp://127.0.0.1:1/x", "-o", "out.avi"], "unknown output format"),
    (["rtsp://127.0.0.1:1/x", "-o", "-", "--segment-seconds", "5"], "for a file output"),
])
def test_command_errors_are_one_line(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["live", *args])
    assert result.exit_code in (1, 2)  # 2: click's own usage error, with its usage lines
    assert message in result.stderr and "Traceback" not in result.stderr
    if result.exit_code == 1:
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_relay_started_from_a_stage_thread_still_takes_sigterm():
    """Stage threads block the handled signals (streamdemoire/signals.py) and a child
    process inherits its thread's mask: the relay must not, or SIGTERM could not stop it."""
    relays = []

    def start_relay() -> None:
        with signals.blocked():
            relays.append(Relay(("sleep", "30"), output=False))

    thread = threading.Thread(target=start_relay)
    thread.start()
    thread.join()
    relay = relays[0]
    try:
        status = Path(f"/proc/{relay.process.pid}/status").read_text()
        blocked = int(status.split("SigBlk:")[1].split()[0], 16)
        assert not blocked & (1 << (signal.SIGTERM - 1))
        relay.process.send_signal(signal.SIGTERM)
        assert relay.process.wait(5) == -signal.SIGTERM
    finally:
        relay.process.kill()
        relay.process.wait()
