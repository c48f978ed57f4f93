"""`streamdemoire clean` keeps what the input had: timing, size, rotation, colours, audio,
subtitles. Checked with ffprobe against the input; the model is the identity network, so
these tests are about plumbing, not about moiré."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import ffprobe, frames_of, packets_of, stream_of

from streamdemoire.cli import progress_bar
from streamdemoire.pipeline import clean_file

VFR = [0, 40, 100, 110, 300, 333, 340]  # ms: irregular on purpose
BT709 = {"color_range": 1, "colorspace": 1, "color_primaries": 1, "color_trc": 1}
COLOUR_KEYS = ("color_range", "color_space", "color_transfer", "color_primaries")


def video_frames(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def assert_same_timing_and_size(src: dict, out: dict) -> None:
    a, b = frames_of(src), frames_of(out)
    assert len(b) == len(a)
    assert [f["pts_time"] for f in b] == [f["pts_time"] for f in a]
    assert [(f["width"], f["height"]) for f in b] == [(f["width"], f["height"]) for f in a]


def packet_list(probe: dict, kind: str) -> list[tuple]:
    return [(p["pts_time"], p["dts_time"], p["duration_time"], p["size"], p["data_hash"])
            for p in packets_of(probe, kind)]


@pytest.mark.parametrize("ext", ["mp4", "mkv", "mov"])
def test_output_keeps_timestamps_size_rotation_colours_and_audio(media, clean, tmp_path, ext):
    src = media.video(f"in.{ext}", pts=VFR, audio="aac", rotation=90, colour=BT709)
    out = tmp_path / f"out.{ext}"

    result = clean(src, "-o", out)

    assert result.exit_code == 0, result.stderr
    a, b = ffprobe(src), ffprobe(out)
    assert_same_timing_and_size(a, b)
    va, vb = stream_of(a), stream_of(b)
    assert vb.get("side_data_list") == va.get("side_data_list")  # rotation 90
    assert [vb.get(k) for k in COLOUR_KEYS] == [va.get(k) for k in COLOUR_KEYS]
    assert vb["pix_fmt"] == va["pix_fmt"]
    assert packet_list(b, "audio") == packet_list(a, "audio")
    # Identity model: only the YUV <-> RGB round trip and the re-encode change pixels.
    assert np.abs(video_frames(out).astype(int) - video_frames(src)).mean() < 4


def test_full_range_bt601_round_trips_without_a_colour_shift(media, clean, tmp_path):
    full = {"color_range": 2, "colorspace": 6, "color_primaries": 6, "color_trc": 6}
    src = media.video(colour=full)
    out = tmp_path / "out.mp4"

    assert clean(src, "-o", out).exit_code == 0
    va, vb = stream_of(ffprobe(src)), stream_of(ffprobe(out))
    assert [vb.get(k) for k in COLOUR_KEYS] == [va.get(k) for k in COLOUR_KEYS]
    # Decoding with the wrong range would stretch levels by ~15%: far above this bound.
    assert np.abs(video_frames(out).astype(int) - video_frames(src)).mean() < 4


@pytest.mark.parametrize("pix_fmt, codec, expected", [
    ("yuv420p10le", "libx264", "yuv420p10le"),
    ("yuv422p", "libx264", "yuv422p"),
    ("yuv444p", "libx264", "yuv444p"),
    ("yuv422p10le", "libx264", "yuv422p10le"),
    ("yuv420p10le", "libx265", "yuv420p10le"),
    ("yuv444p", "libx265", "yuv444p"),
    ("yuv420p10le", "ffv1", "yuv420p10le"),
    ("yuv422p", "ffv1", "yuv422p"),
])
def test_bit_depth_and_chroma_format_are_kept(media, clean, tmp_path, pix_fmt, codec, expected):
    src = media.video(pix_fmt=pix_fmt, size=(64, 48))
    out = tmp_path / "out.mkv"

    result = clean(src, "-o", out, "--codec", codec)

    assert result.exit_code == 0, result.stderr
    a, b = ffprobe(src), ffprobe(out)
    assert stream_of(b)["pix_fmt"] == expected
    assert_same_timing_and_size(a, b)


@pytest.mark.parametrize("size, codec, expected_pix_fmt", [
    ((63, 47), "libx264", "yuv444p"),  # odd width: H.264 needs 4:4:4
    ((64, 47), "libx264", "yuv422p"),  # odd height only: 4:2:2 is enough
    ((63, 47), "ffv1", "yuv420p"),     # FFV1 stores odd sizes in 4:2:0
    ((1, 1), "libx264", "yuv444p"),
    ((1, 1), "ffv1", "yuv420p"),
])
def test_odd_and_tiny_sizes_are_kept(media, clean, tmp_path, size, codec, expected_pix_fmt):
    src = media.video("in.mkv", size=size, codec="ffv1")
    out = tmp_path / "out.mkv"

    result = clean(src, "-o", out, "--codec", codec)

    assert result.exit_code == 0, result.stderr
    a, b = ffprobe(src), ffprobe(out)
    assert_same_timing_and_size(a, b)
    assert stream_of(b)["pix_fmt"] == expected_pix_fmt
    assert np.abs(video_frames(out).astype(int) - video_frames(src)).mean() < 6


def test_opus_is_copied_where_the_container_takes_it(media, clean, tmp_path):
    src = media.video("in.mkv", audio="libopus")
    out = tmp_path / "out.mkv"

    result = clean(src, "-o", out)

    assert result.exit_code == 0, result.stderr
    a, b = ffprobe(src), ffprobe(out)
    assert packet_list(b, "audio") == packet_list(a, "audio")
    assert "AAC" not in result.stderr


def test_audio_a_container_cannot_hold_is_reencoded_to_aac_with_a_notice(media, clean, tmp_path):
    src = media.video("in.mkv", audio="libopus")  # .mov cannot hold Opus
    out = tmp_path / "out.mov"

    result = clean(src, "-o", out)

    assert result.exit_code == 0, result.stderr
    assert "re-encoding it to AAC" in result.stderr
    audio = stream_of(ffprobe(out), "audio")
    assert audio["codec_name"] == "aac"
    assert float(audio["duration"]) == pytest.approx(0.24, abs=0.05)


@pytest.mark.parametrize("ext, codec", [("mkv", "srt"), ("mp4", "mov_text")])
def test_subtitles_are_copied_packet_for_packet(media, clean, tmp_path, ext, codec):
    src = media.with_subtitles(media.video(f"v.{ext}", audio="aac"), f"in.{ext}", codec)
    out = tmp_path / f"out.{ext}"

    result = clean(src, "-o", out)

    assert result.exit_code == 0, result.stderr
    a, b = ffprobe(src), ffprobe(out)
    assert packet_list(b, "subtitle") == packet_list(a, "subtitle")
    assert packet_list(b, "audio") == packet_list(a, "audio")
    assert_same_timing_and_size(a, b)


def test_subtitles_a_container_cannot_hold_are_left_out_with_a_notice(media, clean, tmp_path):
    src = media.with_subtitles(media.video("v.mp4"), "in.mp4", "mov_text")
    out = tmp_path / "out.mkv"  # Matroska has no mov_text

    result = clean(src, "-o", out)

    assert result.exit_code == 0, result.stderr
    assert "subtitle stream #1 (mov_text) cannot be stored" in result.stderr
    assert [s["codec_type"] for s in ffprobe(out)["streams"]] == ["video"]


def test_json_line_comes_last_with_the_run_figures(media, clean, tmp_path):
    src = media.video()
    out = tmp_path / "out.mp4"

    result = clean(src, "-o", out, "--json", "--batch", "4")

    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["frames"] == 6
    assert report["output"] == str(out)
    assert (report["backend"], report["device"]) == ("torch", "cpu")
    assert (report["lost"], report["corrupt"]) == (0, 0)
    assert report["seconds"] > 0 and report["fps"] > 0


def test_default_output_sits_beside_the_input(media, clean):
    src = media.video("talk.mp4")

    result = clean(src, "--quiet")

    assert result.exit_code == 0, result.stderr
    assert src.with_name("talk_clean.mp4").is_file()


def test_quiet_and_not_a_terminal_print_no_progress_bar(media, clean, tmp_path):
    src = media.video("in.mkv", audio="libopus")

    quiet = clean(src, "-o", tmp_path / "a.mov", "--quiet")
    plain = clean(src, "-o", tmp_path / "b.mp4")

    assert quiet.exit_code == 0 and quiet.stdout == "" and quiet.stderr == ""
    assert plain.exit_code == 0 and "frame/s" not in plain.stderr
    assert plain.stdout.startswith(f"wrote {tmp_path / 'b.mp4'}: 6 frames")


def test_library_clean_file_takes_any_frame_transform(media, tmp_path):
    src = media.video(pts=VFR)
    seen = []

    def invert(frames: np.ndarray) -> np.ndarray:
        seen.append(len(frames))
        return 255 - frames

    report = clean_file(src, tmp_path / "out.mp4", invert, batch_size=3)

    assert (report.frames, seen) == (7, [3, 3, 1])
    assert np.abs(video_frames(tmp_path / "out.mp4").astype(int)
                  - (255 - video_frames(src))).mean() < 4


def test_progress_bar_shows_count_rate_and_eta_when_enabled(capsys):
    with progress_bar(enabled=True, label="talk.mp4") as on_progress:
        for done in (0, 4, 8, 10):
            on_progress(done, 10)
    err = capsys.readouterr().err
    assert "talk.mp4" in err and "10/10" in err and "frame/s" in err and "<" in err


def test_title_language_and_default_flags_are_kept(media, clean, tmp_path):
    src = tmp_path / "in.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-i", media.video("v.mkv", audio="aac"),
                    "-c", "copy", "-metadata", "title=Talk", "-metadata:s:a:0", "language=fra",
                    "-disposition:a:0", "default", src], check=True)
    out = tmp_path / "out.mkv"

    assert clean(src, "-o", out).exit_code == 0
    probe = ffprobe(out)
    audio = stream_of(probe, "audio")
    assert probe["format"]["tags"]["title"] == "Talk"
    assert (audio["tags"]["language"], audio["disposition"]["default"]) == ("fra", 1)


@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_tags_that_are_not_utf8_are_kept_byte_for_byte(media, clean, tmp_path, ext):
    # PyAV 19 reads tags with surrogateescape; older releases refused to open such a file.
    src = tmp_path / f"in.{ext}"
    subprocess.run([b"ffmpeg", b"-v", b"error", b"-i", bytes(media.video("v.mkv", audio="aac")),
                    b"-c", b"copy", b"-metadata", b"title=caf\xe9",
                    b"-metadata:s:a:0", b"title=d\xe9but", bytes(src)], check=True)
    out = tmp_path / f"out.{ext}"

    result = clean(src, "-o", out)

    assert result.exit_code == 0, result.stderr
    data = out.read_bytes()
    assert b"caf\xe9" in data
    assert b"d\xe9but" in data or ext == "mp4"  # FFmpeg reads no track titles from MP4
    assert [s["codec_type"] for s in ffprobe(out)["streams"]] == ["video", "audio"]
