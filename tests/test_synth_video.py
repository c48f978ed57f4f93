"""Simulated clips: determinism, length, scene cuts, scrolling, the files write_clip makes and
the ``synth`` command. Small frames keep it fast; the camera's physics has its own tests.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import time
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner

from streamdemoire.synth import video
from streamdemoire.synth.command import synth
from streamdemoire.synth.video import render_clip, write_clip

W, H = 96, 64


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _clip(seed: int, seconds: float, fps: float = 30.0, kind: str = "mixed") -> list:
    return list(render_clip(seed, W, H, seconds, fps=fps, kind=kind))


@pytest.fixture(scope="module")
def clip() -> list:
    """Half a second of seed 1: reused by the tests that only need some clip."""
    return _clip(1, 0.5)


def _mean_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(float) - b.astype(float)).mean())


def test_same_seed_same_clip(clip):
    again = _clip(1, 0.5)
    for a, b in zip(clip, again, strict=True):
        np.testing.assert_array_equal(a.moire, b.moire)
        np.testing.assert_array_equal(a.clean, b.clean)
        assert (a.scene, a.scroll, a.params) == (b.scene, b.scroll, b.params)
    other = _clip(2, 0.1)
    assert not np.array_equal(other[0].clean, clip[0].clean)


@pytest.mark.parametrize(("seconds", "fps"), [(0.5, 30.0), (0.3, 24.0), (0.25, 12.5)])
def test_frame_count_is_seconds_times_fps(seconds, fps):
    frames = _clip(3, seconds, fps)
    assert len(frames) == round(seconds * fps)
    assert [f.index for f in frames] == list(range(len(frames)))
    assert all(f.moire.shape == f.clean.shape == (H, W, 3) for f in frames)
    assert all(f.moire.dtype == f.clean.dtype == np.uint8 for f in frames)


def test_the_camera_moves_and_the_moire_crawls(clip):
    """Hand-held: the pose changes a little every frame, so consecutive frames differ."""
    assert len({f.params.rotation_deg for f in clip}) == len(clip)
    assert len({f.params.pitch for f in clip}) == len(clip)
    assert _mean_abs(clip[0].moire, clip[-1].moire) > 0.5


def test_scene_cut_changes_content_and_camera():
    """At 5 fps, 4.6 s hold at least one cut (every 2 to 4 s): the frames either side of it
    differ far more than any two neighbours within a scene."""
    frames = _clip(4, 4.6, fps=5.0, kind="photo")
    cuts = [i for i in range(1, len(frames)) if frames[i].scene != frames[i - 1].scene]
    assert cuts and 10 <= cuts[0] <= 20
    steps = [_mean_abs(a.clean, b.clean) for a, b in zip(frames, frames[1:], strict=False)]
    within = max(s for i, s in enumerate(steps) if i + 1 not in cuts)
    assert min(steps[cut - 1] for cut in cuts) > 2 * within
    before, after = frames[cuts[0] - 1].params, frames[cuts[0]].params
    assert (before.layout, before.fill_x, before.gamma) != (after.layout, after.fill_x, after.gamma)


def test_scene_keeps_its_camera_constants(clip):
    """Only pose and zoom vary within a scene; layout, noise and tone stay put."""
    scene = [f.params for f in clip if f.scene == 0]
    for name in ("layout", "fill_x", "fill_y", "sensor_scale", "shot_noise", "gamma", "k1"):
        assert len({getattr(p, name) for p in scene}) == 1, name


def _scrolling_clip() -> list:
    """The first text clip (by seed) whose first scene scrolls within a second."""
    for seed in range(10):
        frames = _clip(seed, 1.0, kind="text")
        if frames[-1].scroll > 20:
            return frames
    raise AssertionError("no scrolling text scene in 10 seeds")


def _content_shift(a, b, reach: int = H // 4) -> int:
    """Rows the clean image moved up from frame ``a`` to frame ``b``: the vertical offset
    (within ``reach``) at which the two frames match best."""
    def mismatch(t: int) -> float:
        top, bottom = (a.clean[t:], b.clean[:H - t]) if t >= 0 else (a.clean[:t], b.clean[-t:])
        return _mean_abs(top, bottom)
    return min(range(-reach, reach + 1), key=mismatch)


def _expected_shift(a, b) -> float:
    """Output pixels the scroll should move the content: display pixels at a's zoom."""
    return (b.scroll - a.scroll) / a.params.display_px_per_output_px()


