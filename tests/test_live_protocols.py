"""``live`` over SRT, HLS and RTMP, against the system ``ffmpeg`` as the other end, on
127.0.0.1 only, with a simulated moiré clip sent in real time (``-re``).

SRT goes through the ffmpeg relay wherever PyAV's FFmpeg lacks it (its wheels do): a source
(an ffmpeg SRT listener serving the clip) is cleaned into a file; a relay killed mid-run is a
lost connection, reconnected with a new relay; an output reaches an ffmpeg SRT listener that
records it; a source that never answers fails in one line; SIGTERM stops the command and its
relay. HLS: ffmpeg writes a live playlist, served by Python's http.server, read smoothly.
RTMP: ffmpeg's own server mode (``-listen 1``) as a source and as a receiver. Each test
skips, saying why, where the system ffmpeg is missing or lacks the protocol.
"""

from __future__ import annotations

import functools
import json
import shutil
import signal
import socket
import subprocess
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from live_helpers import (
    Counting,
    assert_cleaned_clip,
    assert_reconnected_into_one_output,
    assert_rising,
    camera_clip,
    cli_process,
    pts_seconds,
    wait_for,
)

from streamdemoire.cli import main
from streamdemoire.errors import UserError
from streamdemoire.io import ffmpeg_relay, live_sink, live_source
from streamdemoire.io.live_sink import live_output
from streamdemoire.io.live_source import live_input
from streamdemoire.live import run_live

FFMPEG = shutil.which("ffmpeg")
HOST = "127.0.0.1"


def ffmpeg_lacks(protocol: str) -> str | None:
    """Why the system ffmpeg cannot be both ends of ``protocol`` here, or None."""
    if FFMPEG is None:
        return "no ffmpeg program on PATH (Debian: apt-get install ffmpeg)"
    inputs, outputs = ffmpeg_relay.ffmpeg_protocols(FFMPEG)
    if protocol not in inputs or protocol not in outputs:
        return f"{FFMPEG} has no {protocol} protocol (ffmpeg -protocols)"
    return None


def needs(protocol: str) -> pytest.MarkDecorator:
    reason = ffmpeg_lacks(protocol)
    return pytest.mark.skipif(reason is not None, reason=reason or "")


# --- the other end: ffmpeg servers, ports, processes ------------------------------------

def free_port(kind: socket.SocketKind) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def port_taken(port: int, kind: socket.SocketKind) -> bool:
    """Whether something is bound there (a connection would be taken as the one client of
    an ffmpeg server, so it is only tried by binding)."""
    with socket.socket(socket.AF_INET, kind) as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return True
        return False


