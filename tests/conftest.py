"""Shared test fixtures: tiny media files made on the spot with PyAV, ffprobe, and the CLI.

Every clip is a few frames of 64x48-ish video, so a test that runs the whole ``clean``
pipeline takes well under a second; nothing is downloaded.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from click.testing import CliRunner, Result

from streamdemoire.api import Demoirer
from streamdemoire.cli import main
from streamdemoire.model.checkpoint import save_checkpoint
from streamdemoire.model.net import DemoireNet

MS = Fraction(1, 1000)


def pattern(index: int, width: int, height: int) -> np.ndarray:
    """A colourful, slowly changing RGB test picture (gradients plus a moving square)."""
    y, x = np.mgrid[0:height, 0:width]
    frame = np.stack([x * 255 // max(width - 1, 1),
                      y * 255 // max(height - 1, 1),
                      np.full_like(x, (40 * index) % 256)], axis=-1).astype(np.uint8)
    s = max(min(width, height) // 4, 1)
    top, left = (index * 3) % max(height - s, 1), (index * 5) % max(width - s, 1)
    frame[top:top + s, left:left + s] = (250, 250, 30)
    return frame


class Media:
    """Makes small media files in one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def video(self, name: str = "in.mp4", *, size: tuple[int, int] = (64, 48),
              pts: list[int] | None = None, codec: str = "libx264", pix_fmt: str = "yuv420p",
              time_base: Fraction = MS, audio: str | None = None, rotation: int = 0,
              colour: dict[str, int] | None = None, options: dict[str, str] | None = None,
              damage_packet: int | None = None) -> Path:
        """A clip with one frame per entry of ``pts`` (default 6 frames at 25 fps).

        ``audio`` names an audio encoder for a 440 Hz tone as long as the video;
        ``colour`` sets colour tags (color_range, colorspace, color_primaries, color_trc);
        ``damage_packet`` zeroes the payload of that video packet, as a bad sector would.
        """
        path = self.folder / name
        pts = list(range(0, 240, 40)) if pts is None else pts
        width, height = size
        with av.open(str(path), "w") as out:
            video = out.add_stream(codec, rate=25, options=options or {})
            video.width, video.height, video.pix_fmt = width, height, pix_fmt
            video.codec_context.time_base = time_base
            for key, value in (colour or {}).items():
                setattr(video.codec_context, key, value)
            if rotation:
                video.set_display_rotation(rotation)
            packets = []
            for i, t in enumerate(pts):
                frame = av.VideoFrame.from_ndarray(pattern(i, width, height), format="rgb24")
                frame = frame.reformat(format=pix_fmt)
                frame.pts, frame.time_base = t, time_base
                packets += video.encode(frame)
            packets += video.encode(None)
            if damage_packet is not None:
                packets[damage_packet] = _damaged(packets[damage_packet], video)
            if audio:
                seconds = float((pts[-1] + 40) * time_base) if pts else 0.3
                packets += _tone(out, audio, seconds)
            for packet in sorted(packets, key=lambda p: float(p.dts * p.time_base)
                                 if p.dts is not None else 0.0):
                out.mux(packet)
        return path

    def audio_only(self, name: str = "tone.m4a", codec: str = "aac") -> Path:
        path = self.folder / name
        with av.open(str(path), "w") as out:
            for packet in _tone(out, codec, 0.3):
                out.mux(packet)
        return path

    def song_with_cover(self, name: str = "song.mp3") -> Path:
        """Audio plus a still picture flagged as cover art (an "attached picture"), by ffmpeg."""
        path = self.folder / name
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=0.3",
                        "-f", "lavfi", "-i", "color=c=red:s=32x32:d=0.04", "-frames:v", "1",
                        "-map", "0", "-map", "1", "-c:v", "mjpeg",
                        "-disposition:v:0", "attached_pic", str(path)], check=True, timeout=60)
        return path

    def empty_video(self, name: str = "empty.mkv") -> Path:
        """A video stream (and a tone) without a single video frame."""
        path = self.folder / name
        with av.open(str(path), "w") as out:
            video = out.add_stream("libx264", rate=25)
            video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
            for packet in _tone(out, "aac", 0.3):
                out.mux(packet)
        return path

    def with_subtitles(self, clip: Path, name: str, codec: str) -> Path:
        """``clip`` plus a two-cue subtitle stream (``codec``: srt, mov_text), by ffmpeg."""
        srt = self.folder / "cues.srt"
        srt.write_text("1\n00:00:00,000 --> 00:00:00,100\nfirst\n\n"
                       "2\n00:00:00,120 --> 00:00:00,200\nsecond\n\n")
        path = self.folder / name
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(clip), "-i", str(srt),
                        "-map", "0", "-map", "1", "-c", "copy", "-c:s", codec, str(path)],
                       check=True, timeout=60)
        return path


