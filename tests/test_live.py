"""``streamdemoire live`` against a real RTSP server (GStreamer's gst-rtsp-server on
127.0.0.1) serving a simulated moiré clip in real time: frames flow through the model, an
outage is reconnected into one output with rising timestamps, a slow engine drops frames
rather than fall behind, a dead server fails on time, a source gone for good gives up,
signals stop cleanly, and the output can be published back to an RTSP server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from live_helpers import (
    Counting,
    RtspServer,
    assert_cleaned_clip,
    assert_reconnected_into_one_output,
    assert_rising,
    camera_clip,
    cli_process,
    decoded_frames,
    gst_rtsp_missing,
    pts_seconds,
    wait_for,
)

from streamdemoire.cli import main
from streamdemoire.io.live_sink import live_output
from streamdemoire.io.live_source import live_input
from streamdemoire.live import run_live

_missing = gst_rtsp_missing()
pytestmark = pytest.mark.skipif(_missing is not None, reason=_missing or "")


@pytest.fixture(scope="module")
def clip(request: pytest.FixtureRequest) -> Path:
    return camera_clip(request.config.cache.mkdir("streamdemoire-live"))


@pytest.fixture
def server(clip: Path):
    rtsp = RtspServer(clip).start()
    yield rtsp
    rtsp.kill()


def test_frames_flow_through_the_model_into_the_output(server, demoirer, clip, tmp_path):
    engine = Counting(demoirer)
    out = tmp_path / "out.mkv"

    report = run_live(live_input(server.url, timeout=5), live_output(str(out)), engine,
                      duration=5, max_latency=5.0)

    assert (report.error, report.ended_by, report.reconnects) == (None, "duration", 0)
    assert_cleaned_clip(out, report, engine, clip)


def test_server_killed_and_restarted_reconnects_into_one_rising_output(server, demoirer,
                                                                      tmp_path):
    engine = Counting(demoirer)
    out = tmp_path / "out.mkv"
    stop = threading.Event()
    result = {}

    def run() -> None:
        result["report"] = run_live(live_input(server.url, timeout=2), live_output(str(out)),
                                    engine, max_latency=5.0, give_up_after=30, stop=stop)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        wait_for(lambda: engine.frames >= 3, 120, "frames before the outage")
        server.kill()
        time.sleep(1.5)
        before_restart = engine.frames
        server.start()  # the same port
        wait_for(lambda: engine.frames >= before_restart + 3, 120, "frames after the restart")
    finally:
        stop.set()
        thread.join(120)
    report = result["report"]

    pts = assert_reconnected_into_one_output(report, out)
    assert engine.resets >= 1  # no smoothing across the outage
    gaps = np.diff(pts)
    assert gaps.max() >= 1.0  # the outage is a pause in the one output, not a restart at 0


def test_a_slow_engine_drops_the_oldest_frames_and_latency_stays_bounded(server, tmp_path):
    # A stand-in engine that takes 300 ms a frame against a 25 fps feed: without dropping,
    # frames would queue and the delay would grow by ~0.9 s every second.
    engine = Counting(lambda frames: frames.copy(), delay=0.3)
    out = tmp_path / "out.mkv"

    report = run_live(live_input(server.url, timeout=5), live_output(str(out)), engine,
                      duration=5, max_latency=0.8)

    assert report.error is None
    assert report.frames >= 5 and report.dropped > report.frames
    latency = report.latency.summary_ms()
    assert latency["p95"] < 800, latency
    assert len(decoded_frames(out)) == report.frames


def test_a_server_that_never_answers_fails_after_its_timeout(identity_checkpoint, tmp_path):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # connections queue up; nobody ever reads or answers
    port = silent.getsockname()[1]
    out = tmp_path / "out.mkv"
    start = time.monotonic()
    try:
        result = CliRunner().invoke(main, [
            "live", f"rtsp://127.0.0.1:{port}/stream", "-o", str(out), "--timeout", "1.5",
            "--backend", "torch", "--device", "cpu", "--checkpoint", str(identity_checkpoint)])
    finally:
        silent.close()
    elapsed = time.monotonic() - start

    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"streamdemoire: error: rtsp://127.0.0.1:{port}/stream:")
    assert "within 1.5 s" in lines[0] or "no data" in lines[0]
    assert elapsed < 20
    assert not out.exists()


def test_sigterm_stops_cleanly_with_a_playable_output(server, identity_checkpoint, tmp_path):
    """As the worker's stream supervisor stops it: a separate process, SIGTERM."""
    out = tmp_path / "out.ts"
    process = cli_process("live", server.url, "-o", out, "--json", "--backend", "torch",
                          "--device", "cpu", "--checkpoint", identity_checkpoint,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: recording(out), 300, "frames in the output")
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert_playable_report(json.loads(stdout.strip().splitlines()[-1]), out)