class FfmpegServer:
    """The system ffmpeg as the other end: ``ffmpeg ARGS...``, its errors in a log file."""

    def __init__(self, log: Path, *args: str | Path) -> None:
        self.log = log
        with open(log, "wb") as stderr:
            self.process = subprocess.Popen(
                [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", *map(str, args)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)

    def wait_listening(self, port: int, kind: socket.SocketKind) -> FfmpegServer:
        wait_for(lambda: port_taken(port, kind) or self.process.poll() is not None, 60,
                 f"ffmpeg listening on {port}")
        assert self.process.poll() is None, self.log.read_text()
        return self

    def wait_exit(self, timeout: float) -> int | None:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        """SIGTERM (ffmpeg then finishes what it writes), SIGKILL if that takes too long."""
        if self.process.poll() is None:
            self.process.terminate()
            if self.wait_exit(10) is None:
                self.process.kill()
        self.process.wait()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def relays_of(pid: int, url: str) -> list[int]:
    """The running ffmpeg relays that process ``pid`` started for ``url`` (a child ffmpeg
    with ``url`` and a pipe end on its command line)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # gone meanwhile
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        if comm == "ffmpeg" and ppid == pid and url in cmdline and "pipe:" in cmdline:
            found.append(int(entry.name))
    return found


def assert_reaped(relays: list[ffmpeg_relay.Relay]) -> None:
    """Each relay was waited for (no zombie) and is gone."""
    for relay in relays:
        assert relay.process.returncode is not None, relay.command
        assert not Path(f"/proc/{relay.process.pid}").exists()


def srt_listener_url(port: int) -> str:
    return f"srt://{HOST}:{port}?mode=listener"


# --- fixtures ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clip(request: pytest.FixtureRequest) -> Path:
    """The live tests' simulated moiré clip: 128x72 H.264, a keyframe a second, 30 s."""
    return camera_clip(request.config.cache.mkdir("streamdemoire-live"))


@pytest.fixture
def started_relays(monkeypatch: pytest.MonkeyPatch) -> list[ffmpeg_relay.Relay]:
    """Every relay the live source and sink start in this process, in order."""
    started: list[ffmpeg_relay.Relay] = []

    class Recorded(ffmpeg_relay.Relay):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(live_source, "Relay", Recorded)
    monkeypatch.setattr(live_sink, "Relay", Recorded)
    return started


@pytest.fixture
def servers():
    """Start ffmpeg servers with ``servers(log, *args)``; all are stopped at the end."""
    started: list[FfmpegServer] = []

    def start(log: Path, *args: str | Path) -> FfmpegServer:
        started.append(FfmpegServer(log, *args))
        return started[-1]

    yield start
    for server in started:
        server.kill()


def serve_srt(servers, clip: Path, tmp_path: Path, port: int, seconds: int = 30,
              name: str = "listener") -> FfmpegServer:
    """An SRT listener that sends the clip in real time to the first caller."""
    return servers(tmp_path / f"{name}.log", "-re", "-i", clip, "-t", str(seconds),
                   "-c", "copy", "-f", "mpegts", srt_listener_url(port)
                   ).wait_listening(port, socket.SOCK_DGRAM)


@needs("srt")
def test_srt_source_is_cleaned_into_a_file(servers, clip, demoirer, started_relays, tmp_path):
    port = free_port(socket.SOCK_DGRAM)
    serve_srt(servers, clip, tmp_path, port)
    url = f"srt://{HOST}:{port}"
    inp = live_input(url, timeout=3)
    assert (inp.relay is not None) == (not ffmpeg_relay.pyav_can("srt", output=False))
    engine = Counting(demoirer)
    out = tmp_path / "out.mkv"

    report = run_live(inp, live_output(str(out)), engine, duration=3, max_latency=5.0)

    assert (report.ended_by, report.reconnects) == ("duration", 0)
    assert_cleaned_clip(out, report, engine, clip)
    assert len(started_relays) == (inp.relay is not None)
    assert_reaped(started_relays)


@needs("srt")
def test_a_dead_relay_is_a_lost_connection_and_a_new_one_takes_over(servers, clip, demoirer,
                                                                    started_relays, tmp_path):
    port = free_port(socket.SOCK_DGRAM)
    first = serve_srt(servers, clip, tmp_path, port, name="first")
    url = f"srt://{HOST}:{port}"
    inp = live_input(url, timeout=1.5)
    if inp.relay is None:
        pytest.skip("PyAV's FFmpeg reads srt:// itself: no relay to kill")
    engine = Counting(demoirer)
    out = tmp_path / "out.mkv"
    stop = threading.Event()
    result = {}

    def run() -> None:
        result["report"] = run_live(inp, live_output(str(out)), engine, max_latency=5.0,
                                    give_up_after=30, stop=stop)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        wait_for(lambda: engine.frames >= 3, 60, "frames through the first relay")
        [relay] = started_relays
        first.kill()  # its one caller is gone: a listener does not take another
        relay.process.kill()
        before = engine.frames
        serve_srt(servers, clip, tmp_path, port, name="second")  # the same port
        wait_for(lambda: engine.frames >= before + 5, 60, "frames through a new relay")
        assert started_relays[-1].running()
        assert_reaped(started_relays[:-1])  # the dead one, and any that failed meanwhile
    finally:
        stop.set()
        thread.join(60)
    report = result["report"]

    assert_reconnected_into_one_output(report, out)
    assert_reaped(started_relays)


@needs("srt")
def test_srt_output_reaches_a_listener_that_records_it(servers, clip, demoirer, started_relays,
                                                      tmp_path):
    port = free_port(socket.SOCK_DGRAM)
    recording = tmp_path / "received.ts"
    receiver = servers(tmp_path / "receiver.log", "-y", "-i", srt_listener_url(port),
                       "-c", "copy", recording).wait_listening(port, socket.SOCK_DGRAM)
    url = f"srt://{HOST}:{port}"
    out = live_output(url, timeout=3)
    assert (out.relay is not None) == (not ffmpeg_relay.pyav_can("srt", output=True))

    report = run_live(live_input(str(clip), realtime=True), out, Counting(demoirer),
                      duration=3, max_latency=5.0)

    assert report.error is None and report.frames > 10
    assert receiver.wait_exit(30) is not None, "the receiver did not see the stream end"
    assert len(started_relays) == (out.relay is not None)
    assert_reaped(started_relays)
    pts = pts_seconds(recording)
    assert report.frames - 2 <= len(pts) <= report.frames  # SRT lost nothing to speak of
    assert_rising(pts)
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                            "stream=codec_name,width,height", "-of", "json", str(recording)],
                           check=True, capture_output=True, text=True, timeout=60).stdout
    assert json.loads(probe)["streams"][0] == {"codec_name": "h264", "width": 128,
                                               "height": 72}


