"""Live streams under the worker: streams.toml, supervision with backoff, state on /healthz."""

from __future__ import annotations

import importlib.util
import json
import signal
import sys
import urllib.request
from pathlib import Path

import pytest
from conftest import Media
from workers import frame_count, free_port, start_worker, wait_for

from streamdemoire.errors import UserError
from streamdemoire.worker.streams import Backoff, StreamSupervisor, load_streams

STREAMS = """
[defaults]
device = "cpu"
max-latency = 250

[[stream]]
name = "lobby"
source = "rtsp://127.0.0.1:8554/cam"
sink = "out/lobby.mp4"
options = { max-latency = 100, realtime = true, quiet = false, header = ["a", "b"] }

[[stream]]
name = "desk"
source = "/dev/video0"
sink = "udp://127.0.0.1:5000"
"""


def test_streams_file_becomes_live_commands(tmp_path: Path) -> None:
    path = tmp_path / "streams.toml"
    path.write_text(STREAMS)
    lobby, desk = load_streams(path)

    assert lobby.command() == [sys.executable, "-m", "streamdemoire", "live",
                               "rtsp://127.0.0.1:8554/cam", "-o", "out/lobby.mp4",
                               "--device", "cpu", "--max-latency", "100", "--realtime",
                               "--header", "a", "--header", "b"]
    assert desk.name == "desk" and desk.command()[-4:] == ["--device", "cpu",
                                                            "--max-latency", "250"]


@pytest.mark.parametrize("text, message", [
    ("[[stream]]\nname = 'a'\nsource = 'x'\n", "stream a: needs sink"),
    ("[[stream]]\nname='a'\nsource='x'\nsink='y'\n[[stream]]\nname='a'\nsource='x'\nsink='z'\n",
     "stream names must be unique: a"),
    ("[[stream]]\nname='a'\nsource='x'\nsink='-'\n", "sink '-' (stdout) has no reader"),
    ("[[stream]]\nname='a'\nsource='x'\nsink='y'\nretries=3\n", "unknown key(s) retries"),
    ("[stream\n", "streams.toml: "),
    ("", "no [[stream]] entries"),
])
def test_streams_file_mistakes_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "streams.toml"
    path.write_text(text)
    with pytest.raises(UserError) as error:
        load_streams(path)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_stream_that_exits_is_restarted_with_backoff() -> None:
    argv = [sys.executable, "-c",
            "import sys; print('camera gone', file=sys.stderr); sys.exit(3)"]
    supervisor = StreamSupervisor("cam", argv, backoff=Backoff(first=0.1, cap=0.3))
    supervisor.start()
    try:
        state = wait_for(lambda: supervisor.restarts >= 3 and supervisor.status == "backoff"
                         and supervisor.state(), "three restarts", timeout=60, every=0.01)
    finally:
        supervisor.stop(grace=5)
    assert state["last_exit"] == 3 and state["last_error"] == "camera gone"
    assert supervisor.status == "stopped"


def test_stop_ends_a_running_stream() -> None:
    argv = [sys.executable, "-c", "import time; time.sleep(60)"]
    supervisor = StreamSupervisor("cam", argv)
    supervisor.start()
    wait_for(lambda: supervisor.status == "running", "the stream to run", timeout=30)
    pid = supervisor.pid
    supervisor.stop(grace=5)
    assert supervisor.status == "stopped" and supervisor.restarts == 0
    assert supervisor.last_exit == -signal.SIGTERM
    assert pid is not None


def test_worker_supervises_streams_and_shows_them(tmp_path: Path, media: Media,
                                                  identity_checkpoint: Path) -> None:
    """Two streams under one worker: one whose source is missing keeps failing and is
    restarted, with its reason on /healthz; one playing a clip in real time runs, ends with
    the clip, and is started again, writing its output each time."""
    clip = media.video("cam.mp4")
    options = (f"{{ realtime = true, backend = 'torch', device = 'cpu', "
               f"checkpoint = '{identity_checkpoint}' }}")
    path = tmp_path / "streams.toml"
    path.write_text(f"[[stream]]\nname = 'gone'\nsource = '{tmp_path / 'missing.mp4'}'\n"
                    f"sink = '{tmp_path / 'gone.mp4'}'\n\n"
                    f"[[stream]]\nname = 'cam'\nsource = '{clip}'\n"
                    f"sink = '{tmp_path / 'cam_clean.mp4'}'\noptions = {options}\n")
    port = free_port()
    worker = start_worker(tmp_path / "worker.log", "--streams", path, "--metrics-port", str(port))

    def health() -> dict | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                return json.load(r)
        except OSError:
            return None

    def restarted() -> dict | None:
        state = health()
        return state if state and all(s["restarts"] >= 1 for s in state["streams"]) else None

    try:
        state = wait_for(restarted, "both streams to be restarted", timeout=240, every=0.5)
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    finally:
        code = worker.stop()
    gone, cam = state["streams"]
    assert state["ok"] and state["mode"] == "streams"
    assert gone["name"] == "gone" and gone["last_exit"] not in (0, None)
    assert gone["last_error"]  # the stream's own last line says why
    assert b'streamdemoire_stream_restarts_total{stream="gone"}' in metrics
    assert code == 0, worker.log
    if importlib.util.find_spec("streamdemoire.live") is None:
        return  # the live command (issue 6) is not in this tree yet: only failures to see
    assert cam["last_exit"] == 0, worker.log  # the clip ended: a clean exit, then a restart
    assert frame_count(tmp_path / "cam_clean.mp4") >= 1
