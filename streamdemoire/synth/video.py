"""Simulated video of a phone filming a screen: hand-held motion, zoom, scrolling, scene cuts.

A clip is a run of scenes. Each scene draws one ``CameraParams`` (display layout, fill factors,
optics, noise, tone: what stays constant while one phone films one screen) and one screen
content, then varies only the pose, the zoom and the scroll offset from frame to frame. Moiré
is a beat between the display grid and the sensor grid, so even sub-pixel motion of the phone
makes it crawl across the frame, as it does in real footage.

How a frame is placed: a scene has one *screen*, a content image in display pixels that covers
every view of the whole trajectory. For each frame the camera looks at a point of the screen
(the view centre, in display pixels) with that frame's pose. ``render_pair`` is given only the
window of the screen around that view, cropped at even display pixels so that the subpixel
grid (whose period is up to 2 pixels for PenTile and delta) keeps its phase, and ``centre_x``
/ ``centre_y`` are solved so that the view lands exactly on the wanted point of the window.
The screen therefore stays fixed in the world while the camera moves over it.

Every randomised range is a module constant below, with the reason for its value.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from tqdm import tqdm

from ..files import written_whole
from .camera import CameraParams, _view_extent, render_pair
from .content import CONTENT_KINDS, MIXED_PHOTO_SHARE, render_content, render_scroll_strip
from .pairs import MAX_CONTENT_SIDE

#: Seconds between scene cuts, uniform: long enough to see the moiré crawl, short enough that
#: a few seconds of clip cover several screens and cameras.
SCENE_SECONDS = (2.0, 4.0)

#: Sensor pixels per output pixel, log-uniform. Phones read video from a binned (2 x 2) or
#: cropped sensor, so it samples only a little finer than the video (stills use 1 .. 5). The
#: cap also keeps a 640x360 frame near 0.3 s of CPU, as the cost grows with its square.
VIDEO_SENSOR_SCALE = (1.0, 2.2)

#: Hand-held wobble: each pose channel is a sum of this many sinusoids with frequencies
#: log-uniform in this range (Hz); amplitudes fall as 1/f, as arm sway dominates tremor.
WOBBLE_SINES = 3
WOBBLE_HZ = (0.15, 2.0)

#: Peak wobble amplitudes, uniform per scene: rotation in degrees, tilt (the homography's
#: perspective terms), pan in output pixels (converted to display pixels at the scene's zoom).
ROTATION_WOBBLE_DEG = (0.1, 1.0)
TILT_WOBBLE = (0.002, 0.02)
PAN_WOBBLE_PX = (1.0, 8.0)

#: Slow drift of the phone, uniform per scene and axis: pan in output pixels per second, and
#: zoom as a log-rate per second (+-4 %/s walks the display pitch across near-integer values,
#: where the moiré bands swell and shrink), plus a small zoom wobble (log amplitude).
PAN_DRIFT_PX_S = (-6.0, 6.0)
ZOOM_DRIFT_PER_S = (-0.04, 0.04)
ZOOM_WOBBLE = (0.0, 0.02)

#: Scrolling: the kinds whose content is a long document, the chance that such a scene scrolls,
#: its speed in display pixels per second (1 .. 6 px per frame at 30 fps), and how long each
#: stretch of scrolling and each pause last (seconds, uniform). A scene starts with either.
SCROLL_KINDS = ("text", "code", "web", "spreadsheet")
SCROLL_PROBABILITY = 0.75
SCROLL_SPEED_PX_S = (30.0, 180.0)
SCROLL_RUN_S = (0.3, 1.2)
SCROLL_PAUSE_S = (0.2, 1.0)


@dataclass(frozen=True, eq=False)
class ClipFrame:
    """One frame of a simulated clip.

    ``moire`` is uncompressed (the clip's video encoder compresses it, as the phone's does);
    ``clean`` is its aligned twin. ``scroll`` is how many display pixels the scene's content has
    scrolled up since the scene began (0 for content that does not scroll).
    """

    moire: np.ndarray
    clean: np.ndarray
    index: int
    scene: int
    kind: str
    scroll: int
    params: CameraParams


def frame_count(seconds: float, fps: float) -> int:
    """Frames in a clip of ``seconds`` at ``fps``."""
    return round(seconds * fps)


def scene_starts(seed: int, n_frames: int, fps: float) -> list[int]:
    """First frame of each scene. A seed's cuts do not depend on the clip's length."""
    rng = np.random.default_rng([seed, 0])
    starts, t = [0], rng.uniform(*SCENE_SECONDS)
    while round(t * fps) < n_frames:
        starts.append(round(t * fps))
        t += rng.uniform(*SCENE_SECONDS)
    return starts


def _wobble(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """A smooth random signal of peak at most 1: a few sinusoids with 1/f amplitudes."""
    freqs = np.exp(rng.uniform(*np.log(WOBBLE_HZ), size=WOBBLE_SINES))
    phases = rng.uniform(0, 2 * np.pi, size=WOBBLE_SINES)
    weights = (1 / freqs) / np.sum(1 / freqs)
    return np.sin(2 * np.pi * freqs[:, None] * t[None, :] + phases[:, None]).T @ weights


def _trajectory(rng: np.random.Generator, base: CameraParams, t: np.ndarray
                ) -> tuple[list[CameraParams], np.ndarray, np.ndarray]:
    """Per-frame poses around ``base``, and the view centres on the screen (display pixels,
    relative to the first frame's; only differences matter).
    """
    def wobble(amplitude: tuple[float, float]) -> np.ndarray:
        return rng.uniform(*amplitude) * _wobble(rng, t)

    rotation = base.rotation_deg + wobble(ROTATION_WOBBLE_DEG)
    tilt_x = base.tilt_x + wobble(TILT_WOBBLE)
    tilt_y = base.tilt_y + wobble(TILT_WOBBLE)
    zoom = np.exp(rng.uniform(*ZOOM_DRIFT_PER_S) * t + wobble(ZOOM_WOBBLE))
    # Pan is drawn in output pixels, as a hand moves the image; the screen is in display ones.
    display_per_output = base.display_px_per_output_px()
    pan_u = (rng.uniform(*PAN_DRIFT_PX_S) * t + wobble(PAN_WOBBLE_PX)) * display_per_output
    pan_v = (rng.uniform(*PAN_DRIFT_PX_S) * t + wobble(PAN_WOBBLE_PX)) * display_per_output
    poses = [replace(base, rotation_deg=float(r), tilt_x=float(tx), tilt_y=float(ty),
                     pitch=float(base.pitch * z))
             for r, tx, ty, z in zip(rotation, tilt_x, tilt_y, zoom, strict=True)]
    return poses, pan_u, pan_v


def _scroll_offsets(rng: np.random.Generator, kind: str, t: np.ndarray) -> np.ndarray:
    """Scroll offset (display pixels) of each frame: runs at random speeds, and pauses."""
    if kind not in SCROLL_KINDS or rng.random() >= SCROLL_PROBABILITY:
        return np.zeros(len(t), dtype=np.int64)
    dt = t[1] - t[0] if len(t) > 1 else 0.0
    speed = np.zeros(len(t))
    start, moving = 0.0, bool(rng.random() < 0.5)
    while start < t[-1] + dt:
        length = rng.uniform(*(SCROLL_RUN_S if moving else SCROLL_PAUSE_S))
        if moving:
            speed[(t >= start) & (t < start + length)] = rng.uniform(*SCROLL_SPEED_PX_S)
        start, moving = start + length, not moving
    # Offset of frame i: distance covered before it, so the first frame is unscrolled.
    return np.floor(np.concatenate([[0.0], np.cumsum(speed * dt)[:-1]])).astype(np.int64)


def _even_floor(x: float) -> int:
    return 2 * math.floor(x / 2)


@dataclass(frozen=True)
class _Window:
    """Where on the screen one frame's ``render_pair`` content is cropped (display pixels)."""

    top: int
    left: int
    height: int
    width: int


def _place_view(pose: CameraParams, centre_u: float, centre_v: float, height: int, width: int
                ) -> tuple[CameraParams, _Window]:
    """Crop a window around the view centred at (centre_u, centre_v) on the screen, and solve
    ``centre_x``/``centre_y`` so that ``render_pair`` puts the view centre exactly there.

    ``render_pair`` maps the view centre to ``-u0 + centre_x * room`` of its content, where
    ``u0`` is the view's left extent and ``room`` the width left around the view.
    """
    u0, u1, v0, v1 = _view_extent(pose, height, width)
    left, top = _even_floor(centre_u + u0 - 1), _even_floor(centre_v + v0 - 1)
    win = _Window(top, left, math.ceil(centre_v + v1 + 1) - top,
                  math.ceil(centre_u + u1 + 1) - left)
    fx = (centre_u - left + u0) / (win.width - (u1 - u0))
    fy = (centre_v - top + v0) / (win.height - (v1 - v0))
    return replace(pose, centre_x=fx, centre_y=fy), win


def _screen_layout(poses: list[CameraParams], pan_u: np.ndarray, pan_v: np.ndarray,
                   height: int, width: int, rng: np.random.Generator
                   ) -> tuple[list[CameraParams], list[_Window], tuple[int, int]]:
    """Place every frame's view on one screen that holds them all: (poses, windows, screen
    (rows, columns)). The first view starts at a random sub-pixel phase of the display grid.
    """
    extents = np.array([_view_extent(p, height, width) for p in poses])
    phase_u, phase_v = rng.uniform(0, 2, size=2)
    # Shift the trajectory so that every window (view + 1 px, floored to even) starts >= 0.
    centre_u = pan_u + phase_u + 2 * math.ceil((1 - np.min(pan_u + extents[:, 0])) / 2)
    centre_v = pan_v + phase_v + 2 * math.ceil((1 - np.min(pan_v + extents[:, 2])) / 2)
    placed = [_place_view(p, cu, cv, height, width)
              for p, cu, cv in zip(poses, centre_u, centre_v, strict=True)]
    windows = [w for _, w in placed]
    rows = max(w.top + w.height for w in windows)
    cols = max(w.left + w.width for w in windows)
    return [p for p, _ in placed], windows, (rows, cols)


@dataclass
class _Scene:
    """Everything one scene needs to render its frames."""

    kind: str
    poses: list[CameraParams]
    windows: list[_Window]
    scroll: np.ndarray
    content: np.ndarray  # the screen (plus the scroll's extra rows), possibly downsized
    scale: float  # content pixels per display pixel (< 1 when the screen was too large)
    rng: np.random.Generator  # the scene's noise


def _scene_content(rng: np.random.Generator, kind: str, screen: tuple[int, int], extra: int
                   ) -> tuple[np.ndarray, float]:
    """The screen's content, at most ``MAX_CONTENT_SIDE`` (as pairs.py caps it; frames enlarge
    it with nearest neighbours so display pixels stay sharp). Returns (content, scale)."""
    scale = min(1.0, MAX_CONTENT_SIDE / max(screen))
    h, w = max(8, round(screen[0] * scale)), max(8, round(screen[1] * scale))
    if extra > 0:
        return render_scroll_strip(kind, rng, h, w, math.ceil(extra * scale) + 1), scale
    return render_content(kind, rng, h, w), scale


def _scene_kind(rng: np.random.Generator, kind: str) -> str:
    """The scene's content kind; ``"mixed"`` draws one with ``render_content``'s own odds."""
    if kind != "mixed":
        return kind
    others = (1.0 - MIXED_PHOTO_SHARE) / (len(CONTENT_KINDS) - 1)
    odds = [MIXED_PHOTO_SHARE if k == "photo" else others for k in CONTENT_KINDS]
    return CONTENT_KINDS[int(rng.choice(len(CONTENT_KINDS), p=odds))]


def _plan_scene(seed: int, scene: int, kind: str, n_frames: int, fps: float,
                height: int, width: int) -> _Scene:
    """Draw a scene's camera, trajectory, scrolling and content."""
    rng = np.random.default_rng([seed, 1 + scene])
    kind = _scene_kind(rng, kind)
    base = CameraParams.sample(rng)
    base = replace(base, sensor_scale=float(np.exp(rng.uniform(*np.log(VIDEO_SENSOR_SCALE)))))
    t = np.arange(n_frames) / fps
    poses, pan_u, pan_v = _trajectory(rng, base, t)
    poses, windows, screen = _screen_layout(poses, pan_u, pan_v, height, width, rng)
    scroll = _scroll_offsets(rng, kind, t)
    content, scale = _scene_content(rng, kind, screen, int(scroll[-1]))
    return _Scene(kind, poses, windows, scroll, content, scale, rng)


def _window_content(scene: _Scene, i: int) -> np.ndarray:
    """Display pixels of frame ``i``'s window: the screen scrolled by the frame's offset, and
    enlarged from the stored content by nearest neighbours when it was downsized."""
    win = scene.windows[i]
    top = win.top + int(scene.scroll[i])
    rows = np.minimum(((np.arange(top, top + win.height) + 0.5) * scene.scale).astype(int),
                      scene.content.shape[0] - 1)
    cols = np.minimum(((np.arange(win.left, win.left + win.width) + 0.5) * scene.scale)
                      .astype(int), scene.content.shape[1] - 1)
    return scene.content[np.ix_(rows, cols)]


def render_clip(seed: int, width: int, height: int, seconds: float, fps: float = 30.0,
                kind: str = "mixed") -> Iterator[ClipFrame]:
    """Frames of the simulated clip ``seed`` names: the same seed gives the same frames.

    ``kind`` is one of ``CONTENT_KINDS``, or ``"mixed"`` for a random kind per scene.
    """
    if kind != "mixed" and kind not in CONTENT_KINDS:
        raise ValueError(f"unknown content kind {kind!r}; use one of {CONTENT_KINDS} or mixed")
    n = frame_count(seconds, fps)
    if n < 1:
        return
    starts = scene_starts(seed, n, fps)
    for scene_index, (start, end) in enumerate(zip(starts, [*starts[1:], n], strict=True)):
        scene = _plan_scene(seed, scene_index, kind, end - start, fps, height, width)
        for i in range(end - start):
            moire, clean = render_pair(_window_content(scene, i), scene.poses[i], height, width,
                                       scene.rng, compress=False)
            yield ClipFrame(moire, clean, start + i, scene_index, scene.kind,
                            int(scene.scroll[i]), scene.poses[i])


def _video_stream(container: av.container.OutputContainer, codec: str, pix_fmt: str,
                  rate: Fraction, width: int, height: int, options: dict[str, str]):
    stream = container.add_stream(codec, rate=rate, options=options)
    stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
    stream.time_base = 1 / rate
    return stream


def _frame(image: np.ndarray, pts: int, rate: Fraction) -> av.VideoFrame:
    """An RGB frame stamped ``pts`` in units of 1/fps."""
    frame = av.VideoFrame.from_ndarray(image, format="rgb24")
    frame.pts, frame.time_base = pts, 1 / rate
    return frame


def write_clip(out_path: str | os.PathLike, clean_path: str | os.PathLike, width: int,
               height: int, seconds: float, fps: float = 30.0, kind: str = "mixed",
               seed: int = 0, crf: int = 20, progress: bool = False) -> dict:
    """Write the clip ``seed`` names: moiré as H.264 (yuv420p, the phone's own compression) in
    ``out_path`` (.mp4), and the clean twin losslessly as FFV1 in ``clean_path`` (.mkv).

    FFV1 stores 8-bit RGB as ``bgr0``, a reordering of rgb24, so the clean twin decodes to the
    exact frames ``render_clip`` made. Frame ``i`` of both files is at ``i / fps`` (the MP4's
    time base is exactly 1/fps; Matroska's is 1 ms). Both files appear atomically.
    Returns a summary: frames, scenes, the scenes' content kinds, seed, size, kind, fps.
    """
    if width % 2 or height % 2 or width < 2 or height < 2:
        raise ValueError(f"size {width}x{height}: H.264 yuv420p needs even, positive sides")
    n = frame_count(seconds, fps)
    if n < 1:
        raise ValueError(f"{seconds} s at {fps} fps is not one frame")
    rate = Fraction(fps).limit_denominator(1001)
    scene_kinds: dict[int, str] = {}
    bar = tqdm(total=n, unit="frame", disable=not (progress and sys.stderr.isatty()))
    with (bar, written_whole(Path(out_path), Path(clean_path)) as (tmp_out, tmp_clean),
          av.open(str(tmp_out), "w", format="mp4",
                  options={"video_track_timescale": str(rate.numerator)}) as moire_file,
          av.open(str(tmp_clean), "w", format="matroska") as clean_file):
        moire_stream = _video_stream(moire_file, "libx264", "yuv420p", rate, width, height,
                                     {"crf": str(crf)})
        clean_stream = _video_stream(clean_file, "ffv1", "bgr0", rate, width, height, {})
        for frame in render_clip(seed, width, height, seconds, fps, kind):
            moire_file.mux(moire_stream.encode(_frame(frame.moire, frame.index, rate)))
            clean_file.mux(clean_stream.encode(_frame(frame.clean, frame.index, rate)))
            scene_kinds[frame.scene] = frame.kind
            bar.update()
        moire_file.mux(moire_stream.encode())  # flush the encoders' delayed frames
        clean_file.mux(clean_stream.encode())
    return {"frames": n, "scenes": len(scene_kinds), "scene_kinds": list(scene_kinds.values()),
            "seed": seed, "size": [width, height], "fps": float(fps), "kind": kind,
            "out": str(out_path), "clean": str(clean_path)}