@needs("srt")
def test_an_srt_source_that_never_answers_fails_in_one_line(identity_checkpoint,
                                                          started_relays, tmp_path):
    port = free_port(socket.SOCK_DGRAM)  # nobody listens there
    out = tmp_path / "out.mkv"
    start = time.monotonic()
    result = CliRunner().invoke(main, [
        "live", f"srt://{HOST}:{port}", "-o", str(out), "--timeout", "1.5", "--backend",
        "torch", "--device", "cpu", "--checkpoint", str(identity_checkpoint)])
    elapsed = time.monotonic() - start

    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"streamdemoire: error: srt://{HOST}:{port}: "), lines[0]
    assert "check the address" in lines[0]
    assert elapsed < 30
    assert not out.exists()
    assert_reaped(started_relays)


@needs("srt")
def test_sigterm_stops_an_srt_run_and_its_relay(servers, clip, identity_checkpoint,
                                                tmp_path):
    port = free_port(socket.SOCK_DGRAM)
    serve_srt(servers, clip, tmp_path, port, seconds=300)
    url = f"srt://{HOST}:{port}"
    out = tmp_path / "out.ts"
    process = cli_process("live", url, "-o", out, "--json", "--timeout", "3", "--backend",
                          "torch", "--device", "cpu", "--checkpoint", identity_checkpoint,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: out.exists() and out.stat().st_size > 3000, 300, "frames in the output")
        running = relays_of(process.pid, url)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    report = json.loads(stdout.strip().splitlines()[-1])
    assert (report["ended_by"], report["error"]) == ("stop", None) and report["frames"] > 0
    assert len(pts_seconds(out)) == report["frames"]
    if live_input(url).relay is not None:
        assert len(running) == 1
        assert not Path(f"/proc/{running[0]}").exists()  # stopped, not left to run on


@pytest.mark.parametrize("output", [False, True], ids=["source", "output"])
@pytest.mark.parametrize("binary, protocols, message", [
    (None, None, "no ffmpeg program on PATH"),
    ("/usr/bin/ffmpeg", (frozenset({"file"}), frozenset({"file"})),
     "neither PyAV's FFmpeg nor /usr/bin/ffmpeg can"),
])
def test_srt_without_any_ffmpeg_that_can_is_a_clear_error(monkeypatch, output, binary,
                                                         protocols, message):
    monkeypatch.setattr(ffmpeg_relay, "pyav_can", lambda scheme, output: False)
    monkeypatch.setattr(ffmpeg_relay, "system_ffmpeg", lambda: binary)
    monkeypatch.setattr(ffmpeg_relay, "ffmpeg_protocols", lambda path: protocols)
    with pytest.raises(UserError, match=message) as error:
        (live_output if output else live_input)("srt://127.0.0.1:9000")
    assert str(error.value).startswith("srt://127.0.0.1:9000: ")
    assert "\n" not in str(error.value)


def test_pyav_protocols_come_from_its_own_libavformat():
    inputs = ffmpeg_relay.pyav_protocols(output=False)
    if inputs is None:
        pytest.skip("PyAV's libavformat cannot be found on this platform")
    assert {"file", "http", "tcp", "udp", "rtmp"} <= inputs
    assert ffmpeg_relay.pyav_can("rtsp", output=False)  # a demuxer, not a protocol


def test_relay_commands_copy_mpeg_ts_through_a_pipe():
    source = ffmpeg_relay.source_command("ffmpeg", "srt://h:1", {"timeout": "5"})
    assert source[-1] == "pipe:1" and source[source.index("-i") + 1] == "srt://h:1"
    assert source.index("-timeout") < source.index("-i")  # an input (protocol) option
    assert ("-map", "0:v", "-c", "copy") == source[source.index("-map"):][:4]
    sink = ffmpeg_relay.sink_command("ffmpeg", "srt://h:1", {"linger": "3"})
    assert sink[-1] == "srt://h:1" and sink[sink.index("-i") + 1] == "pipe:0"
    assert sink.index("-linger") > sink.index("-i")  # an output option
    assert "nobuffer" not in sink  # it would throw away the first second