def test_scrolling_moves_the_content_up():
    """The clean image moves up by the scroll distance (display pixels turned into output
    pixels; tilt makes that scale vary over the frame, hence the tolerance), and stays put,
    but for the hand's drift, while the scroll pauses."""
    frames = _scrolling_clip()
    assert np.all(np.diff([f.scroll for f in frames]) >= 0)
    # The longest move that phase correlation cannot mistake (under a quarter of the frame).
    pairs = [(a, b) for i, a in enumerate(frames) for b in frames[i + 1:i + 5]
             if _expected_shift(a, b) <= H / 4]
    a, b = max(pairs, key=lambda pair: _expected_shift(*pair))
    expected, shift = _expected_shift(a, b), _content_shift(a, b)
    assert expected >= 4
    assert abs(shift - expected) <= 1.5 + 0.25 * expected
    paused = [(a, b) for a, b in zip(frames, frames[1:], strict=False) if a.scroll == b.scroll]
    assert paused and all(abs(_content_shift(a, b)) <= 1 for a, b in paused)


@pytest.fixture(scope="module")
def written(tmp_path_factory, clip) -> tuple[Path, Path, dict]:
    folder = tmp_path_factory.mktemp("clip")
    out, clean = folder / "clip.mp4", folder / "clip_clean.mkv"
    summary = write_clip(out, clean, W, H, 0.5, seed=1)
    return out, clean, summary