def _damaged(packet: av.Packet, stream: av.stream.Stream) -> av.Packet:
    data = bytearray(bytes(packet))
    data[4:] = bytes(len(data) - 4)  # keep the NAL length prefix, zero the rest
    bad = av.Packet(bytes(data))
    bad.pts, bad.dts, bad.time_base = packet.pts, packet.dts, packet.time_base
    bad.is_keyframe = packet.is_keyframe
    bad.stream = stream
    return bad


def _tone(out: av.container.OutputContainer, codec: str, seconds: float) -> list[av.Packet]:
    """Encode a stereo 440 Hz tone of ``seconds`` into a new stream of ``out``."""
    rate = 48000
    stream = out.add_stream(codec, rate=rate)
    stream.codec_context.layout = "stereo"
    cc = stream.codec_context
    fmt, size = cc.format, cc.frame_size or 1024
    packets = []
    for start in range(0, int(seconds * rate), size):
        t = (start + np.arange(size)) / rate
        wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        samples = np.stack([wave, wave])
        if fmt.name == "s16":
            samples = (samples * 32767).astype(np.int16)
        array = samples if fmt.is_planar else samples.T.reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(array, format=fmt.name, layout="stereo")
        frame.sample_rate, frame.pts = rate, start
        packets += stream.encode(frame)
    return packets + stream.encode(None)


def ffprobe(path: Path) -> dict:
    """Format, streams, packets (with an MD5 of each payload) and frames, per ffprobe."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-show_packets",
         "-show_frames",
         "-show_data_hash", "MD5", "-of", "json", str(path)],
        check=True, capture_output=True, text=True, timeout=60).stdout
    return json.loads(out)


def frames_of(probe: dict, kind: str = "video") -> list[dict]:
    # With both -show_packets and -show_frames, ffprobe lists them together, in file order.
    return [f for f in probe.get("packets_and_frames", [])
            if f["type"] == "frame" and f["media_type"] == kind]


def packets_of(probe: dict, kind: str) -> list[dict]:
    return [p for p in probe.get("packets_and_frames", [])
            if p["type"] == "packet" and p["codec_type"] == kind]


def stream_of(probe: dict, kind: str = "video") -> dict:
    return next(s for s in probe["streams"] if s["codec_type"] == kind)


@pytest.fixture(scope="session", autouse=True)
def _needs_ffprobe() -> None:
    if shutil.which("ffprobe") is None:
        pytest.exit("the tests need ffprobe (Debian: apt-get install ffmpeg)", returncode=2)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Small tensors render fastest on one thread, above all on a CPU shared with training."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def torch_pinned_to_one_thread(monkeypatch: pytest.MonkeyPatch):
    """One torch thread even for the engines a test makes: they ask for every core, which on
    tiny frames and a busy machine only makes the threads wait for each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)
    yield
    monkeypatch.undo()
    torch.set_num_threads(threads)


@pytest.fixture
def media(tmp_path: Path) -> Media:
    return Media(tmp_path)


@pytest.fixture(scope="session")
def identity_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained network: its residual head starts at zero, so it returns its input.

    Plumbing tests use it instead of the shipped weights, so output pixels can be compared
    to input pixels whatever the trained model does.
    """
    path = tmp_path_factory.mktemp("model") / "identity.pt"
    save_checkpoint(path, DemoireNet(), {"note": "identity, for tests"})
    return path


@pytest.fixture
def clean(identity_checkpoint: Path, monkeypatch: pytest.MonkeyPatch):
    """Run ``streamdemoire clean ARGS...`` in-process with the identity model, unsharpened
    (``--sharpen 0`` unless ARGS say otherwise), so output pixels are input pixels.

    The model runs on one thread here: tiny clips gain nothing from more, and on a busy
    machine torch's spinning worker threads made these tests 30 times slower.
    """
    set_num_threads, threads = torch.set_num_threads, torch.get_num_threads()
    set_num_threads(1)
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)  # the engine asks for all

    def run(*args: str | Path) -> Result:
        argv = ["clean", "--sharpen", "0", *map(str, args), "--checkpoint",
                str(identity_checkpoint)]
        return CliRunner().invoke(main, argv, catch_exceptions=False)

    yield run
    set_num_threads(threads)


@pytest.fixture(scope="module")
def demoirer(identity_checkpoint: Path):
    """The real engine with the identity network and no sharpening, on one thread (tiny
    frames, busy box)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    engine = Demoirer(backend="torch", device="cpu", checkpoint=identity_checkpoint, sharpen=0)
    torch.set_num_threads(1)  # the engine asks for every core
    yield engine
    torch.set_num_threads(threads)