# --- HLS ---------------------------------------------------------------------------------

class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def http_folder(tmp_path: Path):
    """A folder served over HTTP on 127.0.0.1: yields (folder, base URL)."""
    folder = tmp_path / "www"
    folder.mkdir()
    server = ThreadingHTTPServer((HOST, 0), functools.partial(_QuietHandler,
                                                               directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://{HOST}:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(10)


def segments_listed(playlist: Path) -> int:
    try:
        return playlist.read_text().count("#EXTINF")
    except OSError:
        return 0


@needs("http")
def test_hls_source_over_http_plays_smoothly(servers, http_folder, clip, tmp_path):
    """With a model stage that costs nothing (a copy, which the model's own tests cover
    above), so that drops can only come from how the source delivers its frames."""
    folder, base = http_folder
    playlist = folder / "live.m3u8"
    writer = servers(tmp_path / "hls.log", "-re", "-i", clip, "-t", "30", "-c", "copy",
                     "-f", "hls", "-hls_time", "1", "-hls_list_size", "6",
                     "-hls_flags", "delete_segments+temp_file", playlist)
    wait_for(lambda: segments_listed(playlist) >= 2 or writer.process.poll() is not None, 60,
             "two segments in the playlist")
    assert writer.process.poll() is None, writer.log.read_text()
    engine = Counting(lambda frames: frames.copy())
    out = tmp_path / "out.mkv"

    report = run_live(live_input(f"{base}/live.m3u8", timeout=3), live_output(str(out)),
                      engine, duration=3, max_latency=5.0)

    assert (report.ended_by, report.reconnects) == ("duration", 0)
    assert_cleaned_clip(out, report, engine, clip)
    # A segment (25 frames) comes at once: paced at its own timestamps it plays through;
    # unpaced, all but the newest two frames of each would be dropped.
    assert report.frames >= 40 and report.dropped < report.frames / 4, report.as_dict()


# --- RTMP --------------------------------------------------------------------------------

@needs("rtmp")
def test_rtmp_source_from_an_ffmpeg_server(servers, clip, demoirer, tmp_path):
    port = free_port(socket.SOCK_STREAM)
    url = f"rtmp://{HOST}:{port}/live/camera"
    servers(tmp_path / "server.log", "-re", "-i", clip, "-t", "30", "-c", "copy", "-f", "flv",
            "-listen", "1", url).wait_listening(port, socket.SOCK_STREAM)
    engine = Counting(demoirer)
    out = tmp_path / "out.mkv"

    report = run_live(live_input(url, timeout=3), live_output(str(out)), engine, duration=3,
                      max_latency=5.0)

    assert (report.ended_by, report.reconnects) == ("duration", 0)
    assert_cleaned_clip(out, report, engine, clip)


@needs("rtmp")
def test_rtmp_output_to_an_ffmpeg_server(servers, clip, demoirer, tmp_path):
    port = free_port(socket.SOCK_STREAM)
    url = f"rtmp://{HOST}:{port}/live/clean"
    recording = tmp_path / "received.flv"
    receiver = servers(tmp_path / "receiver.log", "-y", "-listen", "1", "-i", url,
                       "-c", "copy", recording).wait_listening(port, socket.SOCK_STREAM)

    report = run_live(live_input(str(clip), realtime=True), live_output(url, timeout=3),
                      Counting(demoirer), duration=3, max_latency=5.0)

    assert report.error is None and report.frames > 10
    assert receiver.wait_exit(30) is not None, "the receiver did not see the stream end"
    pts = pts_seconds(recording)
    assert report.frames - 1 <= len(pts) <= report.frames
    assert_rising(pts)


def test_hls_pacing_restarts_its_schedule_after_a_jump():
    """A paced HLS frame far from its time (a stall, a timestamp jump) is not waited for,
    and does not let the frames behind it through all at once."""

    class Frame:
        def __init__(self, time: float) -> None:
            self.time = time

    pacer = live_source._Pacer(threading.Event(), lambda: None,
                               resync_after=live_source.HLS_RESYNC_S)
    start = time.monotonic()
    assert pacer.wait(Frame(10.0))
    assert pacer.wait(Frame(500.0))  # 490 s ahead: a new schedule, not a 490 s sleep
    assert pacer.wait(Frame(500.04))  # then paced again: due 40 ms later
    assert 0.03 <= time.monotonic() - start < 1.0