def test_ctrl_c_stops_cleanly_with_a_playable_output(server, torch_pinned_to_one_thread,
                                                     identity_checkpoint, tmp_path):
    out = tmp_path / "out.ts"

    def interrupt_once_recording() -> None:
        wait_for(lambda: recording(out), 120, "frames in the output")
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_once_recording, daemon=True).start()
    result = CliRunner().invoke(main, [
        "live", server.url, "-o", str(out), "--json", "--duration", "120", "--backend", "torch",
        "--device", "cpu", "--checkpoint", str(identity_checkpoint)])

    assert result.exit_code == 0, result.stderr
    assert_playable_report(json.loads(result.stdout.strip().splitlines()[-1]), out)


def recording(out: Path) -> bool:
    return out.exists() and out.stat().st_size > 3000  # headers and a frame or two


def assert_playable_report(report: dict, out: Path) -> None:
    assert report["ended_by"] == "stop" and report["frames"] > 0
    assert report["error"] is None and report["output"] == str(out)
    assert set(report["latency_ms"]) == {"p50", "p95", "max"}
    pts = pts_seconds(out)
    assert len(pts) == report["frames"]
    assert_rising(pts)


def test_a_source_gone_for_good_fails_after_give_up_after(server, torch_pinned_to_one_thread,
                                                          identity_checkpoint, tmp_path):
    out = tmp_path / "out.ts"
    killed_at = []

    def kill_once_recording() -> None:
        wait_for(lambda: recording(out), 120, "frames in the output")
        server.kill()
        killed_at.append(time.monotonic())

    threading.Thread(target=kill_once_recording, daemon=True).start()
    result = CliRunner().invoke(main, [
        "live", server.url, "-o", str(out), "--json", "--timeout", "1", "--give-up-after", "3",
        "--duration", "120", "--backend", "torch", "--device", "cpu",
        "--checkpoint", str(identity_checkpoint)])
    gone_for = time.monotonic() - killed_at[0]

    assert result.exit_code == 1
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith(f"streamdemoire: error: {server.url}: gone for "), result.stderr
    assert "giving up" in error and "Traceback" not in result.stderr
    assert 3 <= gone_for < 20
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["ended_by"] == "error" and report["frames"] > 0
    assert len(pts_seconds(out)) == report["frames"]  # what was recorded is kept, playable


def recorded_frames(recording: Path) -> int:
    """Frames in a recording the server may still be writing (its last one can lack a pts)."""
    try:
        return len(pts_seconds(recording)) if recording.exists() else 0
    except ValueError:
        return 0


def test_the_output_can_be_published_to_an_rtsp_server(clip, demoirer, tmp_path):
    recording = tmp_path / "published.ts"
    rtsp = RtspServer(clip, recording).start()
    try:
        report = run_live(live_input(rtsp.url, timeout=5), live_output(rtsp.record_url),
                          Counting(demoirer), duration=3, max_latency=5.0)
        assert report.error is None and report.frames > 0
        # The server may drop the frame it still holds when the publisher says TEARDOWN.
        wait_for(lambda: recorded_frames(recording) >= max(report.frames - 1, 1),
                 30, "the server's recording of the frames")
    finally:
        rtsp.kill()
    pts = pts_seconds(recording)
    assert len(pts) <= report.frames
    assert_rising(pts)


def test_a_frozen_server_is_caught_by_the_read_timeout_and_rejoined(server, tmp_path):
    """The network cable pulled: the connection stays open and nothing more arrives. Reads
    time out instead of hanging, and reconnects go on until the server answers again."""
    engine = Counting(lambda frames: frames.copy())
    out = tmp_path / "out.mkv"
    stop = threading.Event()
    result = {}

    def run() -> None:
        result["report"] = run_live(live_input(server.url, timeout=1.5), live_output(str(out)),
                                    engine, give_up_after=30, stop=stop)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        wait_for(lambda: engine.frames >= 10, 120, "frames before the freeze")
        server.process.send_signal(signal.SIGSTOP)
        time.sleep(4)
        frozen_frames = engine.frames
        server.process.send_signal(signal.SIGCONT)
        wait_for(lambda: engine.frames >= frozen_frames + 10, 60, "frames after the thaw")
    finally:
        server.process.send_signal(signal.SIGCONT)
        stop.set()
        thread.join(120)
    report = result["report"]

    pts = assert_reconnected_into_one_output(report, out)
    assert np.diff(pts).max() >= 2.0
