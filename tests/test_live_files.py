"""``live`` with a file played at its own rate (--realtime) standing in for a camera, into
the outputs that need no server: a file, segments, MPEG-TS on stdout, and UDP datagrams to a
socket."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from live_helpers import assert_rising, pts_seconds

from streamdemoire.cli import main

SECONDS = 2.0


@pytest.fixture
def live(identity_checkpoint: Path, monkeypatch: pytest.MonkeyPatch):
    """Run ``streamdemoire live ARGS...`` in-process with the identity model on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)

    def run(*args: str | Path):
        argv = ["live", *map(str, args), "--backend", "torch", "--device", "cpu",
                "--checkpoint", str(identity_checkpoint), "--json"]
        return CliRunner().invoke(main, argv, catch_exceptions=False)

    yield run
    monkeypatch.undo()
    torch.set_num_threads(threads)


@pytest.fixture
def camera_file(media) -> Path:
    """Two seconds at 25 fps, 64x48."""
    return media.video("camera.mp4", pts=list(range(0, int(SECONDS * 1000), 40)))


def report_of(result) -> dict:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_realtime_file_plays_at_its_own_rate_to_the_end(live, camera_file, tmp_path):
    out = tmp_path / "out.mkv"
    report = report_of(live(camera_file, "--realtime", "-o", out))
    assert report["ended_by"] == "end of input" and report["error"] is None
    assert report["seconds"] >= SECONDS * 0.8  # paced, not read as fast as it decodes
    assert 0 < report["frames"] <= 50 and report["frames"] + report["dropped"] <= 50
    pts = pts_seconds(out)
    assert len(pts) == report["frames"]
    assert_rising(pts)


def test_segments_are_each_playable_and_continue_the_timeline(live, media, tmp_path):
    clip = media.video("camera.mp4", pts=list(range(0, 3200, 40)))
    report = report_of(live(clip, "--realtime", "-o", tmp_path / "rec.mp4",
                            "--segment-seconds", "1"))
    segments = sorted(tmp_path.glob("rec_*.mp4"))
    assert len(segments) >= 2, segments
    pts = [t for segment in segments for t in pts_seconds(segment)]
    assert len(pts) == report["frames"]
    assert_rising(pts)


def test_stdout_gets_mpeg_ts_and_the_report_goes_to_stderr(live, camera_file, tmp_path,
                                                           capfdbinary):
    result = live(camera_file, "--realtime", "-o", "-")
    ts = capfdbinary.readouterr().out  # FFmpeg writes to file descriptor 1 itself
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stderr.strip().splitlines()[-1])
    assert report["output"] == "-" and report["frames"] > 0
    assert ts[:1] == b"\x47" and len(ts) % 188 == 0  # MPEG-TS packets, nothing else
    (tmp_path / "out.ts").write_bytes(ts)
    assert len(pts_seconds(tmp_path / "out.ts")) == report["frames"]


def test_udp_sends_mpeg_ts_datagrams(live, camera_file, tmp_path):
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(0.5)
    port = receiver.getsockname()[1]
    datagrams: list[bytes] = []
    done = threading.Event()

    def receive() -> None:
        while not done.is_set():
            try:
                datagrams.append(receiver.recv(65536))
            except TimeoutError:
                pass

    thread = threading.Thread(target=receive)
    thread.start()
    try:
        report = report_of(live(camera_file, "--realtime", "-o", f"udp://127.0.0.1:{port}"))
        time.sleep(0.5)
    finally:
        done.set()
        thread.join()
        receiver.close()
    assert report["frames"] > 0 and datagrams
    assert all(len(d) <= 1316 and len(d) % 188 == 0 for d in datagrams)  # whole TS packets
    received = tmp_path / "received.ts"
    received.write_bytes(b"".join(datagrams))
    pts = pts_seconds(received)
    assert len(pts) == report["frames"]
    assert_rising(pts)