def _decode(path: Path) -> tuple[list[np.ndarray], list[float], str, str]:
    """Frames (RGB), their times in seconds, the codec and pixel format."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        codec, pix_fmt = stream.codec_context.name, stream.codec_context.pix_fmt
    return [f.to_ndarray(format="rgb24") for f in frames], [f.time for f in frames], codec, pix_fmt


def test_write_clip_files_match_in_count_and_time(written):
    out, clean, summary = written
    moire_frames, moire_times, moire_codec, moire_fmt = _decode(out)
    clean_frames, clean_times, clean_codec, _ = _decode(clean)
    assert (moire_codec, moire_fmt, clean_codec) == ("h264", "yuv420p", "ffv1")
    assert len(moire_frames) == len(clean_frames) == summary["frames"] == 15
    np.testing.assert_allclose(moire_times, np.arange(15) / 30.0, atol=1e-9)  # 1/fps exactly
    np.testing.assert_allclose(clean_times, moire_times, atol=1e-3)  # Matroska keeps ms
    with av.open(str(out)) as container:
        assert container.streams.video[0].time_base * 30 == 1
    assert summary | {"scene_kinds": None} == {
        "frames": 15, "scenes": 1, "scene_kinds": None, "seed": 1, "size": [W, H],
        "fps": 30.0, "kind": "mixed", "out": str(out), "clean": str(clean)}
    assert sorted(p.name for p in out.parent.iterdir()) == sorted([clean.name, out.name])


def test_write_clip_clean_twin_is_lossless(written, clip):
    clean_frames = _decode(written[1])[0]
    for decoded, frame in zip(clean_frames, clip, strict=True):
        np.testing.assert_array_equal(decoded, frame.clean)

def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0 ** 2 / np.mean((a.astype(float) - b.astype(float)) ** 2)))


def test_write_clip_mp4_holds_the_moire_frames(written, clip):
    """H.264 is lossy, but what it keeps is the moiré frame, not the clean one: what the decoded
    frames add to the clean twin follows the moiré pattern (H.264 softens it, so its PSNR to
    either frame says little)."""
    decoded = _decode(written[0])[0]
    to_moire = np.mean([_psnr(d, f.moire) for d, f in zip(decoded, clip, strict=True)])
    added = np.concatenate([(d.astype(float) - f.clean).ravel()
                            for d, f in zip(decoded, clip, strict=True)])
    moire = np.concatenate([(f.moire.astype(float) - f.clean).ravel() for f in clip])
    assert to_moire > 24.0
    assert np.corrcoef(added, moire)[0, 1] > 0.5


def test_write_clip_failure_leaves_nothing_and_keeps_old_files(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        yield from _clip(1, 0.1)
        raise RuntimeError("renderer broke")

    out, clean = tmp_path / "a.mp4", tmp_path / "a.mkv"
    out.write_bytes(b"old")
    monkeypatch.setattr(video, "render_clip", broken)
    with pytest.raises(RuntimeError, match="renderer broke"):
        write_clip(out, clean, W, H, 0.5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4"]
    assert out.read_bytes() == b"old"


def test_write_clip_files_get_the_permissions_the_umask_gives(tmp_path):
    """Rendered under temporary names and renamed: still as readable as any file the user
    makes (``tempfile.mkstemp``'s private 0600 was the bug)."""
    old = os.umask(0o027)
    try:
        write_clip(tmp_path / "a.mp4", tmp_path / "a.mkv", W, H, 0.1, seed=2)
    finally:
        os.umask(old)
    assert [stat.S_IMODE((tmp_path / name).stat().st_mode) for name in ("a.mp4", "a.mkv")] \
        == [0o640, 0o640]


def test_write_clip_rejects_odd_sizes(tmp_path):
    with pytest.raises(ValueError, match="even"):
        write_clip(tmp_path / "a.mp4", tmp_path / "a.mkv", 95, 64, 0.1)


def test_synth_command_writes_both_files(tmp_path):
    out, clean = tmp_path / "s.mp4", tmp_path / "s_clean.mkv"
    result = CliRunner().invoke(synth, [str(out), "--clean", str(clean), "--size", "96x64",
                                        "--seconds", "0.5", "--content", "code", "--seed", "3",
                                        "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert (summary["frames"], summary["kind"], summary["seed"]) == (15, "code", 3)
    assert len(_decode(out)[0]) == len(_decode(clean)[0]) == 15


@pytest.mark.parametrize("size", ["96", "96x", "95x64", "0x0", "ninety"])
def test_synth_command_rejects_bad_sizes(tmp_path, size):
    result = CliRunner().invoke(synth, [str(tmp_path / "s.mp4"), "--clean",
                                        str(tmp_path / "s.mkv"), "--size", size])
    assert result.exit_code == 2
    assert "--size" in result.output
    assert list(tmp_path.iterdir()) == []


def test_synth_command_failure_is_one_line(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("streamdemoire.synth.command.write_clip", broken)
    result = CliRunner().invoke(synth, [str(tmp_path / "s.mp4"), "--clean",
                                        str(tmp_path / "s.mkv"), "--size", "96x64"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "disk on fire" in lines[0]
    assert "Traceback" not in result.output


def test_synth_command_stopped_by_sigterm_leaves_nothing(tmp_path, monkeypatch):
    """`timeout` or a service manager stops it as Ctrl-C does: one line, exit 143, no file."""
    def terminated(*args, **kwargs):
        yield from _clip(1, 0.1)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(10)  # the handler raises long before this ends
        yield from _clip(1, 0.1)

    monkeypatch.setattr(video, "render_clip", terminated)
    result = CliRunner().invoke(synth, [str(tmp_path / "s.mp4"), "--clean",
                                        str(tmp_path / "s.mkv"), "--size", "96x64"])
    assert result.exit_code == 143
    assert result.output.strip().splitlines() == ["streamdemoire: error: terminated"]
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handed back
