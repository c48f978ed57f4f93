"""Bad input and failed runs: one clear line on stderr, a non-zero exit code, and nothing
left behind (no output, no temporary file)."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import ffprobe, frames_of

from streamdemoire.api import Demoirer


def assert_failed_cleanly(result, folder: Path, message: str, *inputs: Path,
                          code: int = 1) -> None:
    """Exit code, exactly one stderr line that says ``message``, and only the inputs left."""
    assert result.exit_code == code, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("streamdemoire: error: ") and message in lines[0]
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in inputs)


def test_missing_input(clean, tmp_path):
    result = clean(tmp_path / "nope.mp4", "-o", tmp_path / "out.mp4")
    assert_failed_cleanly(result, tmp_path, "input not found")


def test_text_file_named_mp4(clean, tmp_path):
    src = tmp_path / "notes.mp4"
    src.write_text("not a video\n" * 100)
    result = clean(src, "-o", tmp_path / "out.mp4")
    assert_failed_cleanly(result, tmp_path, "not a readable media file", src)


def test_truncated_mp4_without_moov(media, clean, tmp_path):
    src = media.video(pts=list(range(0, 1000, 40)))
    src.write_bytes(src.read_bytes()[: src.stat().st_size // 2])  # the moov box is at the end
    result = clean(src, "-o", tmp_path / "out.mp4")
    assert_failed_cleanly(result, tmp_path, "damaged/truncated", src)


def test_audio_only_file(media, clean, tmp_path):
    src = media.audio_only()
    result = clean(src, "-o", tmp_path / "out.mp4")
    assert_failed_cleanly(result, tmp_path, "has no video stream (only audio)", src)


def test_cover_art_is_not_a_video(media, clean, tmp_path):
    src = media.song_with_cover()
    result = clean(src, "-o", tmp_path / "out.mp4")
    assert_failed_cleanly(result, tmp_path, "has no video stream (only audio, cover art)", src)


def test_video_stream_without_frames(media, clean, tmp_path):
    src = media.empty_video()
    result = clean(src, "-o", tmp_path / "out.mkv")
    assert_failed_cleanly(result, tmp_path, "the video stream has no frames", src)


def test_corrupt_packet_costs_one_frame_and_is_reported(media, clean, tmp_path):
    src = media.video("in.mkv", pts=list(range(0, 400, 40)), damage_packet=4,
                      options={"g": "1"})
    out = tmp_path / "out.mkv"

    result = clean(src, "-o", out, "--json")

    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert (report["frames"], report["lost"]) == (9, 1)
    assert "1 frame(s) are missing" in result.stderr
    expected = [t for i, t in enumerate(range(0, 400, 40)) if i != 4]
    assert [f["pts"] for f in frames_of(ffprobe(out))] == expected


def test_output_folder_missing(media, clean, tmp_path):
    src = media.video()
    result = clean(src, "-o", tmp_path / "no" / "such" / "out.mp4")
    assert_failed_cleanly(result, tmp_path, "output folder does not exist", src)


def test_output_equal_to_input_is_refused(media, clean, tmp_path):
    src = media.video()
    before = src.read_bytes()
    result = clean(src, "-o", tmp_path / "." / src.name)
    assert_failed_cleanly(result, tmp_path, "would overwrite the input", src)
    assert src.read_bytes() == before


@pytest.mark.parametrize("name, codec, message", [
    ("out.webm", "libx264", "a .webm file cannot hold libx264 video"),
    ("out.mov", "ffv1", "a .mov file cannot hold ffv1 video"),
    ("out.xyz", "libx264", "unknown output format '.xyz'"),
])
def test_container_that_cannot_hold_the_codec(media, clean, tmp_path, name, codec, message):
    src = media.video()
    result = clean(src, "-o", tmp_path / name, "--codec", codec)
    assert_failed_cleanly(result, tmp_path, message, src)


def test_encoder_that_cannot_take_the_size(media, clean, tmp_path):
    src = media.video(size=(8, 8))  # x265 needs at least 16x16
    result = clean(src, "-o", tmp_path / "out.mp4", "--codec", "libx265")
    assert_failed_cleanly(result, tmp_path, "the libx265 encoder cannot start for 8x8", src)


def test_unknown_preset(media, clean, tmp_path):
    src = media.video()
    result = clean(src, "-o", tmp_path / "out.mp4", "--preset", "bogus")
    assert_failed_cleanly(result, tmp_path, "libx264 has no preset 'bogus'", src)


@pytest.mark.skipif(torch.cuda.is_available(), reason="NVENC may work on this machine")
def test_nvenc_without_an_nvidia_gpu(media, clean, tmp_path):
    src = media.video()
    result = clean(src, "-o", tmp_path / "out.mp4", "--codec", "h264_nvenc")
    assert_failed_cleanly(result, tmp_path, "h264_nvenc", src)


def test_unknown_device_is_one_line(media, clean, tmp_path):
    src = media.video()
    result = clean(src, "-o", tmp_path / "out.mp4", "--device", "cuda:7")
    assert_failed_cleanly(result, tmp_path, "cuda", src)


def test_ctrl_c_mid_run_leaves_nothing(media, clean, tmp_path, monkeypatch):
    src = media.video(pts=list(range(0, 800, 40)), audio="aac")
    calls = []
    real_infer = Demoirer.infer  # the pipeline's first model stage (Demoirer.stages)

    def interrupted(self, frames):
        calls.append(len(frames))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_infer(self, frames)

    monkeypatch.setattr(Demoirer, "infer", interrupted)
    result = clean(src, "-o", tmp_path / "out.mp4", "--batch", "2")
    assert_failed_cleanly(result, tmp_path, "interrupted", src, code=130)


def cli(*args: str | Path) -> list[str]:
    return [sys.executable, "-c", "from streamdemoire.cli import main; main()", "clean",
            *map(str, args)]


@pytest.mark.slow  # a fresh process imports torch
@pytest.mark.parametrize("sig, code, message", [
    (signal.SIGINT, 130, "interrupted"),  # Ctrl-C
    (signal.SIGTERM, 143, "terminated"),  # `timeout`, a service manager, kill
])
def test_a_signal_in_a_real_process_leaves_nothing(media, tmp_path, identity_checkpoint,
                                                    sig, code, message):
    # Long enough (80 s of video) that a quiet machine cannot finish it before the signal.
    src = media.video(size=(160, 96), pts=list(range(0, 40 * 2000, 40)))
    # A suite started in the background by a non-interactive shell ignores SIGINT, and the
    # child would inherit that: give it the default disposition a terminal user has.
    proc = subprocess.Popen(cli(src, "-o", tmp_path / "out.mp4", "--checkpoint",
                                identity_checkpoint, "--batch", "1"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(".out.mp4.") for p in tmp_path.iterdir()):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    time.sleep(0.3)  # mid-run: frames are flowing
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)

    assert proc.returncode == code
    assert stderr.strip().splitlines() == [f"streamdemoire: error: {message}"]
    assert [p.name for p in tmp_path.iterdir()] == [src.name]


@pytest.mark.slow  # a fresh process imports torch
def test_full_disk_leaves_nothing(media, tmp_path, identity_checkpoint):
    """A file size limit stands in for a full disk: writes past it fail like ENOSPC."""
    src = media.video("in.mkv", size=(160, 96), pts=list(range(0, 40 * 30, 40)))
    limit = src.stat().st_size  # lossless output of the same frames is far bigger

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write instead of dying

    proc = subprocess.run(cli(src, "-o", tmp_path / "out.mkv", "--codec", "ffv1",
                              "--checkpoint", identity_checkpoint),
                          capture_output=True, text=True, preexec_fn=limit_file_size,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}, timeout=120)

    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "File too large" in lines[0], proc.stderr
    assert [p.name for p in tmp_path.iterdir()] == [src.name]
