"""What the live tests share: a simulated moiré clip as a camera would send it, a real
RTSP server (GStreamer's, see rtsp_server.py) serving it on 127.0.0.1, an engine wrapper that
counts what it cleaned, and the checks that an output is that clip, cleaned, in order."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np

import streamdemoire.synth as synth_package
from streamdemoire.synth.video import write_clip

SYSTEM_PYTHON = "/usr/bin/python3"
SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")

#: The clip: 1 s of simulated moiré (costly to render), looped to LOOPS seconds.
SIZE = (128, 72)
FPS = 25
LOOPS = 30


def gst_rtsp_missing() -> str | None:
    """Why the RTSP server cannot run here, or None when it can."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} not found"
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0'); "
                              "from gi.repository import GstRtspServer"],
        capture_output=True, text=True, timeout=60)
    if probe.returncode:
        return ("GStreamer's RTSP server is not installed (Debian: apt-get install "
                "python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good "
                "gstreamer1.0-plugins-bad)")
    return None


def camera_clip(cache_dir: Path) -> Path:
    """A looped simulated moiré clip in H.264 as an IP camera sends it: no B-frames, a
    keyframe every second. Rendered once and kept in pytest's cache, keyed by the
    simulator's source code, since rendering takes a while on a busy machine."""
    key = hashlib.sha256(repr((SIZE, FPS, LOOPS, synth_package.source_digest())).encode())
    clip = cache_dir / f"camera-{key.hexdigest()[:16]}.mp4"
    if clip.exists():
        return clip
    one_second = cache_dir / "moire-1s.mp4"
    write_clip(one_second, cache_dir / "clean-1s.mkv", *SIZE, seconds=1.0, fps=FPS, seed=3)
    tmp = clip.with_suffix(".part.mp4")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", str(LOOPS - 1),
                    "-i", str(one_second), "-an", "-c:v", "libx264", "-preset", "veryfast",
                    "-tune", "zerolatency", "-g", str(FPS), "-bf", "0", "-crf", "18",
                    "-pix_fmt", "yuv420p", str(tmp)], check=True, timeout=300)
    os.replace(tmp, clip)
    return clip


def clip_frames(clip: Path, count: int = FPS) -> np.ndarray:
    """The first ``count`` frames of the clip as RGB (one loop of the simulated second)."""
    with av.open(str(clip)) as container:
        frames = []
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == count:
                break
    return np.stack(frames)


class RtspServer:
    """gst-rtsp-server serving ``clip`` at rtsp://127.0.0.1:PORT/clip, as a subprocess of
    Debian's python3; ``kill()`` and ``start()`` again on the same port for an outage. With
    ``recording``, what is published to ``record_url`` is written there (MPEG-TS)."""

    def __init__(self, clip: Path, recording: Path | None = None) -> None:
        self.clip = clip
        self.recording = recording
        self.port = 0
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/clip"

    @property
    def record_url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/record"

    def start(self) -> RtspServer:
        self.process = subprocess.Popen(
            [SYSTEM_PYTHON, str(SERVER_SCRIPT), str(self.clip), str(self.port),
             *([str(self.recording)] if self.recording else [])],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()  # "port N" once it listens
        if not line.startswith("port "):
            self.process.kill()
            raise RuntimeError(f"rtsp_server did not start: {self.process.stderr.read()}")
        self.port = int(line.split()[1])
        return self

    def kill(self) -> None:
        """A crash: SIGKILL, no goodbye to the clients."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None


def pts_seconds(path: Path) -> list[float]:
    """Presentation times of the video frames of ``path``, in file order, via ffprobe."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "frame=pts_time", "-of", "csv=p=0", str(path)],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    return [float(line.split(",")[0]) for line in out.split() if line.strip(",")]


def decoded_frames(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


class Counting:
    """The engine, wrapped to count the frames it cleaned (and optionally slowed down), and
    the times it was told a new stream began (as temporal smoothing is)."""

    def __init__(self, engine, delay: float = 0.0) -> None:
        self.engine, self.delay = engine, delay
        self.frames = 0
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        if self.delay:
            time.sleep(self.delay)
        out = self.engine(frames)
        self.frames += len(frames)
        return out


def assert_rising(pts: list[float]) -> None:
    assert all(b > a for a, b in zip(pts, pts[1:], strict=False)), pts


def assert_reconnected_into_one_output(report, out: Path) -> list[float]:
    """A run stopped by hand after at least one reconnect wrote every frame it counted into
    the one ``out``, with rising timestamps; returns them (seconds) for the caller's checks."""
    assert (report.error, report.ended_by) == (None, "stop")
    assert report.reconnects >= 1
    pts = pts_seconds(out)
    assert len(pts) == report.frames
    assert_rising(pts)
    return pts


def assert_cleaned_clip(out: Path, report, engine: Counting, clip: Path) -> None:
    """Every output frame went through the model (a few more may have, then been dropped
    before the encoder when it fell behind), and, since the identity network returns its
    input, each is one frame of the clip (through two more H.264 generations of fine moiré),
    far closer to it than to the rest."""
    assert report.error is None, report.error
    assert 2 <= report.frames <= engine.frames
    assert report.latency.count == report.frames
    frames = decoded_frames(out)
    assert frames.shape[1:] == (SIZE[1], SIZE[0], 3) and len(frames) == report.frames
    assert_rising(pts_seconds(out))
    reference = clip_frames(clip).astype(np.int16)
    for frame in frames:
        errors = np.abs(reference - frame).mean(axis=(1, 2, 3))
        assert errors.min() < 10 and errors.min() < 0.6 * np.median(errors), errors


def cli_process(*args: str | Path, **kwargs) -> subprocess.Popen:
    """``python -m streamdemoire ARGS...`` as a child process (signals reach it alone)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "streamdemoire", *map(str, args)],
                            env=env, text=True, **kwargs)


def wait_for(predicate, timeout: float, what: str, poll: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(poll)

